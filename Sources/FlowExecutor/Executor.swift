#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A work-stealing thread pool for plain closures and, as a `TaskExecutor`,
/// for Swift async tasks.
///
/// Each worker has a Chase–Lev deque for work submitted from inside the
/// pool (cheapest path: no Swift task, no lock, no syscall while the pool is
/// busy), central rings take work from outside, and idle workers park
/// without lost wake-ups. See docs/Executor.md for the scheduling loop,
/// the parking protocol and shutdown.
///
/// ```swift
/// let executor = try Executor(.init(workers: 4, name: "compute"))
/// try executor.submit { print("on a worker") }
/// let value = await Task(executorPreference: executor) { await work() }.value
/// executor.shutdown()   // runs everything accepted, joins the threads
/// ```
///
/// There is no global instance: you own your executors. Keep an executor
/// alive while Swift tasks prefer it (tasks refer to it unowned, as Swift's
/// task executors are). Without `shutdown()`, deinit starts the same
/// graceful shutdown on a short-lived thread of its own, so no thread leaks.
public final class Executor: TaskExecutor, Sendable {
    let core: ExecutorCore

    /// The configuration the executor runs with.
    public var configuration: Configuration { core.configuration }
    public var name: String { core.configuration.name }
    public var workerCount: Int { core.workers.count }

    /// Starts the worker threads. Throws a `FlowError` naming the first
    /// invalid configuration field.
    public init(_ configuration: Configuration = Configuration()) throws(FlowError) {
        try configuration.validate()
        core = try ExecutorCore(configuration: configuration)
        core.taskExecutor = asUnownedTaskExecutor()
        core.start()
    }

    /// Shorthand for `init(Configuration(workers:name:))`.
    public convenience init(workers: Int, name: String = "flow") throws(FlowError) {
        try self.init(Configuration(workers: workers, name: name))
    }

    deinit {
        let core = self.core
        if !core.shutdownStarted.load(ordering: .acquiring) {
            OSThread.spawn(name: "\(core.configuration.name)-stop") { core.shutdown(join: true) }?.detach()
        }
    }

    // MARK: - Closures

    /// Runs `body` once on a worker. The fast path: no Swift task is made.
    ///
    /// - Parameters:
    ///   - name: shown to observers and in snapshots while it runs.
    ///   - priority: `.high` runs before waiting normal and low work; `.low`
    ///     waits until nothing else does, but is never starved forever.
    ///   - affinity: pins the closure to worker `affinity` (0..<workerCount);
    ///     pinned work is not stolen.
    /// - Throws: `FlowError.rejected` after `shutdown()` began (submissions
    ///   from work already running in the pool are still accepted, so that
    ///   accepted work can finish); `FlowError.invalidArgument` for an
    ///   affinity outside the pool.
    @inline(__always)
    public func submit(
        name: String? = nil,
        priority: Priority = .normal,
        affinity: Int? = nil,
        _ body: consuming @escaping @Sendable () -> Void
    ) throws(FlowError) {
        try check(affinity)
        // The closure is moved (never copied) from here into a ring cell or a
        // box: see "The push paths" in ExecutorCore.swift.
        var job: QueuedJob? = .closure(body)
        if let worker = core.currentWorker() {
            // The core keeps its workers alive: no retain needed.
            unowned(unsafe) let worker = worker.takeUnretainedValue()
            core.submitInside(&job, name: name, from: worker, priority: priority, affinity: affinity)
            return
        }
        try admitOutside(name)
        // An unnamed closure travels as itself: no box to allocate or recycle.
        if name != nil { job = .word(JobWord.box(&job, name: name, in: JobWord.allocateBox())) }
        core.pushOutside(&job, priority: priority, affinity: affinity)
    }

    /// Submits `function(context, argument)`: a job that is a C function
    /// pointer and two words instead of a closure.
    ///
    /// A closure that captures anything is a heap allocation in Swift. A
    /// function job is not: from a worker of this executor at normal
    /// priority without affinity, submitting it allocates nothing. It is
    /// for schedulers built on the executor that queue many small jobs of
    /// one kind (FlowGraph queues ready nodes this way, the node's index
    /// as `argument`); `submit(_:)` is the general form.
    ///
    /// `context` is passed to `function` untouched: the executor neither
    /// retains nor frees what it points to, so the caller keeps it alive
    /// until the job has run (for an object, pass
    /// `Unmanaged.passUnretained(object).toOpaque()` and keep a strong
    /// reference elsewhere until then). Priority, affinity and the errors
    /// are those of `submit(name:priority:affinity:_:)`.
    public func submit(
        priority: Priority = .normal,
        affinity: Int? = nil,
        context: UnsafeMutableRawPointer?,
        argument: UInt,
        _ function: @convention(c) (UnsafeMutableRawPointer?, UInt) -> Void
    ) throws(FlowError) {
        try check(affinity)
        let job = FunctionJob(function: function, context: context, argument: argument)
        if let worker = core.currentWorker() {
            unowned(unsafe) let worker = worker.takeUnretainedValue()
            core.submitInside(job, from: worker, priority: priority, affinity: affinity)
            return
        }
        try admitOutside(nil)
        var queued: QueuedJob? = .word(JobWord.box(job, in: JobWord.allocateBox()))
        core.pushOutside(&queued, priority: priority, affinity: affinity)
    }

