import Synchronization

/// A clock that moves only when told to, for deterministic tests of
/// timeouts, stalls and deadlocks.
///
/// A watchdog created with `.manual(clock)` starts no monitor thread.
/// `advance(by:)` steps the clock from one due instant to the next (task
/// deadlines, the global deadline, progress checks) and, at each instant,
/// runs the watchdogs attached to it on the calling thread: their events
/// reach the handler and the log, and requested cancellations reach the
/// tokens' callbacks, before `advance` returns. An event therefore reports
/// the exact instant it was due, not the end of the step.
///
/// ```swift
/// let clock = ManualClock()
/// let watchdog = try Watchdog(clock: .manual(clock))
/// let token = try watchdog.watch(name: "parse", timeout: .seconds(2))
/// clock.advance(by: .seconds(1))
/// token.heartbeat()                       // deadline is now t = 3 s
/// clock.advance(by: .seconds(2))
/// // watchdog.recentEvents == [.taskTimedOut(name: "parse", elapsed: .seconds(3), id: token.id)]
/// ```
///
/// Advance the clock from one thread at a time, and not from inside a
/// watchdog's handler or a cancellation callback. Watching, finishing and
/// cancelling may happen on any thread while the clock advances.
public final class ManualClock: Sendable {
    private let current: Atomic<UInt64>
    // Watchdogs driven by this clock; held weakly so that the clock does not
    // keep a dropped watchdog alive.
    private let clients = Locked<[WeakCore]>([])

    private struct WeakCore {
        weak var core: WatchdogCore?
    }

    /// Creates a clock reading `start` (zero by default).
    public init(start: Duration = .zero) {
        current = Atomic(start.clampedNanoseconds)
    }

    /// The current reading.
    public var now: Duration { Duration(watchdogNanoseconds: nanoseconds) }

    var nanoseconds: UInt64 { current.load(ordering: .acquiring) }

    /// Moves the clock forward by `duration`, firing every event that falls
    /// due on the way, in time order, before returning.
    public func advance(by duration: Duration) {
        precondition(duration >= .zero, "ManualClock.advance(by:) needs a non-negative duration, got \(duration)")
        advance(toNanoseconds: nanoseconds &+ duration.clampedNanoseconds)
    }

    /// Moves the clock forward to `instant` (a reading, as `now` returns),
    /// firing every event due on the way. Does nothing if `instant` is not
    /// later than `now`.
    public func advance(to instant: Duration) {
        advance(toNanoseconds: instant.clampedNanoseconds)
    }

    private func advance(toNanoseconds target: UInt64) {
        while true {
            let cores = liveClients()
            var next = UInt64.max
            for core in cores { next = min(next, core.nextDueNanoseconds()) }
            guard next <= target else { break }
            // Step to the next due instant (never backwards), run everything due there.
            let instant = current.max(next, ordering: .acquiringAndReleasing).newValue
            for core in cores { core.runDue(now: instant) }
        }
        current.max(target, ordering: .acquiringAndReleasing)
    }

    func attach(_ core: WatchdogCore) {
        clients.withLock { $0.append(WeakCore(core: core)) }
    }

    func detach(_ core: WatchdogCore) {
        clients.withLock { list in list.removeAll { $0.core == nil || $0.core === core } }
    }

    private func liveClients() -> [WatchdogCore] {
        clients.withLock { list in
            list.removeAll { $0.core == nil }
            return list.compactMap(\.core)
        }
    }
}
