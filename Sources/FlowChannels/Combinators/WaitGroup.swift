/// Counts outstanding work: `add` before starting it, `done` when it
/// ends, `wait` until the count is back at zero.
///
/// ```swift
/// let group = WaitGroup()
/// for item in items {
///     group.add()
///     executor.submit { process(item); group.done() }
/// }
/// try await group.wait()
/// ```
public final class WaitGroup: Sendable {
    private struct State {
        var count = 0
        var waiters: [UInt64: UnsafeContinuation<Bool, Never>] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Locked(State())

    /// Creates a group with a count of zero.
    public init() {}

    /// Adds `n` to the count.
    public func add(_ n: Int = 1) {
        precondition(n >= 0, "WaitGroup.add(_:) needs n >= 0, got \(n)")
        state.withLock { $0.count += n }
    }

    /// Marks one unit as done; at zero every waiter is released.
    public func done() {
        let released: [UnsafeContinuation<Bool, Never>] = state.withLock {
            precondition($0.count > 0, "WaitGroup.done() called more often than add()")
            $0.count -= 1
            guard $0.count == 0 else { return [] }
            let all = Array($0.waiters.values)
            $0.waiters = [:]
            return all
        }
        for waiter in released { waiter.resume(returning: true) }
    }

    /// The current count.
    public var count: Int { state.withLock { $0.count } }

    /// Waits until the count is zero. Throws `CancellationError` if the
    /// task is cancelled while waiting.
    public func wait() async throws(CancellationError) {
        let id: UInt64? = state.withLock {
            if $0.count == 0 { return nil }
            $0.nextID += 1
            return $0.nextID
        }
        guard let id else { return }
        let released = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
                let immediate: Bool? = state.withLock {
                    if $0.count == 0 { return true }
                    if Task.isCancelled { return false }
                    $0.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(returning: false)
        }
        if !released { throw CancellationError() }
    }
}
