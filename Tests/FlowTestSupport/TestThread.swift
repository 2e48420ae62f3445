import FlowAtomics

/// A joinable OS thread for tests: stress bodies must run on real threads,
/// not on the cooperative pool, so that they can block and spin.
public final class TestThread: Sendable {
    private let thread: OSThread
    private let joined = Locked<Bool>(false)

    private init(_ thread: OSThread) { self.thread = thread }

    /// Starts `body` on a new thread.
    public static func spawn(_ body: @escaping @Sendable () -> Void) -> TestThread {
        guard let thread = OSThread.spawn(name: "flow-test", body) else {
            preconditionFailure("TestThread.spawn: the system refused to start a thread")
        }
        return TestThread(thread)
    }

    /// Starts `body` on a detached thread (nobody joins it; it cleans up
    /// after itself when `body` returns).
    public static func detached(_ body: @escaping @Sendable () -> Void) {
        guard let thread = OSThread.spawn(name: "flow-test", body) else {
            preconditionFailure("TestThread.detached: the system refused to start a thread")
        }
        thread.detach()
    }

    /// Lets the thread end on its own (for a thread that failed a time
    /// limit and may never return); `join` afterwards returns at once.
    public func detach() {
        let first = joined.withLock { done in
            defer { done = true }
            return !done
        }
        if first { thread.detach() }
    }

    /// Waits for the thread to end. Later calls return at once.
    public func join() {
        let first = joined.withLock { done in
            defer { done = true }
            return !done
        }
        if first { thread.join() }
    }
}