    @inline(__always)
    private func check(_ affinity: Int?) throws(FlowError) {
        if let affinity, affinity < 0 || affinity >= core.workers.count {
            throw .invalid("affinity", affinity, "must be a worker index in 0..<\(core.workers.count)")
        }
    }

    /// Counts a submission from outside the pool, or throws when the
    /// executor is shut down (`name`: the job's, shown in the error).
    @inline(__always)
    private func admitOutside(_ name: String?) throws(FlowError) {
        core.outsideSubmitted.atomic.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)  // before reading the phase
        guard core.phase.load(ordering: .sequentiallyConsistent) == ExecutorCore.running else {
            core.outsideSubmitted.atomic.pointee.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            throw .rejected(operation: "submit", reason: "executor '\(name ?? core.configuration.name)' is shut down")
        }
    }

    // MARK: - TaskExecutor

    /// Queues a Swift job on the pool, honouring its priority. Jobs from
    /// outside that arrive after shutdown reached its stopping step go to
    /// Swift's global concurrent executor, since a job cannot be refused.
    public func enqueue(_ job: consuming ExecutorJob) {
        let priority = Priority(job.priority)
        let unowned = UnownedJob(job)
        let word = JobWord.make(unowned)
        if let worker = core.currentWorker() {
            worker._withUnsafeGuaranteedRef { worker in
                var job: QueuedJob? = .word(word)
                core.pushInside(&job, from: worker, priority: priority, affinity: nil)
            }
            return
        }
        core.outsideSubmitted.atomic.pointee.wrappingAdd(1, ordering: .sequentiallyConsistent)
        guard core.phase.load(ordering: .sequentiallyConsistent) < ExecutorCore.stopping else {
            core.outsideSubmitted.atomic.pointee.wrappingSubtract(1, ordering: .sequentiallyConsistent)
            globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
            return
        }
        var job: QueuedJob? = .word(word)
        core.pushOutside(&job, priority: priority, affinity: nil)
    }

    // MARK: - Where am I

    /// The index of the worker running the calling code, when it runs on
    /// this executor; nil on any other thread.
    public var currentWorkerIndex: Int? { core.currentWorker()?.takeUnretainedValue().index }

    /// Whether the calling code runs on one of this executor's workers.
    public var isCurrentThreadWorker: Bool { core.currentWorker() != nil }

    // MARK: - Observing

    /// Sets (or with nil, removes) the observer told before and after each
    /// unit of work. Costs one load and a branch per unit when unset.
    public func setObserver(_ observer: (any ExecutorObserver)?) {
        guard let observer else {
            core.observer.store(0, ordering: .releasing)
            return
        }
        let box = ObserverBox(observer)
        core.observers.withLock { $0.append(box) }  // kept alive: a worker may still hold the old word
        core.observer.store(UInt(bitPattern: Unmanaged.passUnretained(box).toOpaque()), ordering: .releasing)
    }

    /// Workers parked right now (one relaxed load; `snapshot()` has more).
    public var parkedWorkerCount: Int { core.sleepers.load() }

    /// Counters and per-worker state, read without stopping the pool.
    public func snapshot() -> ExecutorSnapshot {
        var workers: [ExecutorSnapshot.Worker] = []
        var executed = 0, stolen = 0, submitted = core.outsideSubmitted.load(), parked = 0
        for w in core.workers {
            let state: ExecutorSnapshot.WorkerState
            switch w.state {
            case Worker.parked: state = .parked; parked += 1
            case Worker.searching: state = .searching
            default: state = .running
            }
            let name = w.currentName.withLock { $0 }
            workers.append(.init(index: w.index, state: state, queueDepth: w.stealer.count + w.inboxDepth,
                                 executed: w.executed, stolen: w.stolen, currentTaskName: name))
            executed += w.executed
            stolen += w.stolen
            submitted += w.submitted
        }
        return ExecutorSnapshot(name: name, workers: workers, submitted: submitted, executed: executed,
                                stolen: stolen, queued: max(0, submitted - executed), parkedWorkers: parked,
                                isShutDown: core.isShutDown)
    }

    // MARK: - Shutdown

    /// Stops accepting outside submissions, runs everything already
    /// accepted (and what it submits), then joins the worker threads.
    /// Idempotent; a second caller waits for the first to finish.
    /// Must not be called from one of this executor's workers (it would
    /// wait for itself): use `shutdown() async` there.
    public func shutdown() {
        precondition(!isCurrentThreadWorker,
                     "Executor.shutdown() called on a worker of executor '\(name)': it would wait for itself; use `await shutdown()`")
        core.shutdown(join: true)
    }

    /// The async form of `shutdown()`: suspends instead of blocking, so it
    /// may be called from a task running on this executor.
    public func shutdown() async {
        let core = self.core
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            guard let thread = OSThread.spawn(name: "\(core.configuration.name)-stop", {
                core.shutdown(join: true)
                continuation.resume()
            }) else {
                preconditionFailure("Executor.shutdown(): the system refused to start a thread")
            }
            thread.detach()
        }
    }

    /// True once `shutdown()` began: outside submissions are refused.
    public var isShutDown: Bool { core.isShutDown }
}
