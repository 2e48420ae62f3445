// Running scoped nodes (`TaskGraph.scopedTask`).
//
// A scoped node gets a `Scope` of its own (FlowChannels; children run on
// the run's executor, `ScopeErrorPolicy.cancelOnFirstError`, the node's
// `maxConcurrency` as the scope's). The node counts as finished only once
// every child it spawned ended:
//
// - synchronous body: it runs on the worker like any node (no Swift task
//   for the node). When it returns with children still running, the
//   scope's `whenJoined` callback — run by the child that ends last —
//   submits a job that finishes the node and goes on with its successors;
//   when none is left, the node finishes at once and a job goes on with
//   its successors (ExtendedNode.swift).
// - async body: a task, like any async node, that awaits the body and
//   then the scope's `join()`.
//
// Outcome, once the scope is joined: the body's error; else the first
// child error (a failure of the node, named like a body error, under
// either `ErrorPolicy`); else, if the run was cancelled (by its caller or
// fail-fast) and that cut the body or a child short, `.cancelled`; else a
// `CancellationError` the body threw on its own is a failure; else the
// node succeeded (and a synchronous node past its timeout fails).
//
// Cancelling the run cancels the children: every node scope is entered in
// the run's `NodeScopes` while it lives, and `GraphExecution.cancel()` and
// fail-fast (`fail`) call `cancelNodeScopes()`. The registry is made by the
// first that needs it (AtomicLazyReference: one word in the run, nil for
// runs without scoped nodes). Both sides reach it with `load() ??
// storeIfNil(_:)`: the fallback is a read-modify-write, which reads the
// latest value, so a canceller never concludes "no registry" while a node
// has already entered its scope in one. Inside, one lock orders the two:
// a scope entered before `cancelAll` is cancelled by it; one entered after
// sees `cancelled` and is cancelled at once.

/// The scopes of one run's scoped nodes that are running (see above).
final class NodeScopes: Sendable {
    private struct State {
        var cancelled = false
        var live: [ObjectIdentifier: Scope] = [:]
    }

    private let state = Locked(State())

    /// Enters `scope`; cancels it at once when the run was cancelled.
    func add(_ scope: Scope) {
        let cancelNow = state.withLock { s -> Bool in
            if s.cancelled { return true }
            s.live[ObjectIdentifier(scope)] = scope
            return false
        }
        if cancelNow { scope.cancel() }
    }

    func remove(_ scope: Scope) {
        state.withLock { _ = $0.live.removeValue(forKey: ObjectIdentifier(scope)) }
    }

    /// Cancels every scope entered, and every one entered from now on.
    func cancelAll() {
        let scopes = state.withLock { s -> [Scope] in
            s.cancelled = true
            defer { s.live = [:] }
            return Array(s.live.values)
        }
        for scope in scopes { scope.cancel() }
    }
}

extension GraphExecution {
    /// Cancels the children of every scoped node of the run, now and from
    /// now on (cold path: the caller cancelled, or fail-fast; not inlined,
    /// so that `fail` stays the size it was where the chain loop inlines it).
    @inline(never)
    func cancelNodeScopes() {
        (nodeScopes.load() ?? nodeScopes.storeIfNil(NodeScopes())).cancelAll()
    }

    /// A scope for node `extended`, entered in the run's registry.
    private func makeNodeScope(_ extended: ExtendedNode) -> Scope {
        // maxConcurrency >= 1 was checked when the node was added (a plan
        // with a bad option does not freeze), so `make` cannot throw here.
        let scope = try! Scope.make(executor: executor, maxConcurrency: extended.maxConcurrency,
                                    errorPolicy: .cancelOnFirstError)
        (nodeScopes.load() ?? nodeScopes.storeIfNil(NodeScopes())).add(scope)
        return scope
    }

    // MARK: - Synchronous bodies

