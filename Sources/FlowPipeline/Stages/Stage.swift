import FlowAtomics
import FlowExecutor

/// A bounded processing stage: an input buffer, a pool of workers running
/// an async body, a WIP limit that makes `submit` wait (the "rope"), and a
/// ``results`` sequence with one `Result` per admitted item.
///
/// ```swift
/// let stage = try Stage(options: StageOptions<Int>(capacity: 8, workers: 2)) { x in x * 2 }
/// Task {
///     for x in 0..<100 { try await stage.submit(x) }
///     stage.closeInput()
/// }
/// for await result in stage.results { print(try result.get()) }
/// if let error = await stage.wait() { print("stage failed:", error) }
/// ```
///
/// Contracts:
/// - **Cardinality**: every `submit` that returns yields exactly one result;
///   a `submit` that throws yields none.
/// - **Order**: with one worker, results come in submit order.
/// - **Fail-fast** (default): the first body error closes the input,
///   releases blocked submits with ``StageError/closed``, cancels the
///   running bodies (task cancellation), and answers still-buffered items
///   with `CancellationError` results. With `continueOnError`, errors are
///   just failed results.
/// - **Liveness**: read ``results`` to the end (or call
///   ``discardAndWait()``); a full output blocks workers, and the stage
///   cannot finish. ``wait()`` and ``cause()`` do not start shutdown:
///   call ``closeInput()`` (or ``cancel()``) first.
public final class Stage<Input: Sendable, Output: Sendable>: Sendable {
    /// The work done per item; it sees task cancellation after fail-fast or ``cancel()``.
    public typealias Body = @Sendable (Input) async throws -> Output

    // The hot paths are @inlinable so that they are specialized for the
    // caller's Input and Output: unspecialized, every step pays for
    // generic-metadata lookups (about 4x the cost of the work itself).
    @usableFromInline let state: Locked<StageStateMachine<Input>>
    @usableFromInline let output: StageOutput<Result<Output, any Error>>
    @usableFromInline let body: Body
    @usableFromInline let weight: (@Sendable (Input) -> Int64)?
    @usableFromInline let continueOnError: Bool
    @usableFromInline let executor: Executor?
    /// True for a piped stage: its input is fed by the upstream sequence only.
    @usableFromInline let isPiped: Bool
    /// With the service-time distribution on, each body is timed on its own
    /// (two clock readings); otherwise one reading per item serves as the
    /// end of one item and the start of the next.
    @usableFromInline let timesEachBody: Bool

    /// Starts a stage whose workers run `body` for each submitted item.
    /// Throws ``FlowError/invalidArgument(parameter:value:reason:)`` naming a bad option.
    @inlinable
    public convenience init(options: StageOptions<Input> = StageOptions(), _ body: @escaping Body) throws(FlowError) {
        try self.init(options: options, piped: false, body)
    }

    @inlinable
    init(options: StageOptions<Input>, piped: Bool, _ body: @escaping Body) throws(FlowError) {
        try options.validate()
        var machine = StageStateMachine(options: options)
        var effects = StageEffects<Input>()
        machine.spawnWorkers(options.workers, &effects)
        if piped { machine.producers = 1 }
        state = Locked(machine)
        output = StageOutput(capacity: options.outputCapacity)
        self.body = body
        weight = options.weight
        continueOnError = options.continueOnError
        executor = options.executor
        isPiped = piped
        timesEachBody = options.tracksServiceTimeDistribution
        perform(effects)
    }

    /// The results, one per admitted item (plus, for a piped stage, one per
    /// forwarded upstream failure). Ends after the stage finished.
    @inlinable public var results: StageResults<Result<Output, any Error>> { StageResults(output: output) }

    // MARK: submit

    /// Admits `item`, waiting while the WIP limit (count or weight) is
    /// reached or admission is paused. Waiters are admitted in FIFO order.
    ///
    /// Throws ``StageError/closed`` after ``closeInput()``, fail-fast or
    /// ``cancel()`` (also when one of those releases the wait),
    /// ``StageError/weightExceedsLimit(weight:limit:)`` at once for an item
    /// heavier than `maxWIPWeight`, and `CancellationError` when the
    /// submitting task is cancelled while waiting (that stops only this wait;
    /// the stage goes on). Calling it on a piped stage is refused.
    @inlinable nonisolated(nonsending) public func submit(_ item: Input) async throws {
        if isPiped {
            throw FlowError.rejected(operation: "Stage.submit", reason: "a piped stage is fed by its upstream sequence")
        }
        try await admit(item, fromFeeder: false)
    }

