#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A pthread mutex and condition variable at stable heap addresses, the
/// blocking layer under `Parker` and `EventCount`. The condition variable
/// uses the monotonic clock for timed waits where the platform allows it.
///
/// `package` so that the layers above (the watchdog's monitor thread, the
/// executor) can block on it too; it is not public API.
package final class ConditionLock: @unchecked Sendable {  // pthread objects at stable addresses (below)
    // Safe to share: the pthread objects are designed for concurrent use and
    // never move; they are destroyed only in deinit.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        #if os(Linux)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
        #else
        pthread_cond_init(cond, nil)
        #endif
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    @inline(__always) package func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) package func unlock() { pthread_mutex_unlock(mutex) }
    @inline(__always) package func signal() { pthread_cond_signal(cond) }
    @inline(__always) package func broadcast() { pthread_cond_broadcast(cond) }

    /// Waits on the condition; the caller holds the lock. May wake spuriously.
    @inline(__always) package func wait() { pthread_cond_wait(cond, mutex) }

    /// Waits until `deadline` (a `monotonicNanoseconds()` value) at the
    /// latest; the caller holds the lock. Returns false when the deadline
    /// passed. May wake spuriously.
    package func wait(untilNanoseconds deadline: UInt64) -> Bool {
        #if os(Linux)
        var ts = timespec(tv_sec: .init(deadline / 1_000_000_000), tv_nsec: .init(deadline % 1_000_000_000))
        return pthread_cond_timedwait(cond, mutex, &ts) != ETIMEDOUT
        #else
        let now = monotonicNanoseconds()
        if deadline <= now { return false }
        let left = deadline - now
        var ts = timespec(tv_sec: .init(left / 1_000_000_000), tv_nsec: .init(left % 1_000_000_000))
        return pthread_cond_timedwait_relative_np(cond, mutex, &ts) != ETIMEDOUT
        #endif
    }
}

/// Nanoseconds on the monotonic clock (CLOCK_MONOTONIC): never goes back,
/// does not count as wall time.
@inline(__always)
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

extension Duration {
    /// The duration in whole nanoseconds, clamped to 0...UInt64.max / 2.
    package var clampedNanoseconds: UInt64 {
        let (s, a) = components
        if s < 0 { return 0 }
        if s >= Int64(UInt64.max / 2 / 1_000_000_000) { return UInt64.max / 2 }
        return UInt64(s) * 1_000_000_000 + UInt64(max(0, a) / 1_000_000_000)
    }
}
