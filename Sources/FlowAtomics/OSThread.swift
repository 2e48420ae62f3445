#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A named, joinable pthread running one closure: the executor's workers,
/// the watchdog's monitor, test threads. Not a Swift task, so that it can
/// block (park, wait on a condition) without taking a thread from the
/// cooperative pool. `package`: shared by the Flow modules, not public API.
package struct OSThread: @unchecked Sendable {  // a plain handle, joined or detached once (below)
    // Safe to send: a pthread_t is a plain handle; each owner guarantees
    // that it is joined or detached exactly once.
    package let handle: pthread_t

    private final class Start {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    /// Starts `body` on a new thread named `name` (truncated to the 15
    /// bytes Linux allows). Returns nil if the system refused the thread.
    package static func spawn(name: String, _ body: @escaping @Sendable () -> Void) -> OSThread? {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            #if canImport(Darwin)
            let start = Unmanaged<Start>.fromOpaque(raw).takeRetainedValue()
            #else
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            #endif
            OSThread.setCurrentName(start.name)
            start.body()
            return nil
        }, start)
        guard rc == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            return nil
        }
        return OSThread(handle: tid)
    }

    #if canImport(Glibc) || canImport(Musl)
    private typealias SetName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
    /// `pthread_setname_np` is a GNU extension the Glibc module does not
    /// import, so it is looked up once at run time.
    private static let setName: SetName? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pthread_setname_np") else { return nil }
        return unsafeBitCast(symbol, to: SetName.self)
    }()
    #endif

    package static func setCurrentName(_ name: String) {
        var bytes = Array(name.utf8.prefix(15))
        bytes.append(0)
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                #if canImport(Darwin)
                _ = pthread_setname_np(chars.baseAddress!)
                #else
                _ = setName?(pthread_self(), chars.baseAddress!)
                #endif
            }
        }
    }

    /// True when called on this thread.
    package var isCurrent: Bool { pthread_equal(pthread_self(), handle) != 0 }

    package func join() { pthread_join(handle, nil) }

    package func detach() { pthread_detach(handle) }

    /// CPU time the thread has consumed so far, or nil where unsupported.
    package func cpuTime() -> Duration? {
        #if os(Linux)
        var clock = clockid_t()
        guard pthread_getcpuclockid(handle, &clock) == 0 else { return nil }
        var ts = timespec()
        guard clock_gettime(clock, &ts) == 0 else { return nil }
        return .seconds(Int64(ts.tv_sec)) + .nanoseconds(Int64(ts.tv_nsec))
        #else
        return nil
        #endif
    }
}
