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
///
/// On Linux the mutex is glibc's adaptive kind: a contended `lock` spins
/// briefly before sleeping in the kernel. Flow's critical sections are a few
/// dozen instructions, so the holder almost always releases it within the
/// spin; a plain mutex instead sends two threads handing one lock back and
/// forth (a stage's producer and worker, say) into futex syscalls on every
/// collision (measured: the 4-stage pipeline spent a third of its time in
/// the kernel). `withLock` is inlinable and the value lives behind a
/// pointer, so a call compiles to lock, body, unlock, with no closure
/// context and no dynamic exclusivity check.
public final class Locked<Value>: @unchecked Sendable {  // value touched only under the mutex (below)
    // Safe to share: the value is read and written only inside `withLock`,
    // under `mutex`; both live at stable heap addresses owned by this object.
    @usableFromInline let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    @usableFromInline let storage = UnsafeMutablePointer<Value>.allocate(capacity: 1)  // protected by mutex

    public init(_ value: Value) {
        storage.initialize(to: value)
        #if canImport(Glibc)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        #else
        pthread_mutex_init(mutex, nil)
        #endif
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        storage.deinitialize(count: 1)
        storage.deallocate()
    }

    /// Runs `body` with exclusive access to the value.
    @inlinable @inline(__always)
    public func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&storage.pointee)
    }
}
