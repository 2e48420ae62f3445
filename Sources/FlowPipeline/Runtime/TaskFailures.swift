/// A task that failed, as `Runtime.failed` and `onError` report it.
public struct FailedTask: Sendable, CustomStringConvertible {
    /// The task's name.
    public let name: String
    /// The task's id.
    public let id: UInt64
    /// What it threw (`FlowError.timedOut` past its timeout, `CancellationError`
    /// when a shutdown without waiting stopped it).
    public let error: any Error

    /// `task 'name' (#id): error`.
    public var description: String { "task '\(name)' (#\(id)): \(error)" }
}

/// Thrown by `Runtime.waitAll(throwOnError: true)` once everything finished:
/// every task that failed (since the last `clearFailed()`), by name.
public struct TaskFailures: Error, Sendable, CustomStringConvertible {
    /// The failed tasks, in the order they failed.
    public let failures: [FailedTask]

    /// `2 task(s) failed: 'a' (#3): …; 'b' (#9): …`.
    public var description: String {
        "\(failures.count) task(s) failed: " + failures.map { "'\($0.name)' (#\($0.id)): \($0.error)" }.joined(separator: "; ")
    }
}
