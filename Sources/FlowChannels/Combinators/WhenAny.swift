/// Waits for the first of `handles` to finish, cancels the others and
/// returns the winner's index and value (or rethrows the winner's error).
///
/// The losers are cancelled, not awaited: if they run in a `Scope`, the
/// scope still waits for them to end. Cancelling the calling task
/// cancels every handle. `handles` must not be empty.
///
/// ```swift
/// let (index, data) = try await whenAny([
///     scope.spawn { try await readFromCache() },
///     scope.spawn { try await readFromDisk() },
/// ])
/// ```
public func whenAny<Success: Sendable>(
    _ handles: [JoinHandle<Success>]
) async throws -> (index: Int, value: Success) {
    precondition(!handles.isEmpty, "whenAny(_:) needs at least one handle")
    let decided = Locked(false)
    let result: Result<(index: Int, value: Success), any Error> = await withTaskCancellationHandler {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Result<(index: Int, value: Success), any Error>, Never>) in
            for (index, handle) in handles.enumerated() {
                // One watcher per handle; the first to finish wins.
                Task {
                    let outcome = await handle.result
                    let won = decided.withLock { isDecided in
                        defer { isDecided = true }
                        return !isDecided
                    }
                    guard won else { return }
                    for (other, loser) in handles.enumerated() where other != index { loser.cancel() }
                    continuation.resume(returning: outcome.map { (index, $0) })
                }
            }
        }
    } onCancel: {
        for handle in handles { handle.cancel() }
    }
    return try result.get()
}
