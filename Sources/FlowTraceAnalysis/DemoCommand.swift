import FlowPipeline

/// `flow-demo`: the command-line front of the trace analysis. Separate from
/// `main.swift` so the tests run it in-process, output captured.
public enum DemoCommand {
    /// Exit codes: 0 success, 1 the run failed (or the parallel and
    /// sequential results differ), 2 bad arguments or bad input.
    public static let usageOrInputError: Int32 = 2

    public struct Options: Sendable, Equatable {
        public var input: String?
        public var files = 64
        public var events = 2_000_000
        public var seed: UInt64 = 42
        public var threads = Executor.availableCPUs()
        public var chunkSize = 1 << 20
        public var trace: String?
        public var sequential = false
        public var reportMilliseconds = 250
        public var keep = false
        public var help = false
        public init() {}
    }

    public static let usage = """
        usage: flow-demo [options]

        Analyses I/O trace files (JSON lines of Chrome trace events, as DFTracer
        writes them) with every layer of Flow: a task graph indexes the files in
        parallel, streaming stages read, parse, aggregate and merge their chunks,
        inside a Pipeline with the watchdog on and a live constraint report.
        Prints a table per category and function, the run's figures and the
        bottleneck stage. With no --input it generates a corpus first.

        options:
          --input DIR          analyse the *.jsonl, *.json and *.pfw files in DIR
          --files N            files to generate (default 64)
          --events N           events to generate in all (default 2000000)
          --seed N             seed of the generated corpus (default 42)
          --threads N          compute threads (default: the usable CPUs, \(Executor.availableCPUs()) here)
          --chunk-size BYTES   target chunk size (default 1048576)
          --trace FILE         write the run's Chrome trace (open it in ui.perfetto.dev)
          --sequential         also run a plain single-threaded loop in the same
                               process: compare results and time (speedup)
          --report-interval MS live constraint report every MS ms (default 250, 0: off)
          --keep               keep the generated corpus
          --help               show this and exit

        exit codes: 0 success; 1 the run failed or the results differ;
                    2 bad arguments, a missing folder or an unreadable file.
        """

