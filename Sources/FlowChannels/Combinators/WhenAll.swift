/// Waits for every handle and returns their values in the handles' order.
///
/// The first failure (in completion order) cancels the other handles and
/// is rethrown once they have ended. Cancelling the calling task cancels
/// every handle.
///
/// ```swift
/// let squares = try await whenAll((1...10).map { i in scope.spawn { i * i } })
/// ```
public func whenAll<Success: Sendable>(_ handles: [JoinHandle<Success>]) async throws -> [Success] {
    try await withTaskCancellationHandler {
        try await withThrowingTaskGroup(of: (Int, Success).self) { group in
            for (index, handle) in handles.enumerated() {
                group.addTask { (index, try await handle.value) }
            }
            var values = [Success?](repeating: nil, count: handles.count)
            do {
                for try await (index, value) in group { values[index] = value }
            } catch {
                for handle in handles { handle.cancel() }
                throw error
            }
            return values.map { $0! }
        }
    } onCancel: {
        for handle in handles { handle.cancel() }
    }
}

/// Waits for handles of different types and returns their values as a
/// tuple: `let (user, posts) = try await whenAll(userHandle, postsHandle)`.
///
/// The handles are awaited in order; the first failure found cancels the
/// others and is rethrown. Cancelling the calling task cancels every handle.
public func whenAll<each Success: Sendable>(
    _ handles: repeat JoinHandle<each Success>
) async throws -> (repeat each Success) {
    try await withTaskCancellationHandler {
        do {
            return (repeat try await (each handles).value)
        } catch {
            repeat (each handles).cancel()
            throw error
        }
    } onCancel: {
        repeat (each handles).cancel()
    }
}
