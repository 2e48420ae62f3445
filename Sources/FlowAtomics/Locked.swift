#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A value guarded by a pthread mutex: `withLock` is the only way in.
///
/// Why not `Synchronization.Mutex`: on Linux it is built on raw futexes,
/// which ThreadSanitizer does not see, so every value it guards shows up as
/// a data race under `make tsan` (seen with Swift 6.3.1). pthread mutexes
/// are intercepted by the sanitizer and cost the same uncontended (an
/// atomic exchange to lock, one to unlock). Flow uses `Locked` wherever it
/// needs a lock, so the sanitizer pass checks the real synchronisation.
///
/// Never hold the lock across an `await` or a call into user code.
public final class Locked<Value>: @unchecked Sendable {  // value touched only under the mutex (below)
    // Safe to share: `value` is read and written only inside `withLock`,
    // under `mutex`; the mutex lives at a stable heap address.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value  // protected by mutex

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
