#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A count-down latch with a timed wait, so a test that would hang fails by
/// its time limit instead. `Gate` is a latch of one.
///
/// ```swift
/// let done = Latch(count: 4)
/// for _ in 0..<4 { TestThread.spawn { work(); done.countDown() } }
/// #expect(done.wait(timeout: .seconds(10)))
/// ```
public final class Latch: @unchecked Sendable { // atomic count; pthread state used only under its mutex
    // Safe: `remaining` is atomic; a waiter checks it under `mutex`, and the
    // count-down that reaches zero takes `mutex` before broadcasting, so a
    // waiter either sees zero or is woken. The pthread objects live at
    // stable heap addresses for the latch's lifetime.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let remainingCount: Atomic<Int>
    private var remaining: Int { remainingCount.load(ordering: .acquiring) }

    public init(count: Int) {
        precondition(count >= 0, "Latch(count:) needs count >= 0, got \(count)")
        remainingCount = Atomic(count)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Counts down by `n`; at zero every waiter is released.
    public func countDown(_ n: Int = 1) {
        let before = remainingCount.wrappingSubtract(n, ordering: .acquiringAndReleasing).oldValue
        if before > 0 && before - n <= 0 {
            pthread_mutex_lock(mutex)
            pthread_mutex_unlock(mutex)
            pthread_cond_broadcast(cond)
        }
    }

    public var isOpen: Bool { remaining <= 0 }

    /// Blocks until the count reaches zero or `timeout` passes; returns
    /// whether the latch opened.
    @discardableResult
    public func wait(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while remaining > 0 {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return false }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let (secs, attos) = left.components
            var nsec = Int(ts.tv_nsec) + Int(attos / 1_000_000_000)
            var sec = Int(ts.tv_sec) + Int(secs) + nsec / 1_000_000_000
            nsec %= 1_000_000_000
            if sec < 0 { sec = Int.max }
            ts.tv_sec = .init(sec)
            ts.tv_nsec = .init(nsec)
            pthread_cond_timedwait(cond, mutex, &ts)
        }
        return true
    }

    /// Waits without blocking a cooperative thread: polls with `Task.yield`
    /// and short sleeps until open or `timeout`. For use from async tests.
    public func waitAsync(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isOpen {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return true
    }
}

/// A one-shot gate: closed until `open()`; `wait(timeout:)` reports whether it opened.
public final class Gate: Sendable {
    private let latch = Latch(count: 1)
    public init() {}
    public func open() { latch.countDown() }
    public var isOpen: Bool { latch.isOpen }
    @discardableResult
    public func wait(timeout: Duration) -> Bool { latch.wait(timeout: timeout) }
    public func waitAsync(timeout: Duration) async -> Bool { await latch.waitAsync(timeout: timeout) }
}
