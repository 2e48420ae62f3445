import FlowPipeline
import FlowTestSupport
import FlowTraceAnalysis
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A temporary folder removed at the end of the test.
final class TemporaryFolder {
    let path: String
    init() throws { path = try makeTemporaryFolder(prefix: "flow-demo-test") }
    deinit { removeFolder(path) }

    func write(_ name: String, _ text: String) throws {
        let fd = open(path + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let bytes = Array(text.utf8)
        #expect(bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count)
        close(fd)
    }
}

@Suite("Trace analysis", .serialized, .timeLimit(.minutes(2)))
struct AnalysisTests {
    nonisolated func generate(files: Int, events: Int, share: Double, into folder: TemporaryFolder) async throws -> [String] {
        let pipeline = try Pipeline(PipelineConfig().name("generate").computeThreads(2).ioThreads(0))
        defer { pipeline.shutdown() }
        return try await CorpusGenerator(files: files, events: events, seed: 7, malformedShare: share)
            .write(into: folder.path, pipeline: pipeline)
    }

    @Test func parallelEqualsSequentialExactly() async throws {
        try await withTimeLimit(.seconds(60)) {
            let folder = try TemporaryFolder()
            let files = try await generate(files: 6, events: 30_000, share: 0.01, into: folder)
            #expect(files.count == 6)
            var settings = AnalysisSettings()
            settings.threads = 2
            settings.chunkSize = 8192                   // many chunks per file: boundaries matter
            settings.reportInterval = nil
            let run = try await analyseInParallel(files: files, settings: settings)
            let reference = try analyseSequentially(files: files)
            #expect(run.analysis == reference)
            #expect(run.chunks > 6 * 10)

            // Conservation: every generated line is an event, a skipped line or malformed.
            let result = run.analysis
            #expect(result.lines == 30_000 + 6)         // one metadata line per file
            #expect(result.skippedLines == 6)
            #expect(result.events + Int64(result.malformed.count) == 30_000)
            #expect(result.malformed.count > 100 && result.malformed.count < 600)
            #expect(result.functions.reduce(0) { $0 + $1.count } == result.events)
            #expect(result.files.reduce(0) { $0 + $1.events } == result.events)

            // Each malformed line is named by file and line, and is really malformed.
            for m in result.malformed.prefix(40) {
                let text = try lines(of: m.file)[m.line - 1]
                #expect(parseTraceLine(text) == .malformed(m.reason), "\(m)")
            }
        }
    }

    @Test func malformedLinesAreLocatedAcrossChunks() async throws {
        try await withTimeLimit(.seconds(60)) {
            let folder = try TemporaryFolder()
            let good = #"{"name":"read","cat":"POSIX","pid":1,"tid":2,"ts":3,"dur":40,"args":{"fname":"/f","size":10}}"#
            var text = "[\n"
            for i in 1...400 {
                text += i % 97 == 0 ? #"{"name":"read","cat":"POSIX","ts":3}"# : good
                text += ",\n"
            }
            text += "]"
            try folder.write("a.pfw", text)
            try folder.write("b.jsonl", good + "\n\n" + "not json\n" + good)   // no final newline
            try folder.write("notes.txt", "ignored: not a trace file")
            let files = try traceFiles(in: folder.path)
            #expect(files.map { $0.split(separator: "/").last! } == ["a.pfw", "b.jsonl"])
            var settings = AnalysisSettings()
            settings.chunkSize = 4096
            settings.reportInterval = nil
            let run = try await analyseInParallel(files: files, settings: settings)
            let expected = [97, 194, 291, 388].map { MalformedLine(file: files[0], line: $0 + 1, reason: "missing field 'dur'") }
                + [MalformedLine(file: files[1], line: 3, reason: "not a JSON object (starts with 'n')")]
            #expect(run.analysis.malformed == expected)
            #expect(run.analysis.events == 400 - 4 + 2)
            #expect(run.analysis.lines == 402 + 4)
            #expect(run.analysis.functions.map(\.key) == [FunctionKey(category: "POSIX", name: "read")])
            #expect(run.analysis.functions[0].bytes == 398 * 10)
            #expect(run.analysis == (try analyseSequentially(files: files)))
        }
    }

    @Test func percentilesAreNearestRank() async throws {
        try await withTimeLimit(.seconds(30)) {
            let folder = try TemporaryFolder()
            // Durations 1...20 for "x", in a shuffled order.
            let order = [7, 3, 20, 1, 15, 9, 12, 2, 18, 5, 11, 4, 16, 8, 19, 6, 14, 10, 17, 13]
            try folder.write("t.jsonl", order.map { #"{"name":"x","cat":"C","ts":0,"dur":\#($0)}"# }.joined(separator: "\n"))
            var settings = AnalysisSettings()
            settings.reportInterval = nil
            let run = try await analyseInParallel(files: try traceFiles(in: folder.path), settings: settings)
            let row = try #require(run.analysis.functions.first)
            #expect(row.count == 20 && row.totalDuration == 210 && row.meanDuration == 10.5)
            #expect(row.p50 == 10 && row.p95 == 19 && row.maxDuration == 20)
        }
    }

    func lines(of path: String) throws -> [String] {
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }
}
