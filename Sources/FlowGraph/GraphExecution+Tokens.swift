// Running token nodes (`TaskGraph.task(_:runs:…)`): one node, `count`
// runs of its body, successors after the last (TokenBatch.swift has the
// claiming protocol).
//
// Synchronous bodies: `r = min(count, maxConcurrency ?? workers, workers)`
// runners (1 with an affinity), each claiming tokens until none is left —
// no Swift task and no allocation per token. The thread that starts the
// node is one of them (a plain loop), so a node whose tokens are quick may
// finish there (a job then goes on with its successors). The other r - 1
// are Swift tasks on the executor: a task is queued on the executor's
// shared queue, which wakes parked workers one after the other, whereas
// jobs pushed on the starting worker's own deque wake at most one helper
// while that worker is busy with its own runner (measured with plain jobs
// on 4 parked workers: maxConcurrency 2 ran its tokens one at a time, 3
// and 4 two at a time; with tasks, 2, 3 and 4 at a time). At most `r`
// tokens run at once: never more than `maxConcurrency`.
//
// Async bodies: `min(count, maxConcurrency ?? count)` tasks on the
// executor, each claiming tokens in turn (so `maxConcurrency` bounds the
// tokens in flight, suspended ones included); the node's timeout (or the
// run's `asyncTimeout`) cancels them at the deadline.
//
// Failures: a token that throws adds a `NodeFailure` for the node (its
// error as thrown), at once, so that fail-fast stops the rest of the run
// as for any node; the runners then stop claiming (fail-fast sets the
// run's `cancelled`), under `.continue` they run the remaining tokens. The
// node is `.failed` if a token threw, `.cancelled` if the run was
// cancelled before every token ran, else it succeeded with the outputs in
// token order (a synchronous node past its timeout fails instead).

extension GraphExecution {
    /// Starts token node `node`; returns whether its successors are
    /// poisoned when it finished on this thread, nil when a runner
    /// elsewhere finishes it.
    func runTokens(_ node: Int32, _ extended: ExtendedNode, count: Int, make: TokenMaker) -> Bool? {
        let i = Int(node)
        let timed = clocksNodes || extended.timeout != nil
        let t0 = timed ? GraphExecution.now() : 0
        let batch = make(self, t0)   // takes the node's inputs
        if batch.isAsync {
            if timed, let monitor { monitor.started(i, at: t0, worker: nil) }
            launchTokenTasks(node, extended, batch)
            return nil
        }
        if timed, let monitor { monitor.started(i, at: t0, worker: executor.currentWorkerIndex) }
        let limit = extended.affinity != nil ? 1 : min(extended.maxConcurrency ?? .max, executor.workerCount)
        let runners = max(1, min(count, limit))
        batch.runnersLeft.store(runners, ordering: .relaxed)  // published by the task creations below
        for _ in 1..<runners {
            Task(executorPreference: executor, priority: extended.taskPriority) {
                if self.runTokenLoop(i, batch) {
                    self.continueAfterExtended(node, poison: self.finishTokens(i, extended, batch))
                }
            }
        }
        guard runTokenLoop(i, batch) else { return nil }
        return finishTokens(i, extended, batch)
    }

    /// One synchronous runner: claims and runs tokens until none is left
    /// or the run is cancelled. True for the runner that stopped last.
    private func runTokenLoop(_ i: Int, _ batch: TokenBatch) -> Bool {
        while !cancelled.load(ordering: .relaxed), let token = batch.claim() {
            do {
                try batch.run(token)
            } catch {
                tokenFailed(i, batch, error)
            }
        }
        return batch.runnerDone()
    }

    /// A token of node `i` threw: the node has failed (it is marked so
    /// when its last runner stops); fail-fast stops the run now.
    private func tokenFailed(_ i: Int, _ batch: TokenBatch, _ error: any Error) {
        batch.failed.store(true, ordering: .relaxed)  // read by the last runner after runnerDone
        let failure = NodeFailure(node: plan.displayName(i), index: i, error: error)
        failures.withLock { $0.append(failure) }
        if failFast {
            cancelled.store(true, ordering: .relaxed)
            cancelNodeScopes()
        }
    }

