#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// The system's monotonic clock: never goes back and does not follow
    /// wall-clock changes. On Linux it is read at kernel-tick resolution
    /// (CLOCK_MONOTONIC_COARSE, 1-4 ms), which costs a third of a precise
    /// read on the `watch` and `heartbeat` hot paths; deadlines are
    /// therefore exact to one tick, plenty for timeouts of a watchdog.
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
        case .monotonic: return coarseMonotonicNanoseconds()
        case .manual(let clock): return clock.nanoseconds
        }
    }

    /// How far the clock may lag CLOCK_MONOTONIC (its resolution): the
    /// monitor sleeps that much past a deadline so that, on waking, the
    /// clock has reached it.
    var lagNanoseconds: UInt64 {
        switch kind {
        case .monotonic: return WatchdogClock.coarseResolution
        case .manual: return 0
        }
    }

    #if os(Linux)
    private static let coarseResolution: UInt64 = {
        var ts = timespec()
        guard clock_getres(CLOCK_MONOTONIC_COARSE, &ts) == 0 else { return 10_000_000 }
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }()

    @inline(__always)
    private func coarseMonotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
    #else
    private static let coarseResolution: UInt64 = 0

    @inline(__always)
    private func coarseMonotonicNanoseconds() -> UInt64 { monotonicNanoseconds() }
    #endif

    /// True when both read the same clock.
    @inline(__always)
    func isSame(as other: WatchdogClock) -> Bool {
        switch (kind, other.kind) {
        case (.monotonic, .monotonic): return true
        case (.manual(let a), .manual(let b)): return a === b
        default: return false
        }
    }

    /// A function reading a clock, as `clock_gettime`.
    typealias Reader = @convention(c) (clockid_t, UnsafeMutablePointer<timespec>?) -> Int32

    /// The vDSO's `clock_gettime` itself, called without the libc wrapper
    /// (about 1.5 ns less per read); libc's when the vDSO cannot be found.
    /// Read once by each watchdog (`WatchdogCore.coarseReader`).
    static let coarseReader: Reader = {
        #if os(Linux)
        if let vdso = dlopen("linux-vdso.so.1", RTLD_LAZY | RTLD_NOLOAD),
           let symbol = dlsym(vdso, "__vdso_clock_gettime") {
            return unsafeBitCast(symbol, to: Reader.self)
        }
        #endif
        return { clock_gettime($0, $1!) }
    }()

    /// `nanoseconds()`, reading the monotonic clock through `reader` into
    /// `scratch` (memory the caller owns: no address-taken local).
    @inline(__always)
    func nanoseconds(reader: Reader, scratch: UnsafeMutablePointer<timespec>) -> UInt64 {
        switch kind {
        case .monotonic:
            #if os(Linux)
            _ = reader(CLOCK_MONOTONIC_COARSE, scratch)
            return UInt64(scratch.pointee.tv_sec) &* 1_000_000_000 &+ UInt64(scratch.pointee.tv_nsec)
            #else
            return coarseMonotonicNanoseconds()
            #endif
        case .manual(let clock): return clock.nanoseconds
        }
    }

    var manualClock: ManualClock? {
        if case .manual(let clock) = kind { return clock }
        return nil
    }
}

extension Duration {
    /// The duration in whole nanoseconds (at least 1) when it is positive,
    /// nil otherwise; saturates at `UInt64.max / 2`. About 3 ns, several
    /// times cheaper than going through `components` on the hot path.
    @inline(__always)
    var positiveNanoseconds: UInt64? {
        let attoseconds = self.attoseconds
        guard attoseconds > 0 else { return nil }
        // a / 10^9 == (a / 2^9) / 1_953_125 for a >= 0 (nested floor division), and the
        // second division is by a constant, so it compiles to a multiply.
        let shifted = attoseconds >> 9
        let ns: UInt64
        if shifted <= Int128(UInt64.max) {
            ns = UInt64(truncatingIfNeeded: shifted) / 1_953_125
        } else {  // more than about 2.6 hours: the rare slow path
            let high = UInt64(truncatingIfNeeded: attoseconds >> 64)
            guard high < 1_000_000_000 else { return UInt64.max / 2 }  // quotient would not fit 64 bits
            ns = UInt64(1_000_000_000).dividingFullWidth((high, UInt64(truncatingIfNeeded: attoseconds))).quotient
        }
        return min(UInt64.max / 2, max(1, ns))
    }

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
