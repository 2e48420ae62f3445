/// What the watchdog noticed. Each event goes to the handler given to
/// `Watchdog.init` and into the bounded log `Watchdog.recentEvents`.
///
/// | event | fires when | how often |
/// |---|---|---|
/// | `taskTimedOut` | an unfinished activity's deadline (last heartbeat + timeout) passed | once per activity |
/// | `globalTimeout` | the deadline set by `setGlobalTimeout` passed | once per `setGlobalTimeout` |
/// | `stalled` | the progress count did not move for `stallAfter` while work was pending | once per stall |
/// | `deadlocked` | ... nor for `deadlockAfter` | once per stall |
/// | `recovered` | the count moved again (or nothing is pending) after `stalled` | once per stall |
public enum WatchdogEvent: Sendable, Equatable, CustomStringConvertible {
    /// The activity `name` (token `id`) was not finished by its deadline;
    /// `elapsed` is the time from `watch` to the moment it was noticed.
    case taskTimedOut(name: String, elapsed: Duration, id: WatchID)
    /// The run's global deadline passed; `elapsed` is the time since
    /// `setGlobalTimeout` was called.
    case globalTimeout(elapsed: Duration)
    /// The progress count has not moved for `since` while `pending` work
    /// items were waiting.
    case stalled(since: Duration, pending: Int)
    /// After `stalled` (and perhaps `deadlocked`), the count moved again or
    /// no work is pending any more.
    case recovered
    /// The progress count has not moved for `since`, at least `deadlockAfter`,
    /// while `pending` work items were waiting: probably a hang.
    case deadlocked(since: Duration, pending: Int)

    /// A one-line message for logs, e.g. "watchdog: task 'load' (#33) timed out after 5 s".
    public var description: String {
        switch self {
        case let .taskTimedOut(name, elapsed, id):
            return "watchdog: task '\(name)' (\(id)) timed out after \(elapsed.watchdogDescription)"
        case let .globalTimeout(elapsed):
            return "watchdog: global timeout after \(elapsed.watchdogDescription)"
        case let .stalled(since, pending):
            return "watchdog: stalled, no progress for \(since.watchdogDescription) with \(pending) pending"
        case .recovered:
            return "watchdog: recovered, progress resumed"
        case let .deadlocked(since, pending):
            return "watchdog: deadlocked, no progress for \(since.watchdogDescription) with \(pending) pending"
        }
    }
}

/// The last `capacity` events, oldest first (a ring). Guarded by the
/// watchdog's log lock.
struct EventLog {
    let capacity: Int
    private var ring: [WatchdogEvent] = []
    private var next = 0
    private(set) var total = 0

    init(capacity: Int) {
        self.capacity = capacity
        ring.reserveCapacity(min(capacity, 1024))
    }

    mutating func append(_ event: WatchdogEvent) {
        total += 1
        if ring.count < capacity {
            ring.append(event)
        } else {
            ring[next] = event
            next = (next + 1) % capacity
        }
    }

    var events: [WatchdogEvent] {
        Array(ring[next...] + ring[..<next])
    }
}
