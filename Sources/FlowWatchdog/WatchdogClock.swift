/// The clock a `Watchdog` reads its time from: the real monotonic clock, or
/// a `ManualClock` that tests (yours and Flow's) move by hand.
///
/// With `.monotonic` the watchdog runs its own monitor thread, which sleeps
/// until the nearest deadline. With `.manual(clock)` no thread is started:
/// every due event fires inside `ManualClock.advance(by:)`, on the thread
/// that advances the clock, before `advance` returns.
///
/// ```swift
/// let clock = ManualClock()
/// let watchdog = try Watchdog(clock: .manual(clock))
/// let token = try watchdog.watch(name: "load", timeout: .seconds(5))
/// clock.advance(by: .seconds(5))      // fires taskTimedOut for "load" here
/// ```
public struct WatchdogClock: Sendable {
    enum Kind: Sendable {
        case monotonic
        case manual(ManualClock)
    }

    let kind: Kind

    /// The system's monotonic clock (CLOCK_MONOTONIC): never goes back and
    /// does not follow wall-clock changes.
    public static var monotonic: WatchdogClock { WatchdogClock(kind: .monotonic) }

    /// A clock that only moves when `clock.advance(by:)` is called.
    public static func manual(_ clock: ManualClock) -> WatchdogClock { WatchdogClock(kind: .manual(clock)) }

    /// The current reading: time since the clock's origin (boot for the
    /// monotonic clock, creation for a manual clock).
    public var now: Duration { .nanoseconds(Int64(clamping: nanoseconds())) }

    /// The current reading in nanoseconds; the unit of every deadline.
    @inline(__always)
    func nanoseconds() -> UInt64 {
        switch kind {
        case .monotonic: return monotonicNanoseconds()
        case .manual(let clock): return clock.nanoseconds
        }
    }

    var manualClock: ManualClock? {
        if case .manual(let clock) = kind { return clock }
        return nil
    }
}

extension Duration {
    /// A whole-nanosecond duration from an unsigned count (saturating).
    init(watchdogNanoseconds ns: UInt64) {
        self = .nanoseconds(Int64(clamping: ns))
    }

    /// A short human rendering for event descriptions: "250 ms", "1.5 s".
    var watchdogDescription: String {
        let ns = clampedNanoseconds
        func fixed(_ value: UInt64, _ unit: UInt64, _ suffix: String) -> String {
            let whole = value / unit
            let tenths = (value % unit) * 10 / unit
            return tenths == 0 ? "\(whole) \(suffix)" : "\(whole).\(tenths) \(suffix)"
        }
        if ns >= 1_000_000_000 { return fixed(ns, 1_000_000_000, "s") }
        if ns >= 1_000_000 { return fixed(ns, 1_000_000, "ms") }
        if ns >= 1_000 { return fixed(ns, 1_000, "µs") }
        return "\(ns) ns"
    }
}
