/// The stall/deadlock state machine behind `Watchdog.monitorProgress`: a
/// pure value fed one probe reading per check, returning the events it
/// implies. Owned by the watchdog's state lock.
///
/// States and transitions (t is the check's time, `stuckSince` the time the
/// count last moved or nothing was pending):
///
///     moving  --(stuck >= stallAfter, pending > 0)-->  stalled   emits stalled
///     moving  --(stuck >= deadlockAfter)----------->  deadlocked emits stalled, deadlocked
///     stalled --(stuck >= deadlockAfter)----------->  deadlocked emits deadlocked
///     stalled, deadlocked --(count moved or pending == 0)--> moving emits recovered
///
/// The watchdog is responsive exactly in state `moving`.
struct ProgressWatch {
    enum Phase: Equatable { case moving, stalled, deadlocked }

    typealias Probe = @Sendable () -> (progress: Int, pending: Int)

    let probe: Probe
    let interval: UInt64
    let stallAfter: UInt64
    let deadlockAfter: UInt64?
    /// Tells apart a replaced monitor from the current one across the
    /// unlocked probe call.
    let generation: Int

    private(set) var nextCheck: UInt64
    private(set) var phase: Phase = .moving
    private var lastProgress: Int
    private var stuckSince: UInt64

    init(
        probe: @escaping Probe, interval: UInt64, stallAfter: UInt64, deadlockAfter: UInt64?,
        generation: Int, now: UInt64, initialProgress: Int
    ) {
        self.probe = probe
        self.interval = interval
        self.stallAfter = stallAfter
        self.deadlockAfter = deadlockAfter
        self.generation = generation
        self.nextCheck = now &+ interval
        self.lastProgress = initialProgress
        self.stuckSince = now
    }

    var isResponsive: Bool { phase == .moving }

    /// Applies one reading taken at `now`; schedules the next check on the
    /// grid start + k * interval (skipping checks that a late wake-up missed).
    mutating func observe(progress: Int, pending: Int, now: UInt64) -> [WatchdogEvent] {
        if now >= nextCheck {
            nextCheck &+= ((now - nextCheck) / interval + 1) &* interval
        }
        if progress != lastProgress || pending <= 0 {
            lastProgress = progress
            stuckSince = now
            if phase == .moving { return [] }
            phase = .moving
            return [.recovered]
        }
        let stuck = now &- stuckSince
        let since = Duration(watchdogNanoseconds: stuck)
        var events: [WatchdogEvent] = []
        if phase == .moving && stuck >= stallAfter {
            phase = .stalled
            events.append(.stalled(since: since, pending: pending))
        }
        // deadlockAfter >= stallAfter (validated), so `stalled` always comes first.
        if phase == .stalled, let deadlockAfter, stuck >= deadlockAfter {
            phase = .deadlocked
            events.append(.deadlocked(since: since, pending: pending))
        }
        return events
    }
}
