/// Submit work, get handles, wait for everything, see what failed.
///
/// ```swift
/// let runtime = try Runtime(threads: 4)
/// let sizes = files.map { file in runtime.submit(name: file) { try size(of: file) } }
/// try runtime.waitAll(throwOnError: true)        // names every failed task
/// let total = try sizes.reduce(0) { try $0 + $1.get() }
/// runtime.shutdown()
/// ```
///
/// A runtime owns a compute executor (`threads`), an I/O executor for
/// blocking work (`ioThreads`, `submit(blocking: true)`) and a watchdog.
/// Synchronous bodies run as plain closures on the workers (no Swift task);
/// `async` bodies run as Swift tasks that prefer the executor.
///
/// Timeouts: a task past its timeout (`submit(timeout:)`, else
/// `defaultTaskTimeout`) fails with `FlowError.timedOut`; an `async` body is
/// cancelled at the deadline, a synchronous one cannot be interrupted and
/// fails when it returns (its value is discarded). Past `globalTimeout`
/// (counted from `init`), tasks not started fail with `FlowError.timedOut`
/// and running `async` bodies are cancelled.
public final class Runtime: Sendable {
    /// The runtime's name (its executors are `<name>` and `<name>-io`).
    public let name: String
    /// Runs submitted work.
    public let computeExecutor: Executor
    /// Runs work submitted with `blocking: true`; nil when `ioThreads` is 0.
    public let ioExecutor: Executor?
    /// Watches task timeouts, the global deadline and stalls.
    public let watchdog: Watchdog
    /// The timeout of tasks submitted without one; nil for none.
    public let defaultTaskTimeout: Duration?
    /// The deadline of the whole runtime, from `init`; nil for none.
    public let globalTimeout: Duration?

    let book: RuntimeBook

    /// Starts the executors and the watchdog.
    ///
    /// - Parameters:
    ///   - threads: compute workers (default: the usable CPUs).
    ///   - ioThreads: workers for blocking work (0 for none).
    ///   - idleTimeout: how long nothing may finish while tasks are pending
    ///     before `isResponsive` turns false (default 300 s).
    ///   - clock: the watchdog's clock; tests pass `.manual(clock)`.
    /// - Throws: `FlowError.invalidArgument` naming a bad value.
    public init(
        threads: Int = Executor.availableCPUs(),
        ioThreads: Int = 2,
        name: String = "runtime",
        defaultTaskTimeout: Duration? = nil,
        globalTimeout: Duration? = nil,
        idleTimeout: Duration = .seconds(300),
        clock: WatchdogClock = .monotonic
    ) throws(FlowError) {
        guard (1...1024).contains(threads) else { throw .invalid("threads", threads, "must be in 1...1024") }
        guard (0...1024).contains(ioThreads) else { throw .invalid("ioThreads", ioThreads, "must be in 0...1024") }
        guard !name.isEmpty else { throw .invalid("name", "\"\"", "must not be empty") }
        if let defaultTaskTimeout, defaultTaskTimeout <= .zero {
            throw .invalid("defaultTaskTimeout", defaultTaskTimeout, "must be positive")
        }
        if let globalTimeout, globalTimeout <= .zero { throw .invalid("globalTimeout", globalTimeout, "must be positive") }
        guard idleTimeout > .zero else { throw .invalid("idleTimeout", idleTimeout, "must be positive") }
        self.name = name
        self.defaultTaskTimeout = defaultTaskTimeout
        self.globalTimeout = globalTimeout
        let book = RuntimeBook()
        self.book = book
        computeExecutor = try Executor(.init(workers: threads, name: name))
        ioExecutor = ioThreads > 0 ? try Executor(.init(workers: ioThreads, name: name + "-io")) : nil
        watchdog = try Watchdog(configuration: .init(threadName: String((name + "-watchdog").prefix(15)), cancelOnTimeout: true),
                                clock: clock) { event, _ in
            if case .globalTimeout = event, let globalTimeout {
                book.stop(with: FlowError.timedOut(what: "runtime '\(name)'", after: globalTimeout))
            }
        }
        if let globalTimeout { try watchdog.setGlobalTimeout(globalTimeout) }
        try watchdog.monitorProgress(checkEvery: max(.milliseconds(1), min(idleTimeout / 4, .seconds(1))),
                                     stallAfter: idleTimeout) {
            (book.finished.load(ordering: .relaxed), book.outstanding.load(ordering: .relaxed))
        }
    }

