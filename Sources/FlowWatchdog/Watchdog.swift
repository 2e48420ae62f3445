/// Notices when watched work runs too long, when nothing moves although
/// work is waiting, and when a whole run is past its deadline, and says so
/// once, to a handler that can cancel.
///
/// - `watch(name:timeout:)` returns a `WatchToken` for one activity; an
///   activity not finished within `timeout` of its last heartbeat is
///   reported once as `.taskTimedOut`.
/// - `setGlobalTimeout(_:)` arms one deadline for the whole run.
/// - `monitorProgress(checkEvery:stallAfter:deadlockAfter:_:)` samples a
///   progress count and a pending count, and reports `.stalled`,
///   `.deadlocked` and `.recovered`; `isResponsive` follows them.
///
/// With the real clock, one monitor thread ("flow-watchdog") starts on first
/// use and sleeps until the nearest deadline or check; `stop()` (or dropping
/// the watchdog) joins it. With `.manual(clock)` there is no thread and
/// events fire inside `ManualClock.advance(by:)`.
///
/// The handler runs on the monitor thread (or the advancing thread), with
/// no lock held, one event at a time; keep it short. It receives a
/// `WatchdogControl` through which it may cancel activities.
///
/// ```swift
/// let watchdog = try Watchdog { event, control in
///     print(event)
///     if case .taskTimedOut(_, _, let id) = event { control.cancel(id) }
///     if case .globalTimeout = event { control.cancelAll() }
/// }
/// try watchdog.setGlobalTimeout(.seconds(300))
/// let token = try watchdog.watch(name: "resize", timeout: .seconds(60))
/// token.onCancel { job.abort() }
/// job.run()
/// token.finish()
/// ```
public final class Watchdog: Sendable {
    /// Receives each event, with a control to cancel activities.
    public typealias Handler = @Sendable (_ event: WatchdogEvent, _ control: WatchdogControl) -> Void

    let core: WatchdogCore

    /// Creates a watchdog. Throws `FlowError.invalidArgument` for bad
    /// configuration (see `Configuration`). Starts no thread until first use.
    public init(
        configuration: Configuration = Configuration(),
        clock: WatchdogClock = .monotonic,
        handler: Handler? = nil
    ) throws(FlowError) {
        try configuration.validate()
        core = WatchdogCore(configuration: configuration, clock: clock, handler: handler)
    }

    deinit {
        core.stop()
    }

    /// The configuration the watchdog was created with.
    public var configuration: Configuration { core.configuration }

    /// The clock deadlines are measured on.
    public var clock: WatchdogClock { core.clock }

    // MARK: Activities

    /// Starts watching one activity: unless `finish()` is called on the
    /// returned token within `timeout` of now (or of its last `heartbeat()`),
    /// the watchdog reports `.taskTimedOut` once.
    ///
    /// The hot path: lock-free (a thread's first `watch` on a watchdog
    /// registers the thread under a lock), and allocation-free in steady
    /// state (a finished token nobody holds any more is reused in place by
    /// a later `watch` on the same thread with the same name). Throws when
    /// `timeout` is not positive. After `stop()` the token is inert.
    @inline(__always)
    public func watch(name: String, timeout: Duration) throws(FlowError) -> WatchToken {
        try core.watch(name: name, timeout: timeout)
    }

    /// Watches with `configuration.defaultTimeout`. Throws when none is set.
    public func watch(name: String) throws(FlowError) -> WatchToken {
        guard let timeout = core.configuration.defaultTimeout else {
            throw .invalid("defaultTimeout", "nil", "must be set to watch without a timeout")
        }
        return try watch(name: name, timeout: timeout)
    }

    /// Requests cancellation of the activity `id` (as carried by
    /// `.taskTimedOut`). Returns false if it is unknown, finished or
    /// already cancelled. O(1) for a timed-out activity; for one still
    /// running it scans the watched set (prefer `WatchToken.cancel()`).
    @discardableResult
    public func cancel(_ id: WatchID) -> Bool { core.cancel(id) }

    /// Requests cancellation of every activity watched and not finished;
    /// returns how many it reached. Activities watched afterwards are not
    /// affected.
    @discardableResult
    public func cancelAll() -> Int { core.cancelAll() }

