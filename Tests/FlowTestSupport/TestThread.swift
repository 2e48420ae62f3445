#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable OS thread for tests: stress bodies must run on real threads,
/// not on the cooperative pool, so that they can block and spin.
public final class TestThread: Sendable {
    // Written once by `spawn` before the handle escapes; read by `join`.
    private let handle: Box

    private final class Box: @unchecked Sendable {
        // Safe: set once in `spawn` before the box is shared, read only by `join`.
        var thread: pthread_t? = nil
    }

    private final class Start {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private init(handle: Box) { self.handle = handle }

    /// Starts `body` on a new thread.
    public static func spawn(_ body: @escaping @Sendable () -> Void) -> TestThread {
        let box = Box()
        let start = Unmanaged.passRetained(Start(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            #if canImport(Darwin)
            let start = Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
            #else
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            #endif
            start.body()
            return nil
        }, start)
        precondition(rc == 0, "TestThread.spawn: pthread_create failed with \(rc)")
        box.thread = tid
        return TestThread(handle: box)
    }

    /// Starts `body` on a detached thread (nobody joins it; it cleans up
    /// after itself when `body` returns).
    public static func detached(_ body: @escaping @Sendable () -> Void) {
        let thread = spawn(body)
        if let t = thread.handle.thread {
            thread.handle.thread = nil
            pthread_detach(t)
        }
    }

    /// Waits for the thread to end. Call once.
    public func join() {
        guard let thread = handle.thread else { return }
        handle.thread = nil
        pthread_join(thread, nil)
    }
}
