import Dispatch

/// Structured concurrency with an executor, a concurrency limit and an
/// error policy: everything spawned in a scope ends before `withScope`
/// returns.
///
/// - `spawn` starts a child task (on the scope's executor, through task
///   executor preference) and returns a `JoinHandle`; ignore it for
///   fire-and-forget work.
/// - The first child error cancels the other children and is rethrown by
///   `withScope` (or, with `.collectAll`, every error is collected).
///   `CancellationError`s are how cancelled children end and never count
///   as failures.
/// - Cancelling the task that runs `withScope`, or calling `cancel()`,
///   cancels every child and nested scope.
/// - `maxConcurrency` bounds how many children run their body at once;
///   the others wait (suspended, FIFO) for a slot.
///
/// A `Scope` is only valid inside its `withScope` body (and the children
/// it spawned); do not let it escape.
public final class Scope: Sendable {
    let executor: Executor?
    let limiter: AsyncSemaphore?
    let state: Locked<ScopeState>

    init(executor: Executor?, maxConcurrency: Int?, errorPolicy: ScopeErrorPolicy) {
        self.executor = executor
        limiter = maxConcurrency.map { try! AsyncSemaphore(permits: $0) }
        state = Locked(ScopeState(policy: errorPolicy))
    }

    // MARK: spawning

    /// Starts `body` as a child of this scope and returns its handle.
    ///
    /// The child runs on the scope's executor (if any), waits for a slot
    /// when `maxConcurrency` is reached, and is cancelled with the scope.
    /// A child cancelled before its body starts (the scope was cancelled,
    /// or it waited for a slot) never runs its body: its handle holds a
    /// `CancellationError`.
    @discardableResult
    public func spawn<Success: Sendable>(
        priority: TaskPriority? = nil,
        _ body: sending @escaping @isolated(any) () async throws -> Success
    ) -> JoinHandle<Success> {
        spawn(priority: priority, onEnd: nil, body)
    }

    /// `spawn`, with `onEnd` called when the child ends — whether or not its
    /// body ran — before the scope counts it as ended (so a join that
    /// returns has seen every `onEnd`).
    func spawn<Success: Sendable>(
        priority: TaskPriority? = nil,
        onEnd: (@Sendable () -> Void)?,
        _ body: sending @escaping @isolated(any) () async throws -> Success
    ) -> JoinHandle<Success> {
        let id = state.withLock { $0.childWillStart() }
        let finished = FinishFlag()
        let limiter = self.limiter
        let task = Task(executorPreference: executor, priority: priority) { [self] () async throws -> Success in
            do {
                if let limiter { try await limiter.acquire() }
                defer { limiter?.release() }
                // A child cancelled before its body started never runs it.
                try Task.checkCancellation()
                let value = try await body()
                onEnd?()
                finished.set()
                childDidEnd(id, error: nil)
                return value
            } catch {
                onEnd?()
                finished.set()
                childDidEnd(id, error: error)
                throw error
            }
        }
        let cancelNow = state.withLock { $0.register(id, canceller: { task.cancel() }) }
        if cancelNow { task.cancel() }
        return JoinHandle(task: task, finished: finished)
    }

