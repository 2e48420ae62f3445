import Dispatch

/// Runs task graphs on executors it owns, with a watchdog wired to them.
///
/// ```swift
/// let pipeline = try Pipeline(PipelineConfig().name("etl").taskTimeout(.seconds(30)))
/// let graph = TaskGraph("etl")
/// let rows = graph.task("extract") { try readRows() }
/// let total = graph.task("sum", after: rows) { $0.reduce(0, +) }
/// let run = try await pipeline.run(graph)      // or pipeline.execute(graph) from main()
/// print(run[total]!, pipeline.report()!)
/// ```
///
/// A pipeline owns a compute executor (`computeThreads` workers), an
/// optional I/O executor (`ioThreads`) for blocking work, and a watchdog.
/// `shutdown()` (or dropping the pipeline) stops them.
///
/// The wiring: with a `taskTimeout` (or a trace), each executor's observer
/// watches every unit of work from start to end; stall detection samples
/// the executors' counters of work finished, queued and running.
///
/// - A unit of work past `taskTimeout` is reported once by the watchdog
///   (`events`). The graph scheduler runs a chain of nodes as one unit, and
///   a synchronous node cannot be interrupted; so after the run, every node
///   whose own duration exceeded `taskTimeout` is named: under `.failFast`
///   the run throws `FlowError.timedOut(what: "task 'slow'", …)`; under
///   `.continue` the run returns and the names are in `report().timedOut`.
///   An `async` node's awaits are not work on a worker, so the graph
///   enforces `taskTimeout` on it directly (unless it has a
///   `NodeOptions(timeout:)` of its own): at the deadline it is cancelled
///   and fails, and the run names it the same way.
/// - Past `globalTimeout` the run is cancelled (nodes not started do not
///   run, running `async` nodes are cancelled) and throws
///   `FlowError.timedOut(what: "pipeline '…' running graph '…'", …)`.
/// - When no unit of work finishes for `idleTimeout` while a run is in
///   flight, the watchdog reports a stall and `isResponsive` is false until
///   work moves again.
///
/// Progress: with `config.progress` other than `.off`, each run gets a
/// `GraphMonitor`; `progress()` reads it (counts that add up at every
/// sample, per worker, per task, `progressCounter` units), and a callback
/// or the terminal bar is fed from a task that sleeps between reports and
/// ends with the run.
public final class Pipeline: Sendable {
    /// The configuration the pipeline was built with.
    public let config: PipelineConfig
    /// Runs the graphs' nodes.
    public let computeExecutor: Executor
    /// For blocking work (`Task(executorPreference: pipeline.ioExecutor!)`,
    /// `ioExecutor.submit`); nil when `ioThreads` is 0.
    public let ioExecutor: Executor?
    /// The watchdog; nil when `config.watchdog` is false.
    public let watchdog: Watchdog?

    private let runs: PipelineRuns
    private let computeObserver: WorkObserver?
    private let counters = Locked<[ProgressCounter]>([])
    private let terminal = TerminalProgress.standardError

