/// A snapshot of a `Pipeline` run: counts, workers, tasks, progress
/// counters. `Pipeline.progress()` returns one.
///
/// The counts come from one pass over the run's tasks (`GraphMonitor`), so
/// at every sample
///
/// ```text
/// completed + running + queued + failed + skipped == total
/// ```
///
/// (`skipped` is zero in a run where nothing failed and nothing was
/// cancelled). Once the run finished, every task is completed, failed or
/// skipped, and the counts match `Pipeline.report()`.
public struct PipelineProgress: Sendable, CustomStringConvertible {
    /// One task (graph node): name, index, state, the worker running it,
    /// how long it was ready before it started and how long it ran.
    public typealias TaskSnapshot = GraphMonitor.NodeSnapshot

    /// One worker of the compute executor and the task it is running.
    public struct WorkerProgress: Sendable {
        /// The executor's view: index, state (idle or not), queue depth, counters.
        public let worker: ExecutorSnapshot.Worker
        /// The synchronous task running on it, else the name of the
        /// closure it runs when it has one; nil when idle.
        public let currentTask: String?

        /// The worker's index in the executor.
        public var id: Int { worker.index }
        /// True when it is not running work.
        public var isIdle: Bool { worker.isIdle }
        /// Work waiting in its own queue.
        public var queueDepth: Int { worker.queueDepth }
    }

    /// A `ProgressCounter`'s value: finer-grained units of work inside tasks.
    public struct Units: Sendable, Equatable {
        /// The counter's label, e.g. "chunks".
        public let label: String
        /// Units done.
        public let completed: Int
        /// Units announced (`addTotal`).
        public let total: Int

        /// A counter value.
        public init(label: String, completed: Int, total: Int) {
            self.label = label
            self.completed = completed
            self.total = total
        }
    }

    /// The pipeline's name.
    public let pipeline: String
    /// The graph's name.
    public let graph: String
    /// Tasks in the graph.
    public let total: Int
    /// Tasks that succeeded.
    public let completed: Int
    /// Tasks running (an `async` task counts while it awaits).
    public let running: Int
    /// Tasks not started: waiting for their inputs, or ready.
    public let queued: Int
    /// Of `queued`, tasks whose inputs are all done.
    public let ready: Int
    /// Tasks that failed (threw or timed out).
    public let failed: Int
    /// Tasks not run (or cancelled while running): after a failure, or when
    /// the run was cancelled.
    public let skipped: Int
    /// Time since the run started (its whole duration, once finished).
    public let elapsed: Duration
    /// True once the run finished.
    public let isFinished: Bool
    /// The compute executor's workers (empty in a value made by hand).
    public let workers: [WorkerProgress]
    /// Every task, in index order.
    public let tasks: [TaskSnapshot]
    /// The pipeline's progress counters (`Pipeline.progressCounter(_:)`), by label.
    public let units: [Units]

    /// A progress value from counts: what `Pipeline.progress()` builds, and
    /// what tests of `bar(width:)` use.
    public init(pipeline: String, graph: String, counts: GraphMonitor.Counts, elapsed: Duration,
                isFinished: Bool = false, workers: [WorkerProgress] = [], tasks: [TaskSnapshot] = [],
                units: [Units] = []) {
        self.pipeline = pipeline
        self.graph = graph
        total = counts.total
        completed = counts.succeeded
        running = counts.running
        queued = counts.waiting + counts.ready
        ready = counts.ready
        failed = counts.failed
        skipped = counts.skipped + counts.cancelled
        self.elapsed = elapsed
        self.isFinished = isFinished
        self.workers = workers
        self.tasks = tasks
        self.units = units
    }

    /// Tasks finished, whatever the outcome.
    public var finished: Int { completed + failed + skipped }

    /// How far the run is, in 0...1: finished tasks, plus, for each progress
    /// counter under way (0 < completed < total), its fraction of one
    /// running task (at most `running` tasks' worth in all), over `total`.
    /// So the bar moves while one long task advances a counter.
    public var fraction: Double {
        guard total > 0 else { return 1 }
        if isFinished { return Double(finished) / Double(total) }
        var partial = 0.0
        for u in units where u.total > 0 && u.completed > 0 && u.completed < u.total {
            partial += Double(u.completed) / Double(u.total)
        }
        return min(1, (Double(finished) + min(partial, Double(running))) / Double(total))
    }

    /// `fraction` as a percentage.
    public var percent: Double { fraction * 100 }

    /// `40/64 tasks done (1 failed, 0 skipped), 1 running, 23 queued, chunks 120/512`.
    public var description: String {
        var text = "\(finished)/\(total) tasks done (\(failed) failed, \(skipped) skipped), \(running) running, \(queued) queued"
        for u in units { text += ", \(u.label) \(u.completed)/\(u.total)" }
        return text
    }

    /// The one-line progress bar, at most `width` characters:
    ///
    /// ```text
    /// [#########.....] 63% 40/64 tasks · 1 running · 2.1 s · chunks 120/512
    /// ```
    ///
    /// The bar takes what the text leaves, 10 to 40 cells; `failed` and
    /// `skipped` appear when not zero. A pure function of the value.
    public func bar(width: Int) -> String {
        let percent = Int((fraction * 100).rounded(.down))
        var text = " \(percent)% \(finished)/\(total) tasks · \(running) running"
        if failed > 0 { text += " · \(failed) failed" }
        if skipped > 0 { text += " · \(skipped) skipped" }
        text += " · " + PipelineProgress.seconds(elapsed)
        for u in units { text += " · \(u.label) \(u.completed)/\(u.total)" }
        let cells = max(10, min(40, width - text.count - 2))
        let filled = min(cells, Int((fraction * Double(cells)).rounded(.down)))
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: cells - filled) + "]" + text
        return line.count > width ? String(line.prefix(max(0, width))) : line
    }

    /// `2.1 s`: tenths of a second.
    static func seconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        let tenths = max(0, s) * 10 + (s >= 0 ? atto / 100_000_000_000_000_000 : 0)
        return "\(tenths / 10).\(tenths % 10) s"
    }
}
