/// What a finished run of a `Pipeline` did: per-task timings, the critical
/// path, the slowest tasks and the throughput. `Pipeline.report()` returns
/// the report of the last run.
///
/// Timings are recorded when `PipelineConfig.timings` is on (or a
/// `taskTimeout` is set); without them durations are nil, the critical path
/// is the longest chain by task count and the throughput is measured over
/// the run's wall time only.
public struct PipelineReport: Sendable, CustomStringConvertible {
    /// The pipeline's name.
    public let pipeline: String
    /// The graph's name.
    public let graph: String
    /// Wall time of the run.
    public let elapsed: Duration
    /// One entry per task (graph node), in index order. Computed when asked
    /// (a run does not pay for a report nobody reads).
    public var tasks: [NodeReport] { run.nodes }
    /// The longest dependency path (computed when asked).
    public var criticalPath: CriticalPath { run.criticalPath }
    /// Tasks that ran longer than `taskTimeout`.
    public let timedOut: [String]
    /// Every failure of the run.
    public var failures: [NodeFailure] { run.failures }

    private let run: GraphRun

    init(pipeline: String, run: GraphRun, timedOut: [String]) {
        self.pipeline = pipeline
        graph = run.graphName
        elapsed = run.elapsed
        self.run = run
        self.timedOut = timedOut
    }

    /// Tasks that succeeded.
    public var succeeded: Int { tasks.count { $0.state == .succeeded } }

    /// Succeeded tasks per second of wall time (0 for an instant run).
    public var throughput: Double {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return seconds > 0 ? Double(succeeded) / seconds : 0
    }

    /// The `count` tasks that ran longest, longest first (empty without timings).
    public func slowest(_ count: Int = 5) -> [NodeReport] {
        Array(tasks.filter { $0.duration != nil }.sorted { $0.duration! > $1.duration! }.prefix(max(0, count)))
    }

    /// A few lines for a log: totals, throughput, critical path, slowest tasks.
    public var description: String {
        var lines = ["pipeline '\(pipeline)' graph '\(graph)': \(succeeded)/\(tasks.count) tasks succeeded in \(elapsed)"
                     + ", \(Int(throughput.rounded())) tasks/s"]
        if !failures.isEmpty { lines.append("  failed: " + failures.map(\.node).joined(separator: ", ")) }
        if !timedOut.isEmpty { lines.append("  timed out: " + timedOut.joined(separator: ", ")) }
        lines.append("  critical path: " + criticalPath.nodes.joined(separator: " -> ")
                     + (criticalPath.duration.map { " (\($0))" } ?? ""))
        for task in slowest() {
            lines.append("  slow: \(task.name) \(task.duration!)")
        }
        return lines.joined(separator: "\n")
    }
}