    /// Parses arguments (without the program name).
    public static func parse(_ arguments: [String]) throws(FlowError) -> Options {
        var options = Options()
        var rest = arguments[...]
        func value(_ flag: String) throws(FlowError) -> String {
            guard let v = rest.popFirst() else { throw .invalid(flag, "(nothing)", "needs a value") }
            return v
        }
        func integer(_ flag: String, _ range: ClosedRange<Int>) throws(FlowError) -> Int {
            let text = try value(flag)
            guard let n = Int(text), range.contains(n) else {
                throw .invalid(flag, text, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--input": options.input = try value(flag)
            case "--files": options.files = try integer(flag, 1...100_000)
            case "--events": options.events = try integer(flag, 0...1_000_000_000)
            case "--seed": options.seed = UInt64(try integer(flag, 0...Int.max))
            case "--threads": options.threads = try integer(flag, 1...1024)
            case "--chunk-size": options.chunkSize = try integer(flag, 4096...(1 << 30))
            case "--trace": options.trace = try value(flag)
            case "--sequential": options.sequential = true
            case "--report-interval": options.reportMilliseconds = try integer(flag, 0...3_600_000)
            case "--keep": options.keep = true
            case "--help", "-h": options.help = true
            default: throw .invalid("argument", flag, "unknown option (see --help)")
            }
        }
        return options
    }

    /// Runs the command; `print` receives each output line (report lines included).
    public static func run(_ arguments: [String], print: @escaping @Sendable (String) -> Void) async -> Int32 {
        let options: Options
        do {
            options = try parse(arguments)
        } catch {
            print("flow-demo: \(error)")
            print("run flow-demo --help for the options")
            return usageOrInputError
        }
        if options.help {
            print(usage)
            return 0
        }
        do {
            return try await analyse(options, print: print)
        } catch let error as TraceInputError {
            print("flow-demo: \(error)")
            return usageOrInputError
        } catch let error as GraphError {
            if let input = error.failures.lazy.compactMap({ $0.error as? TraceInputError }).first {
                print("flow-demo: \(input)")
                return usageOrInputError
            }
            print("flow-demo: the analysis failed: \(error)")
            return 1
        } catch {
            print("flow-demo: the analysis failed: \(error)")
            return 1
        }
    }

    static func analyse(_ options: Options, print: @escaping @Sendable (String) -> Void) async throws -> Int32 {
        let clock = ContinuousClock()
        var files: [String]
        var generated: String?
        if let input = options.input {
            files = try traceFiles(in: input)
            print("flow-demo: analysing \(files.count) trace files in \(input)")
        } else {
            let folder = try makeTemporaryFolder(prefix: "flow-demo")
            generated = folder
            let start = clock.now
            let generator = CorpusGenerator(files: options.files, events: options.events, seed: options.seed)
            let pipeline = try Pipeline(PipelineConfig().name("generate").computeThreads(options.threads).ioThreads(0))
            defer { pipeline.shutdown() }
            files = try await generator.write(into: folder, pipeline: pipeline)
            let bytes = files.reduce(Int64(0)) { total, path in total + ((try? TraceFile(path).size) ?? 0) }
            print("flow-demo: generated \(files.count) trace files, \(options.events) events, \(formatBytes(bytes)) in \(folder) (\(seconds(clock.now - start)))")
        }
        defer {
            if let generated {
                if options.keep { print("flow-demo: kept the corpus in \(generated)") } else { removeFolder(generated) }
            }
        }

        var settings = AnalysisSettings()
        settings.threads = options.threads
        settings.chunkSize = options.chunkSize
        settings.tracePath = options.trace
        settings.reportInterval = options.reportMilliseconds > 0 ? .milliseconds(options.reportMilliseconds) : nil
        settings.reportHandler = { line in print("  \(line)") }
        let run = try await analyseInParallel(files: files, settings: settings)
        let result = run.analysis
        for line in renderTable(result) { print(line) }

        print("")
        print("run: \(result.traceFiles) files, \(formatBytes(result.traceBytes)), \(run.chunks) chunks, \(result.lines) lines, \(options.threads) compute threads")
        print("events: \(result.events) analysed, \(result.skippedLines) skipped (blank or metadata), \(result.malformed.count) malformed")
        let eventsPerSecond = Double(result.events) / max(run.elapsed / .seconds(1), 1e-9)
        print("time: index \(seconds(run.indexTime)), stream \(seconds(run.streamTime)), table \(seconds(run.finishTime)), total \(seconds(run.elapsed))")
        print("throughput: \(fixed(eventsPerSecond / 1e6, 2)) M events/s, \(formatBytes(Int64(Double(result.traceBytes) / max(run.elapsed / .seconds(1), 1e-9))))/s")
        print("stage utilisation: " + run.stageUtilisation.map { "\($0.stage) \(Int(($0.utilisation * 100).rounded()))%" }.joined(separator: ", "))
        print("watchdog: " + (run.watchdogEvents.isEmpty ? "responsive, no events" : run.watchdogEvents.joined(separator: "; ")))
        print("bottleneck: \(run.bottleneck ?? "none (no stage was saturated or backed up)")")
        if let trace = options.trace { print("trace: \(trace) (open it in ui.perfetto.dev)") }

        guard options.sequential else { return 0 }
        let start = clock.now
        let reference = try analyseSequentially(files: files)
        let sequentialTime = clock.now - start
        let same = reference == result
        print("sequential: \(seconds(sequentialTime)) (\(fixed(Double(reference.events) / max(sequentialTime / .seconds(1), 1e-9) / 1e6, 2)) M events/s), results \(same ? "identical" : "DIFFERENT")")
        print("speedup: \(fixed(sequentialTime / run.elapsed, 2))")
        return same ? 0 : 1
    }

    /// The result table: one row per category and function, then the hot
    /// files and the first malformed lines.
    public static func renderTable(_ result: TraceAnalysis) -> [String] {
        var lines: [String] = []
        let header = [pad("category", 9), pad("function", 22), lpad("count", 9), lpad("total ms", 12), lpad("mean µs", 9),
                      lpad("p50 µs", 8), lpad("p95 µs", 8), lpad("bytes", 11)]
        lines.append(header.joined(separator: " "))
        for row in result.functions {
            lines.append([pad(row.key.category, 9), pad(row.key.name, 22), lpad("\(row.count)", 9),
                          lpad(fixed(Double(row.totalDuration) / 1000, 1), 12), lpad(fixed(row.meanDuration, 1), 9),
                          lpad("\(row.p50)", 8), lpad("\(row.p95)", 8),
                          lpad(row.bytes == 0 ? "-" : formatBytes(row.bytes), 11)].joined(separator: " "))
        }
        if !result.files.isEmpty {
            lines.append("")
            lines.append("hot files (most bytes): " + result.files.prefix(3).map { "\($0.name) \(formatBytes($0.bytes)) in \($0.events) calls" }
                .joined(separator: "; "))
        }
        if !result.malformed.isEmpty {
            lines.append("")
            lines.append("malformed lines: \(result.malformed.count) (first \(min(5, result.malformed.count))):")
            for m in result.malformed.prefix(5) { lines.append("  \(m)") }
        }
        return lines
    }
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func lpad(_ s: String, _ width: Int) -> String { s.count >= width ? s : String(repeating: " ", count: width - s.count) + s }

/// `x` with `decimals` digits after the point.
func fixed(_ x: Double, _ decimals: Int) -> String {
    guard x.isFinite else { return "\(x)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let n = Int64((abs(x) * scale).rounded())
    let whole = n / Int64(scale), fraction = n % Int64(scale)
    let sign = x < 0 && n != 0 ? "-" : ""
    guard decimals > 0 else { return "\(sign)\(whole)" }
    return "\(sign)\(whole)." + zeroPadded(Int(fraction), width: decimals)
}

func seconds(_ d: Duration) -> String { fixed(d / .seconds(1), 3) + " s" }

func formatBytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : fixed(value, 1) + " " + units[unit]
}
