/// How a suspended channel (or semaphore) party is woken: a task's
/// continuation or a blocked thread. Resumed exactly once, by whoever
/// removed the waiter from its state machine, after releasing the lock.
@usableFromInline
enum Resumer<Value: Sendable>: Sendable {
    case task(UnsafeContinuation<Value, Never>)
    case thread(ThreadWaiter<Value>)

    @inlinable
    func resume(_ value: sending Value) {
        switch self {
        case .task(let continuation): continuation.resume(returning: value)
        case .thread(let waiter): waiter.wake(value)
        }
    }
}

/// A plain thread blocked on a channel: a condition variable and a result slot.
@usableFromInline
final class ThreadWaiter<Value: Sendable>: @unchecked Sendable {  // value guarded by lock (below)
    // Safe to share: `value` is read and written only while holding `lock`.
    private let lock = ConditionLock()
    private var value: Value? = nil  // protected by lock

    @usableFromInline init() {}

    @usableFromInline func wake(_ value: sending Value) {
        lock.lock()
        self.value = value
        lock.unlock()
        lock.signal()
    }

    /// Blocks until `wake` was called; returns its value.
    @usableFromInline func wait() -> Value {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if let v = value.take() { return v }
            lock.wait()
        }
    }
}
