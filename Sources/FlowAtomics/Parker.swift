import Synchronization

// Parker — a thread parker with one permit, as Java's LockSupport and
// Rust's std::thread::park.
//
// Algorithm: `state` is EMPTY (0), PARKED (-1) or NOTIFIED (1).
// - park: if a CAS NOTIFIED → EMPTY succeeds, consume the permit and
//   return at once. Otherwise take the lock, CAS EMPTY → PARKED (if it
//   fails, a notification slipped in: consume it and return), then wait on
//   the condition variable until a CAS NOTIFIED → EMPTY succeeds (spurious
//   wake-ups loop). A timed park gives up at its deadline and sets the state
//   back to EMPTY with an exchange, consuming a notification that raced in.
// - unpark: exchange the state to NOTIFIED. If it was PARKED, take and
//   release the lock (so the parker is either before its CAS to PARKED —
//   then its CAS fails — or inside the condition wait) and signal.
//
// Who may call what: one thread, the owner, calls `park`; any thread may
// call `unpark`. Two threads parking on one Parker is a contract violation.
//
// Orderings: the exchange in unpark and the CAS that consumes NOTIFIED in
// park are acquire-release, so what the unparking thread wrote before
// unpark is visible to the parked thread after it returns. No lost wake-up:
// a notification is either observed by park's first CAS, by its CAS to
// PARKED failing, or delivered by the signal, which cannot slip in between
// the CAS to PARKED and the wait because both happen under the lock that
// unpark takes before signalling.

/// Parks the calling thread until another thread unparks it. One permit:
/// an `unpark` before `park` makes that `park` return at once.
public final class Parker: Sendable {
    private static let empty = 0, parked = -1, notified = 1

    private let state = Atomic<Int>(0)
    private let lock = ConditionLock()

    public init() {}

    /// Blocks until a permit is available, then consumes it. Owner only.
    public func park() {
        if state.compareExchange(expected: Parker.notified, desired: Parker.empty, ordering: .acquiring).exchanged {
            return
        }
        lock.lock()
        defer { lock.unlock() }
        if !state.compareExchange(expected: Parker.empty, desired: Parker.parked, ordering: .acquiringAndReleasing).exchanged {
            // A notification arrived between the fast path and the lock.
            state.store(Parker.empty, ordering: .releasing)
            atomicMemoryFence(ordering: .acquiring)
            return
        }
        while true {
            lock.wait()
            if state.compareExchange(expected: Parker.notified, desired: Parker.empty, ordering: .acquiring).exchanged {
                return
            }
        }
    }

    /// Blocks until a permit is available or `timeout` passes. Returns true
    /// when it consumed a permit, false on timeout. Owner only.
    @discardableResult
    public func park(timeout: Duration) -> Bool {
        if state.compareExchange(expected: Parker.notified, desired: Parker.empty, ordering: .acquiring).exchanged {
            return true
        }
        let deadline = monotonicNanoseconds() &+ timeout.clampedNanoseconds
        lock.lock()
        defer { lock.unlock() }
        if !state.compareExchange(expected: Parker.empty, desired: Parker.parked, ordering: .acquiringAndReleasing).exchanged {
            state.store(Parker.empty, ordering: .releasing)
            atomicMemoryFence(ordering: .acquiring)
            return true
        }
        while true {
            let inTime = lock.wait(untilNanoseconds: deadline)
            if state.compareExchange(expected: Parker.notified, desired: Parker.empty, ordering: .acquiring).exchanged {
                return true
            }
            if !inTime {
                // Give up; an unpark racing with us leaves NOTIFIED, which we consume.
                return state.exchange(Parker.empty, ordering: .acquiring) == Parker.notified
            }
        }
    }

    /// Makes a permit available, waking the owner if it is parked. Any thread.
    public func unpark() {
        switch state.exchange(Parker.notified, ordering: .acquiringAndReleasing) {
        case Parker.empty, Parker.notified:
            return
        default:
            // PARKED: go through the lock so the signal cannot fall between
            // the owner's CAS to PARKED and its wait.
            lock.lock()
            lock.unlock()
            lock.signal()
        }
    }

    /// Whether the owner is blocked right now (a racy snapshot).
    public var isParked: Bool { state.load(ordering: .relaxed) == Parker.parked }
}
