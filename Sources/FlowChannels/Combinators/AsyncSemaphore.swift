/// An async weighted semaphore: `acquire(n)` waits until `n` permits are
/// free; `release(n)` returns them. It never admits more than `permits`
/// at once, and serves waiters first come, first served: a large request
/// at the head is not overtaken by later small ones.
///
/// ```swift
/// let memory = try AsyncSemaphore(permits: 1 << 30)      // bytes
/// try await memory.acquire(chunk.count)
/// defer { memory.release(chunk.count) }
/// ```
public final class AsyncSemaphore: Sendable {
    /// The total number of permits.
    public let permits: Int
    private let state: Locked<SemaphoreState>

    /// Creates a semaphore with `permits` permits (at least 1).
    public init(permits: Int) throws(FlowError) {
        guard permits >= 1 else { throw .invalid("permits", permits, "must be at least 1") }
        self.permits = permits
        state = Locked(SemaphoreState(available: permits))
    }

    /// Takes `count` permits, waiting (FIFO) until they are free. Throws
    /// `CancellationError` if the task is cancelled while waiting; then no
    /// permit was taken.
    public func acquire(_ count: Int = 1) async throws(CancellationError) {
        precondition(count >= 1 && count <= permits,
                     "AsyncSemaphore.acquire(_:) needs 1...\(permits) permits, got \(count)")
        if state.withLock({ $0.tryAcquire(count) }) { return }
        let id = state.withLock { $0.makeID() }
        let admitted = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
                let immediate = state.withLock {
                    $0.acquire(count, id: id, continuation: continuation, isCancelled: Task.isCancelled)
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let (cancelled, admitted) = state.withLock { $0.cancel(id) }
            cancelled?.resume(returning: false)
            for waiter in admitted { waiter.resume(returning: true) }
        }
        if !admitted { throw CancellationError() }
    }

    /// Takes `count` permits if they are free now and nobody waits.
    public func tryAcquire(_ count: Int = 1) -> Bool {
        precondition(count >= 1 && count <= permits,
                     "AsyncSemaphore.tryAcquire(_:) needs 1...\(permits) permits, got \(count)")
        return state.withLock { $0.tryAcquire(count) }
    }

    /// Returns `count` permits and admits waiters in order.
    public func release(_ count: Int = 1) {
        let admitted = state.withLock { $0.release(count, limit: permits) }
        for waiter in admitted { waiter.resume(returning: true) }
    }

    /// Permits free now.
    public var available: Int { state.withLock { $0.available } }

    /// Tasks waiting for permits now.
    public var waiting: Int { state.withLock { $0.waiters.count } }
}

/// The pure state of `AsyncSemaphore`; continuations it returns are
/// resumed by the caller after unlocking.
struct SemaphoreState {
    struct Waiter {
        var id: UInt64
        var count: Int
        var continuation: UnsafeContinuation<Bool, Never>
    }

    var available: Int
    var waiters = RingBuffer<Waiter>()
    private var nextID: UInt64 = 0

    init(available: Int) { self.available = available }

    mutating func makeID() -> UInt64 {
        nextID += 1
        return nextID
    }

    mutating func tryAcquire(_ count: Int) -> Bool {
        guard waiters.isEmpty && available >= count else { return false }
        available -= count
        return true
    }

    /// Returns true (admitted) or false (cancelled) when decided at once,
    /// nil when the waiter was queued.
    mutating func acquire(
        _ count: Int, id: UInt64, continuation: UnsafeContinuation<Bool, Never>, isCancelled: Bool
    ) -> Bool? {
        if tryAcquire(count) { return true }
        if isCancelled { return false }
        waiters.append(Waiter(id: id, count: count, continuation: continuation))
        return nil
    }

    mutating func release(_ count: Int, limit: Int) -> [UnsafeContinuation<Bool, Never>] {
        available += count
        precondition(available <= limit, "AsyncSemaphore.release(_:) returned more permits than were acquired")
        return admit()
    }

    /// Removes waiter `id` if it still waits; its leaving may let the ones
    /// behind it in.
    mutating func cancel(_ id: UInt64) -> (UnsafeContinuation<Bool, Never>?, [UnsafeContinuation<Bool, Never>]) {
        guard let waiter = waiters.removeFirst(where: { $0.id == id }) else { return (nil, []) }
        return (waiter.continuation, admit())
    }

    private mutating func admit() -> [UnsafeContinuation<Bool, Never>] {
        var admitted: [UnsafeContinuation<Bool, Never>] = []
        while let head = waiters.first, head.count <= available {
            available -= head.count
            admitted.append(waiters.popFirst()!.continuation)
        }
        return admitted
    }
}
