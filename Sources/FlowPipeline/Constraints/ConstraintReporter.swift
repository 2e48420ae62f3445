#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowAtomics

/// Reports, every interval, what each stage of a pipeline did and which one
/// is the constraint, as stable key=value lines handed to a handler (a
/// logger, the terminal); at the end, a summary and a run-level verdict.
///
/// ```swift
/// let reporter = try ConstraintReporter(topology: frozen, interval: .milliseconds(500)) { line in print(line) }
/// let reporting = Task { await reporter.run() }   // ends when `reporting` is cancelled
/// // … the pipeline runs …
/// reporting.cancel()
/// for line in reporter.summary() { print(line) }
/// print("bottleneck:", reporter.bottleneck ?? "none")
/// ```
///
/// Every tick emits, in this order (format version 1; documented in
/// docs/Constraints.md, parsed by ``ConstraintReportLine``):
///
///     flow.stage t=<s> stage=<name> tput=<items/s> good=<items/s> util=<0..1> depth=<n>/<capacity> zone=<green|yellow|red> workers=<active>/<target> errors=<n> wip=<admitted>/<maxWIP> constraint=<yes|no>
///     flow.constraint t=<s> stage=<name|-> step=<focusing step> starving=<yes|no>
///     flow.rope t=<s> drum=<name> length=<n> wip=<n> goodput=<items/s> flow_ms=<ms> head_wip=<n>     (with a rope)
///     flow.memory t=<s> rss_mib=<MiB|-> avail_mib=<MiB|-> zone=<green|yellow|red|unknown>
///
/// It never blocks the stages: it only takes stats snapshots (each a short
/// lock of one stage), and calls the handler on its own task with no lock held.
public final class ConstraintReporter: Sendable {
    /// The analyser behind the verdicts (its counts make ``bottleneck``).
    public let analyzer: ConstraintAnalyzer
    /// Time between ticks of ``run()``.
    public let interval: Duration
    /// The rope whose state is reported (and which makes the step "subordinate").
    public let rope: RopeController?
    let handler: @Sendable (String) -> Void
    let memory: @Sendable () -> ProcessMemory

    struct State {
        var elapsed: Duration = .zero
        var ticks = 0
        var peakResident: Int?
    }

    let state = Locked(State())
    /// The `run()` loop.
    let loop = TickLoop()

    /// A reporter over `topology`, ticking every `interval` in ``run()``,
    /// sending each line to `handler`. `memory` reads the process memory
    /// (injectable for tests). Throws ``FlowError`` for an interval ≤ 0.
    public init(topology: FrozenTopology, interval: Duration = .seconds(1), criteria: ConstraintCriteria = .standard,
                rope: RopeController? = nil,
                memory: @escaping @Sendable () -> ProcessMemory = { ProcessMemory.current() },
                handler: @escaping @Sendable (String) -> Void) throws(FlowError) {
        guard interval > .zero else { throw .invalid("interval", interval, "must be positive") }
        analyzer = ConstraintAnalyzer(topology: topology, criteria: criteria)
        self.interval = interval
        self.rope = rope
        self.memory = memory
        self.handler = handler
    }

    /// A handler that prints each line to standard output.
    public static let standardOutput: @Sendable (String) -> Void = { print($0) }