    // MARK: - Submitting

    /// Runs a synchronous `body` on a worker and returns its handle at once.
    ///
    /// - Parameters:
    ///   - name: shown in errors, progress and `failed`; default: the call site (`File.swift:12`).
    ///   - timeout: overrides `defaultTaskTimeout`.
    ///   - blocking: runs on the I/O executor (when there is one).
    /// After `shutdown` the handle fails at once with `FlowError.rejected`.
    @discardableResult
    public func submit<T: Sendable>(
        name: String? = nil, timeout: Duration? = nil, blocking: Bool = false,
        file: StaticString = #fileID, line: UInt = #line,
        _ body: @escaping @Sendable () throws -> T
    ) -> TaskHandle<T> {
        let name = name ?? "\(file):\(line)"
        let completion = TaskCompletion<T>()
        guard let id = book.register(name) else {
            return rejected(name, completion)
        }
        let handle = TaskHandle(name: name, id: id, completion: completion)
        let limit = timeout ?? defaultTaskTimeout
        let book = self.book, watchdog = self.watchdog
        let job: @Sendable () -> Void = {
            if let error = book.start(id) {
                completion.complete(.failure(error))
                book.finish(id, name: name, started: false, error: error)
                return
            }
            let token = limit.flatMap { try? watchdog.watch(name: name, timeout: $0) }
            var result = Result { try body() }
            if let token, let limit, !token.finish() {
                result = .failure(FlowError.timedOut(what: "task '\(name)'", after: limit))
            }
            completion.complete(result)
            book.finish(id, name: name, started: true, error: result.failure)
        }
        do {
            try executor(blocking).submit(name: name, job)
        } catch {
            completion.complete(.failure(error))
            book.finish(id, name: name, started: false, error: error)
        }
        return handle
    }

    /// Runs an `async` body as a Swift task preferring the runtime's
    /// executor and returns its handle at once; see the synchronous form.
    /// At its timeout the body is cancelled and the task fails with `FlowError.timedOut`.
    @discardableResult
    public func submit<T: Sendable>(
        name: String? = nil, timeout: Duration? = nil, blocking: Bool = false,
        file: StaticString = #fileID, line: UInt = #line,
        _ body: @escaping @Sendable () async throws -> T
    ) -> TaskHandle<T> {
        let name = name ?? "\(file):\(line)"
        let completion = TaskCompletion<T>()
        guard let id = book.register(name) else {
            return rejected(name, completion)
        }
        let limit = timeout ?? defaultTaskTimeout
        let book = self.book, watchdog = self.watchdog, executor = executor(blocking)
        Task(executorPreference: executor) {
            if let error = book.start(id) {
                completion.complete(.failure(error))
                book.finish(id, name: name, started: false, error: error)
                return
            }
            let inner = Task(executorPreference: executor) { try await body() }
            book.setCancel(id) { inner.cancel() }
            let token = limit.flatMap { try? watchdog.watch(name: name, timeout: $0) }
            token?.onCancel { inner.cancel() }
            var result = await withTaskCancellationHandler { await inner.result } onCancel: { inner.cancel() }
            if let token, let limit, !token.finish() {
                result = .failure(FlowError.timedOut(what: "task '\(name)'", after: limit))
            } else if result.failure is CancellationError, let stop = book.stopError {
                result = .failure(stop)   // cancelled by the global timeout or a shutdown
            }
            completion.complete(result)
            book.finish(id, name: name, started: true, error: result.failure)
        }
        return TaskHandle(name: name, id: id, completion: completion)
    }

    private func executor(_ blocking: Bool) -> Executor { blocking ? ioExecutor ?? computeExecutor : computeExecutor }

    private func rejected<T>(_ name: String, _ completion: TaskCompletion<T>) -> TaskHandle<T> {
        completion.complete(.failure(FlowError.rejected(operation: "submit", reason: "runtime '\(self.name)' is shut down")))
        return TaskHandle(name: name, id: 0, completion: completion)
    }

    // MARK: - Waiting and failures