    // MARK: Global deadline

    /// Arms (or re-arms) the run's global deadline, `timeout` from now. It
    /// fires `.globalTimeout` once; set it again to arm another.
    public func setGlobalTimeout(_ timeout: Duration) throws(FlowError) {
        guard let nanoseconds = timeout.positiveNanoseconds else {
            throw .invalid("globalTimeout", timeout, "must be positive")
        }
        core.setGlobalTimeout(nanoseconds)
    }

    /// Disarms the global deadline.
    public func clearGlobalTimeout() { core.clearGlobalTimeout() }

    // MARK: Progress

    /// Samples `probe` every `checkEvery` (once now, on this thread, for the
    /// baseline; then on the monitor) and reports `.stalled` once the
    /// progress count has not moved for `stallAfter` while `pending > 0`,
    /// `.deadlocked` once it has not moved for `deadlockAfter`, and
    /// `.recovered` when it moves again or nothing is pending. Replaces any
    /// earlier probe. `probe` must be cheap and must not block.
    ///
    /// Throws when an interval is not positive, or `deadlockAfter < stallAfter`.
    public func monitorProgress(
        checkEvery: Duration,
        stallAfter: Duration,
        deadlockAfter: Duration? = nil,
        _ probe: @escaping @Sendable () -> (progress: Int, pending: Int)
    ) throws(FlowError) {
        guard let interval = checkEvery.positiveNanoseconds else {
            throw .invalid("checkEvery", checkEvery, "must be positive")
        }
        guard let stall = stallAfter.positiveNanoseconds else {
            throw .invalid("stallAfter", stallAfter, "must be positive")
        }
        var deadlock: UInt64?
        if let deadlockAfter {
            guard let nanoseconds = deadlockAfter.positiveNanoseconds else {
                throw .invalid("deadlockAfter", deadlockAfter, "must be positive")
            }
            guard deadlockAfter >= stallAfter else {
                throw .invalid("deadlockAfter", deadlockAfter, "must be at least stallAfter (\(stallAfter))")
            }
            deadlock = nanoseconds
        }
        core.monitorProgress(interval: interval, stallAfter: stall, deadlockAfter: deadlock, probe: probe)
    }

    /// Stops sampling progress; `isResponsive` becomes true.
    public func stopMonitoringProgress() { core.stopMonitoringProgress() }

    /// False while the monitored progress is stalled or deadlocked.
    public var isResponsive: Bool { core.responsive.load(ordering: .acquiring) }

    // MARK: Events and lifecycle

    /// The most recent events, oldest first (at most
    /// `configuration.eventLogCapacity`).
    public var recentEvents: [WatchdogEvent] { core.log.withLock { $0.events } }

    /// How many events were reported since creation (including those that
    /// have left `recentEvents`).
    public var totalEvents: Int { core.log.withLock { $0.total } }

    /// A handle for cancelling activities, as the handler receives it.
    public var control: WatchdogControl { WatchdogControl(core: core) }

    /// CPU time the monitor thread has used so far: nil before it started,
    /// after `stop()`, with a manual clock, or where the platform cannot
    /// tell (Linux can). For benchmarks that check the monitor sleeps.
    public var monitorThreadCPUTime: Duration? { core.monitorCPUTime() }

    /// Stops watching and joins the monitor thread. Idempotent. Safe to
    /// call from the handler (the thread then ends after the handler
    /// returns). Tokens watched afterwards are inert; no event fires.
    public func stop() { core.stop() }
}

/// What a `Watchdog.Handler` may do: cancel one activity or all of them.
/// Holding on to it keeps the watchdog's engine (not the `Watchdog`) alive.
public struct WatchdogControl: Sendable {
    let core: WatchdogCore

    /// Requests cancellation of the activity `id`; see `Watchdog.cancel(_:)`.
    @discardableResult
    public func cancel(_ id: WatchID) -> Bool { core.cancel(id) }

    /// Requests cancellation of every unfinished activity; see `Watchdog.cancelAll()`.
    @discardableResult
    public func cancelAll() -> Int { core.cancelAll() }

    /// See `Watchdog.isResponsive`.
    public var isResponsive: Bool { core.responsive.load(ordering: .acquiring) }
}
