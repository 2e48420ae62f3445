#if canImport(Glibc)
import Glibc
#endif
import FlowAtomics
import Synchronization

// Helpers shared by the benchmark executables.

private final class ThreadStart {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on a detached pthread (benchmark threads must be real
/// threads: they spin and block outside Swift concurrency).
public func spawnThread(_ body: @escaping @Sendable () -> Void) {
    let start = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
    var tid = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&tid, &attr, { raw in
        Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
        return nil
    }, start)
    pthread_attr_destroy(&attr)
    precondition(rc == 0, "pthread_create failed: \(rc)")
}

/// Counts down from `n`; one thread blocks in `wait()` until zero.
///
/// `wait()` returns only after the last `done()` stopped touching the
/// countdown, so callers that reach it unretained (function jobs) may
/// drop it as soon as `wait()` returns.
public final class Countdown: Sendable {
    private let remaining: Atomic<Int>
    private let parker = Parker()
    private let released = Atomic<Bool>(false)
    public init(_ n: Int) { remaining = Atomic(n) }
    @inline(__always) public func done() {
        if remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            parker.unpark()
            released.store(true, ordering: .releasing)   // the last access of done()
        }
    }
    public func wait() {
        while remaining.load(ordering: .acquiring) > 0 { parker.park() }
        var backoff = Backoff()
        while !released.load(ordering: .acquiring) { backoff.snooze() }
    }
}