    /// Blocks until every task submitted so far (and any they submit) has
    /// finished. Must not be called from a worker of the runtime.
    public func waitAll() {
        precondition(!computeExecutor.isCurrentThreadWorker && !(ioExecutor?.isCurrentThreadWorker ?? false),
                     "Runtime.waitAll() called on a worker of runtime '\(name)': it would wait for itself; use `await waitAll()`")
        book.waitIdle()
    }

    /// `waitAll()`, then, with `throwOnError`, throws `TaskFailures` naming
    /// every task in `failed` (if any).
    public func waitAll(throwOnError: Bool) throws(TaskFailures) {
        waitAll()
        try throwFailures(throwOnError)
    }

    /// Suspends until every task submitted so far has finished.
    public func waitAll() async {
        await book.waitIdle()
    }

    /// `await waitAll()`, then, with `throwOnError`, throws `TaskFailures`
    /// naming every task in `failed` (if any).
    public func waitAll(throwOnError: Bool) async throws(TaskFailures) {
        await book.waitIdle()
        try throwFailures(throwOnError)
    }

    private func throwFailures(_ enabled: Bool) throws(TaskFailures) {
        guard enabled else { return }
        let failures = failed
        if !failures.isEmpty { throw TaskFailures(failures: failures) }
    }

    /// The tasks that failed since the last `clearFailed()`, in the order they failed.
    public var failed: [FailedTask] { book.state.withLock { $0.failures } }

    /// Forgets the failures listed in `failed` (the `failed` count of `progress()` stays).
    public func clearFailed() { book.state.withLock { $0.failures.removeAll() } }

    /// Sets the callback called once per failure, on the failing task's
    /// thread, before the failure is counted (so `waitAll` returns after it).
    /// Replaces any earlier callback; nil removes it.
    public func onError(_ handler: (@Sendable (FailedTask) -> Void)?) {
        book.state.withLock { $0.onError = handler }
    }

    // MARK: - Observing

    /// Counts, the compute workers, and every unfinished task.
    public func progress() -> RuntimeProgress {
        let workers = computeExecutor.snapshot().workers
        let now = monotonicNanoseconds()
        return book.state.withLock { s in
            let tasks = s.live.sorted { $0.key < $1.key }.map { id, t in
                RuntimeProgress.TaskSnapshot(
                    name: t.name, id: id, isRunning: t.started != 0,
                    queued: .nanoseconds(Int64((t.started == 0 ? now : t.started) &- min(t.submitted, now))),
                    running: t.started == 0 ? .zero : .nanoseconds(Int64(now &- min(t.started, now))))
            }
            return RuntimeProgress(total: s.total, completed: s.completed, running: s.running,
                                   queued: s.total - s.completed - s.failedCount - s.running,
                                   failed: s.failedCount, workers: workers, tasks: tasks)
        }
    }

    /// False while tasks are pending and none has finished for `idleTimeout`.
    public var isResponsive: Bool { watchdog.isResponsive }

    // MARK: - Shutdown

    /// Stops the runtime: new submissions fail with `FlowError.rejected`.
    /// With `wait` (the default) every task submitted runs to its end
    /// first; without, tasks not started fail with `CancellationError` and
    /// running `async` bodies are cancelled. Then the executors are joined.
    /// Idempotent; must not be called from one of the runtime's workers.
    public func shutdown(wait: Bool = true) {
        if wait {
            book.state.withLock { $0.shutDown = true }
            book.waitIdle()
        } else {
            book.stop(with: CancellationError())
            book.state.withLock { $0.shutDown = true }
        }
        computeExecutor.shutdown()
        ioExecutor?.shutdown()
        book.waitIdle()
        watchdog.stop()
    }

    /// True once `shutdown` began: submissions are refused.
    public var isShutDown: Bool { book.state.withLock { $0.shutDown } }

    // MARK: - The shared runtime

    /// A process-wide runtime, created with the defaults on first use.
    /// Assigning replaces it (the old one shuts down once no one holds it).
    public static var shared: Runtime {
        get {
            sharedRuntime.withLock { current in
                if let current { return current }
                // The defaults are valid, so this cannot throw.
                let runtime = try! Runtime(name: "shared")
                current = runtime
                return runtime
            }
        }
        set { sharedRuntime.withLock { $0 = newValue } }
    }
}

/// Behind `Runtime.shared`.
private let sharedRuntime = Locked<Runtime?>(nil)

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
