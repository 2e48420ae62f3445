import Dispatch

/// The handle `Runtime.submit` returns at once: the task's identity and,
/// once it finished, its value or error. `Sendable`: pass it anywhere.
///
/// ```swift
/// let handle = runtime.submit(name: "parse") { try parse(file) }
/// let rows = try await handle.value     // or handle.get() from a plain thread
/// ```
public struct TaskHandle<Success: Sendable>: Sendable, CustomStringConvertible {
    /// The task's name: the one given to `submit`, else its call site (`File.swift:12`).
    public let name: String
    /// Unique within its runtime, increasing in submission order.
    public let id: UInt64
    let completion: TaskCompletion<Success>

    /// The task's value, suspending until it finished; rethrows its error.
    public var value: Success {
        get async throws {
            await completion.wait()
            return try completion.result!.get()
        }
    }

    /// The task's value, blocking the calling thread until it finished;
    /// rethrows its error. Do not call it from a worker of the runtime that
    /// runs the task when that runtime may have no other worker free.
    public func get() throws -> Success {
        completion.waitBlocking()
        return try completion.result!.get()
    }

    /// Blocks until the task finished, without looking at the outcome.
    public func wait() { completion.waitBlocking() }

    /// Suspends until the task finished, without looking at the outcome.
    public func wait() async { await completion.wait() }

    /// Whether the task finished (succeeded or failed).
    public var isDone: Bool { completion.result != nil }

    /// The task's error once it failed; nil while it runs and after success.
    public var error: (any Error)? {
        if case .failure(let error) = completion.result { return error }
        return nil
    }

    /// `task 'name' (#id)`.
    public var description: String { "task '\(name)' (#\(id))" }
}

/// A one-shot result with blocking and async waiters. Waiters are taken out
/// under the lock and resumed after releasing it.
final class TaskCompletion<Success: Sendable>: Sendable {
    private struct State {
        var result: Result<Success, any Error>?
        var continuations: [CheckedContinuation<Void, Never>] = []
        var semaphores: [DispatchSemaphore] = []
    }

    // protected by its own lock
    private let state = Locked(State())

    init() {}

    var result: Result<Success, any Error>? { state.withLock { $0.result } }

    /// Sets the result (the first call wins) and wakes every waiter.
    func complete(_ result: Result<Success, any Error>) {
        let (continuations, semaphores) = state.withLock { s -> ([CheckedContinuation<Void, Never>], [DispatchSemaphore]) in
            guard s.result == nil else { return ([], []) }
            s.result = result
            defer { s.continuations = []; s.semaphores = [] }
            return (s.continuations, s.semaphores)
        }
        for c in continuations { c.resume() }
        for s in semaphores { s.signal() }
    }

    func wait() async {
        if result != nil { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.result != nil { return true }
                s.continuations.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    func waitBlocking() {
        let semaphore = DispatchSemaphore(value: 0)
        let done = state.withLock { s -> Bool in
            if s.result != nil { return true }
            s.semaphores.append(semaphore)
            return false
        }
        if !done { semaphore.wait() }
    }
}