    @inlinable nonisolated(nonsending) func admit(_ item: Input, fromFeeder: Bool) async throws {
        let w = weight?(item) ?? 1
        if w < 0 { throw FlowError.invalid("weight", w, "the weight function must return a value ≥ 0") }
        let entry = StageEntry(item: item, weight: w)
        var effects = StageEffects<Input>()
        let admission = state.withLock { $0.submit(entry, fromFeeder: fromFeeder, &effects) }
        perform(effects)
        switch admission {
        case .admitted: return
        case let .rejected(error): throw error
        case let .mustWait(id): try await waitForAdmission(id: id, entry, fromFeeder: fromFeeder)
        }
    }

    @inlinable nonisolated(nonsending) func waitForAdmission(id: UInt64, _ entry: StageEntry<Input>, fromFeeder: Bool) async throws {
        let since = stageNow()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                var effects = StageEffects<Input>()
                // The cancelled flag is read under the lock: a cancellation
                // after this read finds the waiter queued and removes it.
                state.withLock {
                    $0.enqueue(id: id, entry, fromFeeder: fromFeeder, cancelled: Task.isCancelled, since: since,
                               continuation, &effects)
                }
                perform(effects)
            }
        } onCancel: {
            let continuation = state.withLock { $0.cancelWaiter(id: id) }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// Declares that no more items will be submitted. Buffered items are
    /// still processed; blocked submits are released with ``StageError/closed``.
    /// Idempotent and safe to race with `submit`. No-op on a piped stage
    /// (its feeder closes the input when the upstream ends).
    @inlinable public func closeInput() {
        guard !isPiped else { return }
        var effects = StageEffects<Input>()
        state.withLock { $0.closeInput(&effects) }
        perform(effects)
    }

    /// Cancels the stage (Go's parent-context cancel): closes the input,
    /// cancels running bodies, answers buffered items with
    /// `CancellationError` results. ``cause()`` reports `.cancelled` unless a
    /// fail-fast error came first. Idempotent; a no-op once finished.
    public func cancel() {
        var effects = StageEffects<Input>()
        state.withLock { $0.stop(.cancelled, &effects) }
        perform(effects)
    }

    // MARK: completion

    /// Waits until every worker finished and the results ended (the stage
    /// must be closed or cancelled, and its results drained). Returns the
    /// fail-fast error, or nil (also after cancellation: use ``cause()``).
    public func wait() async -> (any Error)? { await cause().error }

    /// Waits like ``wait()`` and returns how the stage ended: completed, the
    /// fail-fast error, or cancelled. Latched once; every call returns the same.
    public func cause() async -> StageCause {
        if let cause = state.withLock({ $0.finalCause }) { return cause }
        return await withUnsafeContinuation { (continuation: UnsafeContinuation<StageCause, Never>) in
            let cause = state.withLock { s -> StageCause? in
                if let cause = s.finalCause { return cause }
                s.finishWaiters.append(continuation)
                return nil
            }
            if let cause { continuation.resume(returning: cause) }
        }
    }

    /// Reads and drops every remaining result, then returns ``wait()``'s answer.
    /// Must be the only reader of ``results``.
    public func discardAndWait() async -> (any Error)? { await discardAndCause().error }

    /// Reads and drops every remaining result, then returns ``cause()``'s answer.
    /// Must be the only reader of ``results``.
    public func discardAndCause() async -> StageCause {
        while await output.next() != nil {}
        return await cause()
    }

    // MARK: runtime control

    /// Sets the worker count: new workers start at once; excess workers
    /// finish their current item, then leave. Returns the applied count.
    /// Throws ``FlowError`` for n < 1 and ``StageError/stopping`` once the
    /// stage was stopped or has finished.
    @discardableResult
    public func setWorkers(_ n: Int) throws -> Int {
        var effects = StageEffects<Input>()
        let applied = try state.withLock { try $0.setWorkers(n, &effects) }
        perform(effects)
        return applied
    }

    /// Sets the WIP limit, clamped to 1…capacity + target workers; raising it
    /// admits waiters. Existing permits are not revoked. Returns the applied value.
    @discardableResult
    public func setMaxWIP(_ n: Int) -> Int {
        var effects = StageEffects<Input>()
        let applied = state.withLock { $0.setMaxWIP(n, &effects) }
        perform(effects)
        return applied
    }

    /// Sets the weight limit (0 disables it; negative becomes 0). Waiters now
    /// heavier than the limit are rejected; raising it admits waiters.
    /// Returns the applied value.
    @discardableResult
    public func setMaxWIPWeight(_ n: Int64) -> Int64 {
        var effects = StageEffects<Input>()
        let applied = state.withLock { $0.setMaxWIPWeight(n, &effects) }
        perform(effects)
        return applied
    }

    /// Holds every new admission (waiters stay queued, not rejected) until
    /// ``resumeAdmission()``. In-flight items go on. Idempotent.
    public func pauseAdmission() {
        var effects = StageEffects<Input>()
        state.withLock { $0.setPaused(true, &effects) }
        perform(effects)
    }

    /// Lifts ``pauseAdmission()`` and admits waiters that fit. Idempotent.
    public func resumeAdmission() {
        var effects = StageEffects<Input>()
        state.withLock { $0.setPaused(false, &effects) }
        perform(effects)
    }

    /// A consistent snapshot of the counters; final after ``wait()`` returned.
    public var stats: StageStats { state.withLock { $0.snapshot } }

    // MARK: workers

    @inlinable func perform(_ effects: StageEffects<Input>) {
        for (continuation, result) in effects.submitResumes { continuation.resume(with: result) }
        for (continuation, step) in effects.workerResumes { continuation.resume(returning: step) }
        guard let rare = effects.rare else { return }
        for task in rare.cancelTasks { task.cancel() }
        for id in rare.spawn {
            let task = startTask(executor) { await self.runWorker(id) }
            if state.withLock({ $0.register(task, worker: id) }) { task.cancel() }
        }
        if let cause = rare.finalCause {
            output.finish()
            for continuation in rare.finishResumes { continuation.resume(returning: cause) }
        }
    }

    @inlinable func runWorker(_ id: Int) async {
        var effects = StageEffects<Input>()
        var step = state.withLock { $0.take(worker: id, &effects) }
        perform(effects)
        // `mark` is the last clock reading: the start of the next body's
        // service time. Without the distribution it is the end of the
        // previous body (moved past any output-blocked wait), so a worker
        // that goes straight from one item to the next reads the clock once
        // per item; the unblocked send and the bookkeeping between two
        // bodies (tens of nanoseconds) count as service time.
        var mark = stageNow()
        while true {
            if case .park = step {
                let since = stageNow()
                step = await withUnsafeContinuation { (continuation: UnsafeContinuation<StageWorkerStep<Input>, Never>) in
                    var effects = StageEffects<Input>()
                    let now = state.withLock { $0.park(worker: id, since: since, continuation, &effects) }
                    perform(effects)
                    if let now { continuation.resume(returning: now) }
                }
                mark = stageNow()
            }
            guard case let .item(entry, canceled) = step else { return }
            let result: Result<Output, any Error>
            var failed = false
            var service: UInt64 = 0
            if canceled {
                result = .failure(CancellationError())
            } else {
                if timesEachBody { mark = stageNow() }
                do {
                    result = .success(try await body(entry.item))
                } catch {
                    result = .failure(error)
                    failed = true
                }
                let now = stageNow()
                service = now > mark ? now - mark : 0
                mark = now
                if failed && !continueOnError, case let .failure(error) = result {
                    var effects = StageEffects<Input>()
                    state.withLock { $0.stop(.failed(error), &effects) }
                    perform(effects)
                }
            }
            let (_, blocked) = await output.send(result)
            mark &+= blocked
            var effects = StageEffects<Input>()
            step = state.withLock { s in
                s.finish(entry, canceled: canceled, failed: failed, serviceNanoseconds: service,
                         blockedNanoseconds: blocked, &effects)
                return s.take(worker: id, &effects)
            }
            perform(effects)
        }
    }
}
