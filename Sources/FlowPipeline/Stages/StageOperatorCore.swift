import FlowAtomics

/// The state every operator (batch, tee, merge, join) shares: its stats,
/// the cancellation flag, and the completion latch behind `wait()`.
/// All fields are protected by `state`'s lock; waiters are resumed after
/// it is released.
@usableFromInline
final class StageOperatorCore<Stats: Sendable>: Sendable {
    @usableFromInline struct State {
        @usableFromInline var stats: Stats
        @usableFromInline var cancelled = false
        @usableFromInline var cancelObserved = false
        @usableFromInline var finished = false
        @usableFromInline var waiters: [UnsafeContinuation<(any Error)?, Never>] = []

        @inlinable init(stats: Stats) { self.stats = stats }
    }

    @usableFromInline let state: Locked<State>

    @inlinable init(_ stats: Stats) { state = Locked(State(stats: stats)) }

    @inlinable var stats: Stats { state.withLock { $0.stats } }

    @inlinable var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Sets the cancellation flag; true the first time.
    @inlinable func markCancelled() -> Bool {
        state.withLock { s in
            defer { s.cancelled = true }
            return !s.cancelled
        }
    }

    /// Updates the stats and returns whether the operator is cancelled (one lock round trip).
    @inlinable
    func update(_ body: (inout Stats) -> Void) -> Bool {
        state.withLock { s in
            body(&s.stats)
            return s.cancelled
        }
    }

    @inlinable func noteCancelObserved() { state.withLock { $0.cancelObserved = true } }

    /// Latches completion and releases `wait()` callers.
    @inlinable func finish() {
        let (waiters, value) = state.withLock { s -> ([UnsafeContinuation<(any Error)?, Never>], (any Error)?) in
            s.finished = true
            defer { s.waiters.removeAll() }
            return (s.waiters, s.cancelObserved ? CancellationError() : nil)
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    @inlinable func wait() async -> (any Error)? {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<(any Error)?, Never>) in
            let done = state.withLock { s -> (any Error)?? in
                if s.finished { return .some(s.cancelObserved ? CancellationError() : nil) }
                s.waiters.append(continuation)
                return .none
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