    /// Starts a blocking `body` (file I/O, a C call) on a Dispatch global
    /// queue so that it does not block the executor's workers or the
    /// cooperative pool. It counts as a child like `spawn`, including the
    /// concurrency limit; it cannot be interrupted once running.
    @discardableResult
    public func spawnBlocking<Success: Sendable>(
        _ body: @escaping @Sendable () throws -> Success
    ) -> JoinHandle<Success> {
        spawn {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Success, any Error>) in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try body() })
                }
            }
        }
    }

    private func childDidEnd(_ id: UInt64, error: (any Error)?) {
        let action = state.withLock { $0.childDidEnd(id, error: error) }
        for cancel in action.cancel { cancel() }
        for joiner in action.resume { joiner.resume() }
    }

    // MARK: nesting, joining, cancelling

    /// Runs `body` in a nested scope on the same executor: it ends (and
    /// waits for its children) before this call returns, is cancelled when
    /// this scope is, and rethrows its first child error. Its own
    /// `maxConcurrency` defaults to none (the parent's limit bounds only
    /// the parent's direct children).
    public func scope<Result>(
        maxConcurrency: Int? = nil,
        errorPolicy: ScopeErrorPolicy? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (Scope) async throws -> Result
    ) async throws -> Result {
        let child = try Scope.make(
            executor: executor, maxConcurrency: maxConcurrency,
            errorPolicy: errorPolicy ?? state.withLock { $0.policy })
        let id = state.withLock { $0.addSubscope(canceller: { child.cancel() }) }
        if id == nil { child.cancel() }
        defer { if let id { state.withLock { $0.removeSubscope(id) } } }
        return try await child.run(isolation: isolation, body)
    }

    /// Waits until every child spawned so far (and any spawned while
    /// waiting) has ended. Not interrupted by cancellation: cancel the
    /// scope to make its children end sooner. Call it from the scope's
    /// body, never from one of its own children (which would wait for itself).
    public func join() async {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let queued = state.withLock { $0.join(.continuation(continuation)) }
            if !queued { continuation.resume() }
        }
    }

    /// `join()` for a caller that cannot suspend (FlowGraph's synchronous
    /// scoped nodes): returns false when no child is outstanding (and
    /// `callback` is not called); else true, and `callback` runs once every
    /// child has ended, on the thread of the child that ended last, after
    /// the scope's lock is released. Keep it short (submit the rest).
    package func whenJoined(_ callback: @escaping @Sendable () -> Void) -> Bool {
        state.withLock { $0.join(.callback(callback)) }
    }

    /// The error `withScope` would rethrow for the children: the first
    /// child error (`.cancelOnFirstError`) or `ScopeErrors` (`.collectAll`);
    /// nil when no child failed. Complete once the scope is joined.
    package var failure: (any Error)? { state.withLock { $0.failure } }

    /// How many children ended with a `CancellationError` so far: cut
    /// short by a cancellation, or cancelled before their body ran.
    package var childrenEndedByCancellation: Int { state.withLock { $0.endedByCancellation } }

    /// Cancels every child and nested scope; children spawned later start
    /// cancelled. Idempotent.
    public func cancel() {
        let cancellers = state.withLock { $0.cancelAll() }
        for cancel in cancellers { cancel() }
    }

    /// Whether the scope was cancelled (by `cancel()`, by a child error
    /// under `.cancelOnFirstError`, by its parent, or by its task).
    public var isCancellationRequested: Bool { state.withLock { $0.cancelled } }

    /// Children spawned and not yet ended.
    public var outstandingChildren: Int { state.withLock { $0.outstanding } }

    // MARK: running

    /// A scope that no `withScope` runs: its owner joins it (`join()` or
    /// `whenJoined`) and cancels it. For FlowGraph's scoped nodes.
    package static func make(executor: Executor?, maxConcurrency: Int?, errorPolicy: ScopeErrorPolicy) throws(FlowError) -> Scope {
        if let maxConcurrency, maxConcurrency < 1 {
            throw .invalid("maxConcurrency", maxConcurrency, "must be at least 1 (or nil for no limit)")
        }
        return Scope(executor: executor, maxConcurrency: maxConcurrency, errorPolicy: errorPolicy)
    }

    func run<Result>(
        isolation: isolated (any Actor)?,
        _ body: (Scope) async throws -> Result
    ) async throws -> Result {
        try await withTaskCancellationHandler {
            let outcome: Swift.Result<Result, any Error>
            do {
                outcome = .success(try await body(self))
            } catch {
                outcome = .failure(error)
                cancel()
            }
            await join()
            if case .failure(let error) = outcome { throw error }
            if let failure = state.withLock({ $0.failure }) { throw failure }
            return try outcome.get()
        } onCancel: {
            cancel()
        }
    }
}

/// Runs `body` with a new `Scope` and returns its result once every child
/// spawned in the scope has ended.
///
/// - Parameters:
///   - executor: where children run (task executor preference); nil for
///     the default global executor.
///   - maxConcurrency: how many children may run their body at once; nil
///     for no limit. Throws `FlowError.invalidArgument` when below 1.
///   - errorPolicy: `.cancelOnFirstError` (default) rethrows the first
///     child error after cancelling the rest; `.collectAll` lets children
///     run on and throws `ScopeErrors`.
///
/// If `body` throws, the children are cancelled, awaited, and `body`'s
/// error is rethrown. Cancelling the calling task cancels the scope.
///
/// ```swift
/// let executor = try Executor(workers: 4)
/// let total = try await withScope(on: executor, maxConcurrency: 8) { scope in
///     let parts = (0..<100).map { i in scope.spawn { i * i } }
///     return try await whenAll(parts).reduce(0, +)
/// }
/// ```
public func withScope<Result>(
    on executor: Executor? = nil,
    maxConcurrency: Int? = nil,
    errorPolicy: ScopeErrorPolicy = .cancelOnFirstError,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Scope) async throws -> Result
) async throws -> Result {
    let scope = try Scope.make(executor: executor, maxConcurrency: maxConcurrency, errorPolicy: errorPolicy)
    return try await scope.run(isolation: isolation, body)
}