    /// Validates `config` and starts the executors and the watchdog.
    ///
    /// - Parameter clock: the watchdog's clock; tests pass `.manual(clock)`
    ///   to drive stall detection deterministically.
    /// - Throws: `FlowError.invalidArgument` naming the first invalid field.
    public init(_ config: PipelineConfig = PipelineConfig(), clock: WatchdogClock = .monotonic) throws(FlowError) {
        try config.validate()
        self.config = config
        let runs = PipelineRuns()
        self.runs = runs
        computeExecutor = try Executor(.init(workers: config.computeThreads, name: config.name))
        ioExecutor = config.ioThreads > 0 ? try Executor(.init(workers: config.ioThreads, name: config.name + "-io")) : nil
        let watchdog = config.watchdog
            ? try Watchdog(configuration: .init(threadName: String((config.name + "-watchdog").prefix(15))), clock: clock) { event, _ in
                runs.handle(event)
            }
            : nil
        self.watchdog = watchdog
        if let path = config.trace, let errno = ChromeTrace.write("", to: path) {
            throw .invalid("trace", path, "cannot be written (errno \(errno))")
        }
        // The observer is only set when something needs each unit of work:
        // task timeouts or a trace. Without one the executors' hot path pays
        // one load and a branch per unit.
        let observes = watchdog != nil && config.taskTimeout != nil || config.trace != nil
        computeObserver = observes
            ? WorkObserver(executor: computeExecutor, watchdog: watchdog, timeout: config.taskTimeout,
                           recordsSlices: config.trace != nil)
            : nil
        if let computeObserver { computeExecutor.setObserver(computeObserver) }
        if observes, let ioExecutor {
            ioExecutor.setObserver(WorkObserver(executor: ioExecutor, watchdog: watchdog, timeout: config.taskTimeout))
        }
        if let watchdog {
            // Stall detection samples the executors' own counters (at most
            // once a second): work finished, and work queued or running.
            let check = max(.milliseconds(1), min(config.idleTimeout / 4, .seconds(1)))
            let executors = [computeExecutor] + (ioExecutor.map { [$0] } ?? [])
            try watchdog.monitorProgress(checkEvery: check, stallAfter: config.idleTimeout,
                                         deadlockAfter: config.deadlockTimeout) {
                var done = 0, pending = runs.activeCount.load(ordering: .relaxed)
                for executor in executors {
                    let snapshot = executor.snapshot()
                    done &+= snapshot.executed
                    pending += snapshot.queued + snapshot.workers.count { !$0.isIdle }
                }
                return (done, pending)
            }
        }
    }

    // MARK: - Running

    /// Validates and freezes `graph`, runs it on the compute executor and
    /// returns its results; see the type's documentation for timeouts.
    ///
    /// - Throws: `GraphError` when a node failed (its `run` holds the partial
    ///   results); `FlowError.timedOut` past `taskTimeout` (under
    ///   `.failFast`) or `globalTimeout`; `CancellationError` when the calling
    ///   task was cancelled; `FlowError` for an invalid graph.
    nonisolated(nonsending)
    public func run(_ graph: TaskGraph) async throws -> GraphRun {
        let plan = try graph.freeze()
        return try await run(plan)
    }