    /// Runs a synchronous scoped node; nil when it finishes later (its
    /// children still run), else whether its successors are poisoned.
    func runScoped(_ node: Int32, _ extended: ExtendedNode, _ body: ScopedBody) -> Bool? {
        let i = Int(node)
        let timed = clocksNodes || extended.timeout != nil
        let t0 = timed ? GraphExecution.now() : 0
        if timed, let monitor { monitor.started(i, at: t0, worker: executor.currentWorkerIndex) }
        let scope = makeNodeScope(extended)
        var thrown: (any Error)? = nil
        do {
            try body(self, scope)
        } catch {
            thrown = error
            scope.cancel()
        }
        let bodyError = thrown
        let later = scope.whenJoined {
            // On the thread of the child that ended last: hand the rest to a job.
            self.submitExtendedJob(priority: .normal, affinity: nil) {
                let poison = self.finishScoped(i, extended, scope, t0: t0, timed: timed, bodyError: bodyError)
                self.continueAfterExtended(node, poison: poison)
            }
        }
        if later { return nil }
        return finishScoped(i, extended, scope, t0: t0, timed: timed, bodyError: bodyError)
    }

    /// Decides a scoped node's outcome once its scope is joined (see the
    /// header); returns whether its successors are poisoned.
    private func finishScoped(
        _ i: Int, _ extended: ExtendedNode, _ scope: Scope, t0: UInt64, timed: Bool, bodyError: (any Error)?,
        checkLate: Bool = true
    ) -> Bool {
        nodeScopes.load()?.remove(scope)
        let t1 = timed ? recordExtended(i, t0) : 0
        let error: (any Error)?
        if let bodyError, !(bodyError is CancellationError) {
            error = bodyError
        } else if let childError = scope.failure {
            error = childError
        } else if cancelled.load(ordering: .relaxed) && (bodyError != nil || scope.childrenEndedByCancellation > 0) {
            destroyExtendedValue(i)
            setExtendedState(i, .cancelled)
            monitor?.finished(i, .cancelled, at: timed ? t1 : GraphExecution.now())
            return true
        } else {
            error = bodyError
        }
        if let error {
            destroyExtendedValue(i)
            failExtended(i, error)
            return true
        }
        if checkLate && GraphExecution.late(t0, t1, extended.timeout) {
            destroyExtendedValue(i)
            failExtended(i, FlowError.timedOut(what: "node '\(plan.displayName(i))'", after: extended.timeout!))
            return true
        }
        if timed { monitor?.finished(i, .succeeded, at: t1) }
        setExtendedState(i, .succeeded)
        return false
    }

    // MARK: - Async bodies

    /// Runs an async scoped node as a task on the executor; the task goes
    /// on with the node's successors.
    func launchScopedAsync(_ node: Int32, _ extended: ExtendedNode, _ body: @escaping AsyncScopedBody) {
        let task = Task(executorPreference: executor, priority: extended.taskPriority) {
            let poison = await self.executeScopedAsync(Int(node), extended, body)
            self.continueAfterExtended(node, poison: poison)
        }
        asyncTasks.withLock { $0.append(task) }
        if cancelledByCaller.load(ordering: .relaxed) { task.cancel() }
    }

    private func executeScopedAsync(_ i: Int, _ extended: ExtendedNode, _ body: @escaping AsyncScopedBody) async -> Bool {
        if cancelled.load(ordering: .relaxed) { return skipExtended(i, poisoned: false) }
        let t0 = GraphExecution.now()
        monitor?.started(i, at: t0, worker: nil)  // it may resume on any worker
        let scope = makeNodeScope(extended)
        var bodyError: (any Error)? = nil
        do {
            if let timeout = extended.timeout ?? asyncTimeout {
                // The deadline covers the children too: the body and the join race a sleep.
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask {
                        try await body(self, scope)
                        await scope.join()
                        return true
                    }
                    group.addTask {
                        try await Task.sleep(for: timeout)
                        return false
                    }
                    let finished = try await group.next()!
                    group.cancelAll()
                    if !finished {
                        scope.cancel()
                        throw FlowError.timedOut(what: "node '\(self.plan.displayName(i))'", after: timeout)
                    }
                }
            } else {
                try await body(self, scope)
            }
        } catch {
            bodyError = error
            scope.cancel()
        }
        await scope.join()
        return finishScoped(i, extended, scope, t0: t0, timed: true, bodyError: bodyError, checkLate: false)
    }
}
