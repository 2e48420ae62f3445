extension GraphPlan {
    /// Runs the graph on `executor` and returns its results.
    ///
    /// - Parameters:
    ///   - errorPolicy: `.failFast` (default) or `.continue`.
    ///   - recordsTimings: records each node's start and end (two clock
    ///     reads per node), for `GraphRun.duration(of:)`, `nodes`, the
    ///     timed critical path and rendered durations. Off by default.
    ///   - monitor: a live view of this run (`GraphMonitor(plan: self)`,
    ///     one per run), readable from any thread while it goes on. Nil
    ///     (default): the run pays nothing for monitoring.
    ///   - asyncTimeout: the deadline of every `async` node that has no
    ///     `NodeOptions.timeout` of its own: past it the node is cancelled
    ///     and fails with `FlowError.timedOut` (nil, the default: none).
    /// - Throws: `GraphError` when a node failed (partial results in its
    ///   `run`); `CancellationError` when the calling task was cancelled
    ///   (nodes not started by then do not run; running async bodies are
    ///   cancelled); `FlowError` for an affinity outside the executor or an
    ///   executor that is shut down.
    public func run(
        on executor: Executor, errorPolicy: ErrorPolicy = .failFast, recordsTimings: Bool = false,
        monitor: GraphMonitor? = nil, asyncTimeout: Duration? = nil
    ) async throws -> GraphRun {
        try check(for: executor)
        try Task.checkCancellation()
        let execution = GraphExecution(plan: self, executor: executor, errorPolicy: errorPolicy,
                                       recordsTimings: recordsTimings, monitor: monitor,
                                       asyncTimeout: asyncTimeout)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                execution.waiter.withLock { $0 = .continuation(continuation) }
                execution.start()
            }
        } onCancel: {
            execution.cancel()
        }
        return try execution.result()
    }

    /// Runs the graph, blocking the calling thread until it finished. For
    /// threads outside the executor; a worker of `executor` must not wait
    /// for its own pool (use `run(on:)` from a task instead). `monitor`: as
    /// for `run(on:errorPolicy:recordsTimings:monitor:)`.
    public func runBlocking(
        on executor: Executor, errorPolicy: ErrorPolicy = .failFast, recordsTimings: Bool = false,
        monitor: GraphMonitor? = nil, asyncTimeout: Duration? = nil
    ) throws -> GraphRun {
        precondition(!executor.isCurrentThreadWorker,
                     "GraphPlan.runBlocking(on:) called on a worker of executor '\(executor.name)': it would wait for its own pool; use `await run(on:)`")
        try check(for: executor)
        let execution = GraphExecution(plan: self, executor: executor, errorPolicy: errorPolicy,
                                       recordsTimings: recordsTimings, monitor: monitor,
                                       asyncTimeout: asyncTimeout)
        let parker = Parker()
        execution.waiter.withLock { $0 = .parker(parker) }
        execution.start()
        // Until `finish` took the waiter: after that it touches nothing of
        // the run, which node jobs reach unretained (`submitNode`).
        while !execution.hasFinished { parker.park() }
        return try execution.result()
    }

    /// Options that depend on the executor: affinities must name a worker.
    private func check(for executor: Executor) throws(FlowError) {
        for (node, options) in options {
            if let affinity = options.affinity, affinity >= executor.workerCount {
                throw .invalid("affinity", affinity,
                               "of node '\(displayName(Int(node)))' must be a worker index in 0..<\(executor.workerCount) of executor '\(executor.name)'")
            }
        }
    }
}

extension TaskGraph {
    /// Validates and freezes the graph (`freeze()`), then runs the plan on
    /// `executor`; see `GraphPlan.run(on:errorPolicy:recordsTimings:)`.
    /// Each run starts from fresh state, so a graph can run many times.
    nonisolated(nonsending)
    public func run(
        on executor: Executor, errorPolicy: ErrorPolicy = .failFast, recordsTimings: Bool = false
    ) async throws -> GraphRun {
        let plan = try freeze()
        return try await plan.run(on: executor, errorPolicy: errorPolicy, recordsTimings: recordsTimings)
    }

    /// Validates and freezes the graph, then runs it blocking the calling
    /// thread; see `GraphPlan.runBlocking(on:errorPolicy:recordsTimings:)`.
    public func runBlocking(
        on executor: Executor, errorPolicy: ErrorPolicy = .failFast, recordsTimings: Bool = false
    ) throws -> GraphRun {
        try freeze().runBlocking(on: executor, errorPolicy: errorPolicy, recordsTimings: recordsTimings)
    }
}
