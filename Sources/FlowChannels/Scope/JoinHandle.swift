import Synchronization

/// A handle to work spawned in a `Scope`: await its value or result,
/// cancel it, or ask whether it finished.
///
/// Copyable and `Sendable` so that handles can be collected in arrays
/// and passed to `whenAll` / `whenAny`; ignoring a handle is fine (the
/// scope still waits for the work).
///
/// ```swift
/// try await withScope { scope in
///     let a = scope.spawn { try await fetch(1) }
///     let b = scope.spawn { try await fetch(2) }
///     print(try await a.value + b.value)
/// }
/// ```
public struct JoinHandle<Success: Sendable>: Sendable {
    let task: Task<Success, any Error>
    let finished: FinishFlag

    init(task: Task<Success, any Error>, finished: FinishFlag) {
        self.task = task
        self.finished = finished
    }

    /// The child's value; rethrows the child's error (a `CancellationError`
    /// if it was cancelled before it ran). Awaiting does not cancel the
    /// child when the awaiting task is cancelled.
    public var value: Success {
        get async throws { try await task.value }
    }

    /// The child's outcome as a `Result`.
    public var result: Result<Success, any Error> {
        get async { await task.result }
    }

    /// Requests cancellation of the child (cooperative).
    public func cancel() { task.cancel() }

    /// Whether cancellation was requested.
    public var isCancelled: Bool { task.isCancelled }

    /// Whether the child's body has returned or thrown.
    public var isFinished: Bool { finished.isSet }
}

/// A one-way flag set when a child's body ended.
final class FinishFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