    /// Runs a frozen plan; see `run(_:)` taking a `TaskGraph`.
    public func run(_ plan: GraphPlan) async throws -> GraphRun {
        let executor = computeExecutor
        let policy = config.errorPolicy
        let tracing = config.trace != nil
        let timings = config.timings || config.taskTimeout != nil || tracing
        let monitor = config.progress.tracks ? GraphMonitor(plan: plan) : nil
        let asyncTimeout = config.watchdog ? config.taskTimeout : nil
        // A tracked run is registered before its task exists, so that
        // `progress()` sees it before any of its tasks runs; an untracked
        // one once its task exists (one locked section, as before progress).
        let tracked = monitor.map { runs.begin(monitor: $0, cancel: nil) }
        let task = Task(executorPreference: executor) { () -> RunOutcome in
            let before = tracing ? monotonicNanoseconds() : 0
            let result: Result<GraphRun, any Error>
            do {
                result = .success(try await plan.run(on: executor, errorPolicy: policy, recordsTimings: timings,
                                                     monitor: monitor, asyncTimeout: asyncTimeout))
            } catch {
                result = .failure(error)
            }
            return RunOutcome(result: result, before: before, after: tracing ? monotonicNanoseconds() : 0)
        }
        let key: UInt64
        if let tracked {
            key = tracked
            runs.setCancel({ task.cancel() }, for: key)
        } else {
            key = runs.begin(monitor: nil) { task.cancel() }
        }
        let reporter = monitor.flatMap(startReporting)
        if let globalTimeout = config.globalTimeout, let watchdog,
           let token = try? watchdog.watch(name: "pipeline '\(config.name)' run", timeout: globalTimeout) {
            runs.setDeadline(token, for: key)
        }
        let outcome = await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            task.cancel()
        }
        let globalTimedOut = runs.end(key)
        let result = Result { try conclude(plan, outcome, globalTimedOut: globalTimedOut) }
        if let monitor { await finishReporting(reporter, monitor) }
        return try result.get()
    }

    /// What the task running a graph hands back: the outcome, and the
    /// clock around `GraphPlan.run` (for the trace; 0 without one).
    private struct RunOutcome: Sendable {
        let result: Result<GraphRun, any Error>
        let before: UInt64
        let after: UInt64
    }

    /// Runs `graph` and blocks the calling thread until it finished: the
    /// entry point for command-line tools. Must not be called from a worker
    /// of `computeExecutor`. Same results and errors as `run(_:)`.
    public func execute(_ graph: TaskGraph) throws -> GraphRun {
        try execute(graph.freeze())
    }

    /// Runs a frozen plan blocking the calling thread; see `execute(_:)` taking a `TaskGraph`.
    public func execute(_ plan: GraphPlan) throws -> GraphRun {
        precondition(!computeExecutor.isCurrentThreadWorker,
                     "Pipeline.execute(_:) called on a worker of pipeline '\(config.name)': it would wait for its own pool; use `await run(_:)`")
        let outcome = Locked<Result<GraphRun, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: computeExecutor) {
            let result: Result<GraphRun, any Error>
            do { result = .success(try await self.run(plan)) } catch { result = .failure(error) }
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return try outcome.withLock { $0! }.get()
    }

    /// Turns the graph's outcome into the pipeline's: records the report,
    /// names slow tasks, maps a global timeout to `FlowError.timedOut`.
    private func conclude(_ plan: GraphPlan, _ outcome: RunOutcome, globalTimedOut: Bool) throws -> GraphRun {
        let result = outcome.result
        var graphRun: GraphRun?
        switch result {
        case .success(let run): graphRun = run
        case .failure(let error as GraphError): graphRun = error.run
        case .failure: break
        }
        var slow: [String] = []
        if let graphRun, let limit = config.taskTimeout {
            // A node with a timeout of its own is governed by it (the graph enforces it).
            slow = graphRun.nodes.filter { node in
                plan.options(ofNodeAt: node.index).timeout == nil && (node.duration ?? .zero) > limit
            }.map(\.name)
        }
        let report = graphRun.map { PipelineReport(pipeline: config.name, run: $0, timedOut: slow) }
        runs.state.withLock { $0.lastReport = report }
        if let path = config.trace {
            let slices = computeObserver?.takeSlices() ?? []
            if let graphRun {
                let trace = RunTrace(pipeline: config.name, executor: computeExecutor.name, run: graphRun, slices: slices,
                                     earliest: outcome.before, latest: outcome.after).build()
                if let errno = ChromeTrace.write(trace.json(process: "pipeline '\(config.name)' graph '\(plan.name)'"), to: path) {
                    throw FlowError.rejected(operation: "trace", reason: "cannot write '\(path)' (errno \(errno))")
                }
            }
        }
        if globalTimedOut, let limit = config.globalTimeout {
            throw FlowError.timedOut(what: "pipeline '\(config.name)' running graph '\(plan.name)'", after: limit)
        }
        if !slow.isEmpty, config.errorPolicy == .failFast, let limit = config.taskTimeout {
            let names = slow.map { "'\($0)'" }.joined(separator: ", ")
            throw FlowError.timedOut(what: (slow.count == 1 ? "task " : "tasks ") + names, after: limit)
        }
        return try result.get()
    }

    // MARK: - Progress

    /// The progress of the latest run in flight; when none is, the final
    /// progress of the last run (which matches `report()`). Nil when
    /// `config.progress` is `.off`, before the first run, and after a run
    /// that did not start (refused, or cancelled before it began).
    ///
    /// Counts add up at every sample: `completed + running + queued +
    /// failed + skipped == total` (see `PipelineProgress`). Cost: one pass
    /// over the run's tasks and edges, and an executor snapshot.
    public func progress() -> PipelineProgress? {
        runs.currentMonitor().map(progress(of:))
    }

    /// A counter of units of work (chunks, rows, files) that a long task
    /// advances, shown in `progress().units` and on the terminal bar.
    /// The same label gives the same counter; counters live as long as the
    /// pipeline and accumulate over its runs (see `ProgressCounter`).
    public func progressCounter(_ label: String) -> ProgressCounter {
        counters.withLock { list in
            if let existing = list.first(where: { $0.label == label }) { return existing }
            let counter = ProgressCounter(label: label)
            list.append(counter)
            return counter
        }
    }

    private func progress(of monitor: GraphMonitor) -> PipelineProgress {
        let snapshot = monitor.snapshot()
        var current: [Int: String] = [:]
        for task in snapshot.nodes where task.phase == .running {
            if let worker = task.worker { current[worker] = task.name }
        }
        let workers = computeExecutor.snapshot().workers.map { worker in
            PipelineProgress.WorkerProgress(worker: worker,
                                            currentTask: current[worker.index] ?? (worker.isIdle ? nil : worker.currentTaskName))
        }
        let units = counters.withLock { $0 }.map(\.units)
        return PipelineProgress(pipeline: config.name, graph: monitor.plan.name, counts: snapshot.counts,
                                elapsed: snapshot.elapsed, isFinished: snapshot.isFinished, workers: workers,
                                tasks: snapshot.nodes, units: units)
    }

    /// Starts the task that reports a run's progress every interval (nil
    /// when nothing is reported, or for `.terminal` when standard error is
    /// not a terminal). It sleeps between reports (no thread spins) and
    /// ends when cancelled.
    private func startReporting(_ monitor: GraphMonitor) -> Task<Void, Never>? {
        guard let interval = config.progress.interval else { return nil }
        let report: @Sendable (PipelineProgress) -> Void
        switch config.progress {
        case .callback(_, let handler): report = handler.body
        case .terminal:
            guard terminal.isTerminal else { return nil }
            let terminal = terminal
            report = { terminal.draw($0, final: false) }
        case .off, .polled: return nil
        }
        return Task.detached { [self] in
            while true {
                do { try await Task.sleep(for: interval) } catch { return }
                // The final progress is reported once, by finishReporting.
                let now = progress(of: monitor)
                if now.isFinished { return }
                report(now)
            }
        }
    }

    /// Stops the reporting task (and waits for a report under way), then
    /// reports the final progress once: the callback's last call, or the
    /// bar's last line with a newline.
    private func finishReporting(_ reporter: Task<Void, Never>?, _ monitor: GraphMonitor) async {
        reporter?.cancel()
        await reporter?.value
        guard monitor.isFinished else { return }
        switch config.progress {
        case .callback(_, let handler): handler.body(progress(of: monitor))
        case .terminal: terminal.draw(progress(of: monitor), final: true)
        case .off, .polled: break
        }
    }

    // MARK: - Observing

    /// The report of the last run that produced one (nil before the first,
    /// and after a run cut short by a global timeout or cancellation).
    public func report() -> PipelineReport? { runs.state.withLock { $0.lastReport } }

    /// False while the watchdog sees a stall: work is pending and nothing
    /// has finished for `idleTimeout`. Always true without a watchdog.
    public var isResponsive: Bool { watchdog?.isResponsive ?? true }

    /// The watchdog's recent events (timeouts, stalls), oldest first.
    public var events: [WatchdogEvent] { watchdog?.recentEvents ?? [] }

    /// Runs in flight.
    public var activeRuns: Int { runs.activeCount.load(ordering: .relaxed) }

    // MARK: - Shutdown

    /// Stops the watchdog, then shuts the executors down (they finish the
    /// work they accepted) and joins their threads. Idempotent. Must not be
    /// called from one of the pipeline's workers.
    public func shutdown() {
        watchdog?.stop()
        computeExecutor.shutdown()
        ioExecutor?.shutdown()
    }
}
