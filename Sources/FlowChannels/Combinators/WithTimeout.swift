/// Runs `body` with a time limit: if it has not finished after
/// `duration`, it is cancelled and `FlowError.timedOut` is thrown.
///
/// Cancellation is cooperative: the call returns once `body` noticed it
/// (any `Channel` wait, `Task.sleep` or `Task.checkCancellation` does).
///
/// ```swift
/// let page = try await withTimeout(.seconds(2)) { try await fetch(url) }
/// ```
public func withTimeout<Success: Sendable>(
    _ duration: Duration,
    _ body: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    try await withThrowingTaskGroup(of: TimeoutRace<Success>.self) { group in
        group.addTask { .finished(try await body()) }
        group.addTask {
            try await Task.sleep(for: duration)
            return .timedOut
        }
        defer { group.cancelAll() }
        switch try await group.next()! {
        case .finished(let value): return value
        case .timedOut: throw FlowError.timedOut(what: "withTimeout", after: duration)
        }
    }
}

enum TimeoutRace<Success: Sendable>: Sendable {
    case finished(Success)
    case timedOut
}