    /// The last runner stopped: decides the node's outcome and returns
    /// whether its successors are poisoned.
    private func finishTokens(_ i: Int, _ extended: ExtendedNode, _ batch: TokenBatch) -> Bool {
        batch.releaseInputs()
        let timed = batch.t0 != 0
        let t1 = timed ? recordExtended(i, batch.t0) : 0   // untimed: no monitor, no timeout
        if batch.failed.load(ordering: .relaxed) {
            batch.discard()
            setExtendedState(i, .failed)
            monitor?.finished(i, .failed, at: t1)
            return true
        }
        if batch.timedOut.load(ordering: .acquiring), let timeout = extended.timeout ?? asyncTimeout {
            batch.discard()
            failExtended(i, FlowError.timedOut(what: "node '\(plan.displayName(i))'", after: timeout))
            return true
        }
        if !batch.allClaimed || batch.cut.load(ordering: .relaxed) {
            batch.discard()
            setExtendedState(i, .cancelled)
            monitor?.finished(i, .cancelled, at: t1)
            return true
        }
        if !batch.isAsync && timed && GraphExecution.late(batch.t0, t1, extended.timeout) {
            batch.discard()
            failExtended(i, FlowError.timedOut(what: "node '\(plan.displayName(i))'", after: extended.timeout!))
            return true
        }
        batch.publish(in: self, at: i)
        if timed { monitor?.finished(i, .succeeded, at: t1) }
        setExtendedState(i, .succeeded)
        return false
    }

    // MARK: - Async bodies

    private func launchTokenTasks(_ node: Int32, _ extended: ExtendedNode, _ batch: TokenBatch) {
        let i = Int(node)
        let runners = max(1, min(batch.count, extended.maxConcurrency ?? batch.count))
        batch.runnersLeft.store(runners, ordering: .relaxed)  // published by the task creations below
        let timeout = extended.timeout ?? asyncTimeout
        let deadline = timeout.map { _ in DeadlineSlot() }
        var tasks: [Task<Void, Never>] = []
        tasks.reserveCapacity(runners + 1)
        for _ in 0..<runners {
            tasks.append(Task(executorPreference: executor, priority: extended.taskPriority) {
                guard await self.runAsyncTokenLoop(i, batch) else { return }
                deadline?.finish()
                self.continueAfterExtended(node, poison: self.finishTokens(i, extended, batch))
            })
        }
        if let timeout, let deadline {
            let runnerTasks = tasks
            let timer = Task {
                do { try await Task.sleep(for: timeout) } catch { return }  // cancelled: the node finished
                batch.timedOut.store(true, ordering: .releasing)
                for task in runnerTasks { task.cancel() }
            }
            deadline.set(timer)
        }
        asyncTasks.withLock { $0.append(contentsOf: tasks) }
        if cancelledByCaller.load(ordering: .relaxed) { for task in tasks { task.cancel() } }
    }

    /// One async runner; true for the runner that stopped last.
    private func runAsyncTokenLoop(_ i: Int, _ batch: TokenBatch) async -> Bool {
        while !cancelled.load(ordering: .relaxed) && !batch.timedOut.load(ordering: .acquiring),
              let token = batch.claim() {
            do {
                try await batch.runAsync(token)
            } catch {
                if error is CancellationError
                    && (cancelled.load(ordering: .relaxed) || batch.timedOut.load(ordering: .acquiring)) {
                    batch.cut.store(true, ordering: .relaxed)  // read by the last runner after runnerDone
                    break
                }
                tokenFailed(i, batch, error)
            }
        }
        return batch.runnerDone()
    }
}

/// The deadline task of an async token node, cancelled once the node
/// finished (whichever of `set` and `finish` comes second cancels it).
private final class DeadlineSlot: Sendable {
    private let state = Locked<(timer: Task<Void, Never>?, finished: Bool)>((nil, false))

    func set(_ timer: Task<Void, Never>) {
        let finished = state.withLock { s -> Bool in
            s.timer = timer
            return s.finished
        }
        if finished { timer.cancel() }
    }

    func finish() {
        let timer = state.withLock { s -> Task<Void, Never>? in
            s.finished = true
            defer { s.timer = nil }
            return s.timer
        }
        timer?.cancel()
    }
}
