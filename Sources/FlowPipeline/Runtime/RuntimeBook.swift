import Dispatch
import Synchronization

/// A `Runtime`'s bookkeeping: counts, unfinished tasks, failures, waiters.
/// Every count changes under one lock, so a snapshot adds up; waiters are
/// taken out under it and woken after it is released.
final class RuntimeBook: Sendable {
    struct Live {
        let name: String
        let submitted: UInt64
        var started: UInt64 = 0
        /// Cancels a running async body (shutdown without waiting, global timeout).
        var cancel: (@Sendable () -> Void)?
    }

    struct State {
        var total = 0, completed = 0, running = 0, failedCount = 0
        var live: [UInt64: Live] = [:]
        var failures: [FailedTask] = []
        var onError: (@Sendable (FailedTask) -> Void)?
        var idleContinuations: [CheckedContinuation<Void, Never>] = []
        var idleSemaphores: [DispatchSemaphore] = []
        var shutDown = false
        /// Set when tasks not started yet must not start: the error they fail with.
        var stopError: (any Error)?
        var outstanding: Int { total - completed - failedCount }
    }

    // protected by its own lock
    let state = Locked(State())
    /// Finished tasks, readable without the lock by the stall probe.
    let finished = Atomic<Int>(0)
    let outstanding = Atomic<Int>(0)

    /// Registers a task; nil once the runtime is shut down.
    func register(_ name: String) -> UInt64? {
        let now = monotonicNanoseconds()
        let id = state.withLock { s -> UInt64? in
            guard !s.shutDown else { return nil }
            s.total += 1
            let id = UInt64(s.total)
            s.live[id] = Live(name: name, submitted: now)
            return id
        }
        if id != nil { outstanding.wrappingAdd(1, ordering: .relaxed) }
        return id
    }

    /// Marks task `id` running; returns the error it must fail with instead
    /// of starting, if any.
    func start(_ id: UInt64) -> (any Error)? {
        let now = monotonicNanoseconds()
        return state.withLock { s -> (any Error)? in
            if let error = s.stopError { return error }
            s.running += 1
            s.live[id]?.started = now
            return nil
        }
    }

    /// Registers how to cancel running task `id`'s async body; calls it at
    /// once (outside the lock) when a stop was requested meanwhile.
    func setCancel(_ id: UInt64, _ cancel: @escaping @Sendable () -> Void) {
        let stopped = state.withLock { s -> Bool in
            if s.stopError != nil { return true }
            s.live[id]?.cancel = cancel
            return false
        }
        if stopped { cancel() }
    }

    /// Records the end of task `id` (`started`: whether it was counted
    /// running). Calls `onError` first, on this thread, so that a waiter
    /// woken here has seen every callback.
    func finish(_ id: UInt64, name: String, started: Bool, error: (any Error)?) {
        var failure: FailedTask?
        if let error {
            let failed = FailedTask(name: name, id: id, error: error)
            failure = failed
            state.withLock { $0.onError }?(failed)
        }
        let (continuations, semaphores) = state.withLock { s -> ([CheckedContinuation<Void, Never>], [DispatchSemaphore]) in
            s.live[id] = nil
            if started { s.running -= 1 }
            if let failure {
                s.failedCount += 1
                s.failures.append(failure)
            } else {
                s.completed += 1
            }
            guard s.outstanding == 0 else { return ([], []) }
            defer { s.idleContinuations = []; s.idleSemaphores = [] }
            return (s.idleContinuations, s.idleSemaphores)
        }
        finished.wrappingAdd(1, ordering: .relaxed)
        outstanding.wrappingSubtract(1, ordering: .relaxed)
        for c in continuations { c.resume() }
        for s in semaphores { s.signal() }
    }

    /// Makes tasks not started fail with `error` and cancels running async bodies.
    func stop(with error: any Error) {
        let cancels = state.withLock { s -> [@Sendable () -> Void] in
            if s.stopError == nil { s.stopError = error }
            return s.live.values.compactMap(\.cancel)
        }
        for cancel in cancels { cancel() }
    }

    /// The error tasks not started fail with, once set.
    var stopError: (any Error)? { state.withLock { $0.stopError } }

    func waitIdle() {
        let semaphore = DispatchSemaphore(value: 0)
        let idle = state.withLock { s -> Bool in
            if s.outstanding == 0 { return true }
            s.idleSemaphores.append(semaphore)
            return false
        }
        if !idle { semaphore.wait() }
    }

    func waitIdle() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                if s.outstanding == 0 { return true }
                s.idleContinuations.append(c)
                return false
            }
            if idle { c.resume() }
        }
    }
}