    /// A handler that writes each line to standard error.
    public static let standardError: @Sendable (String) -> Void = { line in
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// The topology reported on.
    public var topology: FrozenTopology { analyzer.topology }

    /// One report: samples the stages (over `elapsed`, or the time since the
    /// previous tick), sends the lines to the handler and returns them.
    @discardableResult
    public func tick(elapsed: Duration? = nil) -> [String] {
        let ropeStats = rope?.stats
        let verdict = analyzer.sample(elapsed: elapsed, ropeActive: ropeStats != nil)
        let mem = memory()
        let t = state.withLock { s -> Duration in
            s.elapsed += verdict.elapsed
            s.ticks += 1
            if let r = mem.resident { s.peakResident = max(s.peakResident ?? 0, r) }
            return s.elapsed
        }
        let lines = Self.lines(verdict: verdict, at: t, rope: ropeStats, drum: rope?.drum, memory: mem,
                               zones: analyzer.criteria.zones)
        for line in lines { handler(line) }
        return lines
    }

    static func lines(verdict: ConstraintVerdict, at t: Duration, rope: RopeStats?, drum: String?,
                      memory: ProcessMemory, zones: BufferZones) -> [String] {
        let f = ConstraintFormat.self
        let time = "t=" + f.seconds(t)
        var lines: [String] = []
        for e in verdict.stages {
            let i = e.interval
            lines.append("flow.stage \(time) stage=\(e.stage) tput=\(f.fixed(i.throughput, 1)) good=\(f.fixed(i.goodput, 1))"
                         + " util=\(f.fixed(i.utilization, 2)) depth=\(i.bufferedDepth)/\(i.queueCapacity) zone=\(e.zone)"
                         + " workers=\(i.activeWorkers)/\(i.targetWorkers) errors=\(i.failed)"
                         + " wip=\(i.admitted)/\(i.maxWIP) constraint=\(verdict.constraint == e.stage ? "yes" : "no")")
        }
        lines.append("flow.constraint \(time) stage=\(verdict.constraint ?? "-") step=\(verdict.step)"
                     + " starving=\(verdict.starving ? "yes" : "no")")
        if let rope, let drum {
            lines.append("flow.rope \(time) drum=\(drum) length=\(rope.length) wip=\(rope.wip)"
                         + " goodput=\(f.fixed(rope.drumGoodput, 1)) flow_ms=\(f.fixed(rope.upstreamFlowTime.seconds * 1000, 2))"
                         + " head_wip=\(rope.headAppliedWIP)")
        }
        lines.append("flow.memory \(time) rss_mib=\(f.mebibytes(memory.resident)) avail_mib=\(f.mebibytes(memory.available))"
                     + " zone=\(memory.zone(zones))")
        return lines
    }

    /// Ticks every ``interval`` until the calling task is cancelled. Returns
    /// false at once (doing nothing) when another `run()` is already going.
    @discardableResult
    public func run() async -> Bool {
        await loop.run(every: interval) { tick() }
    }

    /// The run-level verdict: the stage named the constraint in the most
    /// ticks, or, without any, the constraint of the whole run's cumulative
    /// stats (see ``ConstraintAnalyzer/bottleneck``). Nil when no stage was saturated.
    public var bottleneck: String? { analyzer.bottleneck }

    /// The verdict of the last tick (nil before the first).
    public var lastVerdict: ConstraintVerdict? { analyzer.lastVerdict }

    /// Final summary lines over the whole run (cumulative stats since the
    /// reporter was made), without sending them to the handler:
    ///
    ///     flow.summary stage=<name> items=<completed> failed=<n> tput=<items/s> util=<0..1> constraint_ticks=<k>/<ticks>
    ///     flow.summary bottleneck=<name|-> ticks=<n> elapsed=<s> peak_rss_mib=<MiB|->
    ///
    /// `elapsed` overrides the run's length (see ``ConstraintAnalyzer/cumulative(elapsed:)``).
    public func summary(elapsed: Duration? = nil) -> [String] {
        let whole = analyzer.cumulative(elapsed: elapsed)
        let counts = analyzer.constraintCounts
        let (ticks, peak) = state.withLock { ($0.ticks, $0.peakResident) }
        let f = ConstraintFormat.self
        var lines: [String] = []
        for e in whole.stages {
            let i = e.interval
            lines.append("flow.summary stage=\(e.stage) items=\(i.completed) failed=\(i.failed)"
                         + " tput=\(f.fixed(i.throughput, 1)) util=\(f.fixed(i.utilization, 2))"
                         + " constraint_ticks=\(counts[e.stage] ?? 0)/\(ticks)")
        }
        lines.append("flow.summary bottleneck=\(bottleneck ?? "-") ticks=\(ticks) elapsed=\(f.seconds(whole.elapsed))"
                     + " peak_rss_mib=\(f.mebibytes(peak))")
        return lines
    }

    /// Sends ``summary(elapsed:)`` to the handler and returns it.
    @discardableResult
    public func finish(elapsed: Duration? = nil) -> [String] {
        let lines = summary(elapsed: elapsed)
        for line in lines { handler(line) }
        return lines
    }
}

/// One parsed report line: its kind (`flow.stage`, `flow.constraint`,
/// `flow.rope`, `flow.memory`, `flow.summary`) and its key=value fields.
public struct ConstraintReportLine: Sendable, Equatable {
    /// The first word, e.g. `flow.stage`.
    public let kind: String
    /// The fields by key.
    public let fields: [String: String]

    /// Parses `line`; nil when it is not a report line (a first word not
    /// starting with `flow.`, or a later word that is not `key=value`).
    public init?(_ line: String) {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first, first.hasPrefix("flow.") else { return nil }
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else { return nil }
            fields[String(word[..<eq])] = String(word[word.index(after: eq)...])
        }
        kind = String(first)
        self.fields = fields
    }

    /// The value of `key`.
    public subscript(key: String) -> String? { fields[key] }

    /// The value of `key` as a number (nil when absent or not a number, e.g. `-`).
    public func number(_ key: String) -> Double? { fields[key].flatMap { Double($0) } }
}
