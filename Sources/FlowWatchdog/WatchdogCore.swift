import Synchronization

/// The watchdog's engine, shared by the public `Watchdog`, its monitor
/// thread (or `ManualClock`) and `WatchdogControl`. The monitor holds only
/// this object, so dropping the last `Watchdog` runs its deinit, which
/// stops and joins the monitor.
///
/// Threads and locks:
/// - `watch` is lock-free: it takes a recycled token from the calling
///   thread's WatchThreadCache (or allocates one), pushes it into `inbox`
///   and signals `wake` only when the monitor sleeps past the new deadline
///   (see WatchdogCore+Monitor for the sleep protocol).
/// - `state` (the heap, the global deadline, the progress monitor) is
///   changed only under its lock, by one "processing" thread at a time: the
///   monitor thread, `ManualClock.advance`, or a cancel that drains the inbox.
/// - Events, the probe and cancellation callbacks run with no lock held.
/// - Lock order: `wake` before `state` (the monitor's pre-sleep check);
///   no path takes `wake` while holding `state`.
final class WatchdogCore: Sendable {
    let configuration: Watchdog.Configuration
    let clock: WatchdogClock
    let handler: Watchdog.Handler?

    let inbox = WatchInbox()
    /// `WatchThreadCache.key`, read once (a global's lazy check costs a call).
    let threadCacheKey = WatchThreadCache.key
    /// `WatchdogClock.coarseReader`, read once.
    let coarseReader = WatchdogClock.coarseReader
    let state = Locked(MonitorState())
    let log: Locked<EventLog>
    let responsive = Atomic<Bool>(true)
    /// Set once by `stop()`; after it `watch` returns inert tokens.
    let stopped = Atomic<Bool>(false)
    /// True once the monitor thread was started (always true with a manual clock).
    let started = Atomic<Bool>(false)
    /// 0 while the monitor is awake; otherwise the instant it sleeps until
    /// (`UInt64.max`: no deadline at all). Producers read it after pushing.
    let sleepTarget = Atomic<UInt64>(0)
    /// The shortest timeout among producers that signalled the monitor since
    /// it last woke: the monitor then wakes at least that often while
    /// activities flow, so that later ones (with later deadlines) need not
    /// signal. Only an optimisation; correctness rests on the signal rule.
    let wakeHint = Atomic<UInt64>(.max)
    /// The monitor's condition: it waits here; producers signal it.
    let wake = ConditionLock()
    let lifecycle = Locked(Lifecycle())

    struct Lifecycle {
        var thread: OSThread?
        /// `stop()` was called on the monitor thread itself: it detaches on exit.
        var selfStopped = false
    }

    /// Pushes per thread between forced drains: bounds the number of
    /// finished tokens an idle monitor leaves in the inbox.
    static let drainEvery: UInt64 = 4096

    init(configuration: Watchdog.Configuration, clock: WatchdogClock, handler: Watchdog.Handler?) {
        self.configuration = configuration
        self.clock = clock
        self.handler = handler
        self.log = Locked(EventLog(capacity: configuration.eventLogCapacity))
        if let manual = clock.manualClock {
            started.store(true, ordering: .releasing)  // no thread: the clock drives us
            manual.attach(self)
        }
    }

    // MARK: Hot path

    @inline(__always)
    func watch(name: String, timeout duration: Duration) throws(FlowError) -> WatchToken {
        let cache = WatchThreadCache.current(threadCacheKey)
        guard let timeout = cache.pointee.nanoseconds(of: duration) else {
            throw .invalid("timeout", duration, "must be positive")
        }
        if !started.load(ordering: .acquiring) { startMonitor() }
        let shard = inbox.currentShard()
        let slot = inbox.headPointer(shard)
        let sequence = cache.pointee.takeID()
        let now = clock.nanoseconds(reader: coarseReader, scratch: &cache.pointee.scratch)
        let token: WatchToken
        // Taken out of the cache with its retain (no retain/release of our own). When that
        // retain is the only one, nobody can see the token change (WatchThreadCache); a
        // token that is shared or does not fit is simply let go.
        if var cached = cache.pointee.takeToken(), isKnownUniquelyReferenced(&cached),
           cached.canBeReused(name: name, clock: clock, inboxSlot: slot) {
            token = cached
            token.reuse(id: sequence, start: now, timeout: timeout)
        } else {
            token = WatchToken(
                name: name, id: WatchID(rawValue: sequence), start: now, timeout: timeout, clock: clock,
                inboxSlot: slot)
        }
        if stopped.load(ordering: .relaxed) { return token }  // inert: nobody watches any more
        inbox.push(token, shard: shard)
        // SC: after the push (Dekker pairing with the monitor's publish-then-recheck).
        let target = sleepTarget.load(ordering: .sequentiallyConsistent)
        if now &+ timeout < target {
            wakeHint.min(timeout, ordering: .relaxed)
            signalMonitor()
        } else if cache.pointee.countPush() % Self.drainEvery == 0 && target != 0
                    && token.inboxNext.load(ordering: .relaxed) != 0 {
            signalMonitor()  // the shard is piling up while the monitor sleeps
        }
        return token
    }

    // MARK: Processing (under `state`, by one thread at a time)

    /// Moves the inbox into the heap; finished tokens are dropped here.
    func drain(_ s: inout MonitorState, ordering: WatchInbox.DrainOrdering) {
        inbox.drain(ordering: ordering) { token in
            s.drainedMinTimeout = min(s.drainedMinTimeout, token.timeoutNanoseconds)
            if token.isFinished { return }
            s.heap.push(token, deadline: token.deadline.load(ordering: .relaxed))
        }
        if s.heap.count >= s.heapCompactAt {
            s.heap.removeAll { $0.token.isFinished }
            s.heapCompactAt = max(MonitorState.minimumCompaction, 2 * s.heap.count)
        }
    }

    /// The earliest instant anything may be due: a task deadline (perhaps
    /// stale), the global deadline, or the next progress check.
    func nextDeadline(_ s: inout MonitorState) -> UInt64 {
        while let top = s.heap.top, top.token.isFinished { s.heap.pop() }
        var next = s.heap.top?.deadline ?? .max
        if let global = s.global { next = min(next, global.deadline) }
        if let progress = s.progress { next = min(next, progress.nextCheck) }
        return next
    }

    /// For `ManualClock`: the next instant this watchdog needs to run at.
    func nextDueNanoseconds() -> UInt64 {
        state.withLock { s in
            guard !s.stopped else { return .max }
            drain(&s, ordering: .acquire)
            return nextDeadline(&s)
        }
    }

    /// Fires everything due at `now`, then delivers the events and requested
    /// cancellations with no lock held.
    func runDue(now: UInt64) {
        var events: [WatchdogEvent] = []
        var toCancel: [WatchToken] = []
        var check: (probe: ProgressWatch.Probe, generation: Int)?
        let cancelOnTimeout = configuration.cancelOnTimeout
        let cancelAllOnGlobal = configuration.cancelAllOnGlobalTimeout
        state.withLock { s in
            guard !s.stopped else { return }
            drain(&s, ordering: .acquire)
            while let top = s.heap.top, top.deadline <= now {
                let token = s.heap.pop()!.token
                if token.isFinished { continue }  // lazy deletion
                let deadline = token.deadline.load(ordering: .relaxed)
                if deadline > now {  // a heartbeat moved it: re-schedule
                    s.heap.push(token, deadline: deadline)
                    continue
                }
                guard token.markTimedOut() else { continue }  // finished meanwhile
                events.append(.taskTimedOut(
                    name: token.name, elapsed: Duration(watchdogNanoseconds: now &- token.startNanoseconds),
                    id: token.id))
                s.rememberExpired(token)
                if cancelOnTimeout { toCancel.append(token) }
            }
            if let global = s.global, global.deadline <= now {
                s.global = nil
                events.append(.globalTimeout(elapsed: Duration(watchdogNanoseconds: now &- global.setAt)))
                if cancelAllOnGlobal { toCancel += s.liveTokens() }
            }
            if let progress = s.progress, progress.nextCheck <= now {
                check = (progress.probe, progress.generation)
            }
        }
        if let check {
            let reading = check.probe()  // user code: no lock held
            state.withLock { s in
                guard !s.stopped, s.progress?.generation == check.generation else { return }
                events += s.progress!.observe(progress: reading.progress, pending: reading.pending, now: now)
                responsive.store(s.progress!.isResponsive, ordering: .releasing)
            }
        }
        deliver(events)
        for token in toCancel { token.cancel() }
    }

    func deliver(_ events: [WatchdogEvent]) {
        guard !events.isEmpty else { return }
        let control = WatchdogControl(core: self)
        for event in events {
            log.withLock { $0.append(event) }
            handler?(event, control)
        }
    }

    // MARK: Configuration at run time

    func setGlobalTimeout(_ timeout: UInt64) {
        let now = clock.nanoseconds()
        state.withLock { s in
            guard !s.stopped else { return }
            s.global = (deadline: now &+ timeout, setAt: now)
        }
        wakeIfEarlier(now &+ timeout)
    }

    func clearGlobalTimeout() {
        state.withLock { $0.global = nil }
    }

    func monitorProgress(
        interval: UInt64, stallAfter: UInt64, deadlockAfter: UInt64?, probe: @escaping ProgressWatch.Probe
    ) {
        let first = probe()  // the baseline reading, taken outside the lock
        let now = clock.nanoseconds()
        state.withLock { s in
            guard !s.stopped else { return }
            s.progressGeneration += 1
            s.progress = ProgressWatch(
                probe: probe, interval: interval, stallAfter: stallAfter, deadlockAfter: deadlockAfter,
                generation: s.progressGeneration, now: now, initialProgress: first.progress)
        }
        responsive.store(true, ordering: .releasing)
        wakeIfEarlier(now &+ interval)
    }

    func stopMonitoringProgress() {
        state.withLock { s in
            s.progress = nil
            s.progressGeneration += 1
        }
        responsive.store(true, ordering: .releasing)
    }

    // MARK: Cancellation

    func cancel(_ id: WatchID) -> Bool {
        let token: WatchToken? = state.withLock { s in
            drain(&s, ordering: .acquire)
            if let token = s.expired[id] { return token }
            return s.heap.entries.first { $0.id == id.rawValue }?.token
        }
        return token?.cancel() ?? false
    }

    func cancelAll() -> Int {
        let tokens = state.withLock { s in
            drain(&s, ordering: .acquire)
            return s.liveTokens()
        }
        var count = 0
        for token in tokens where token.cancel() { count += 1 }
        return count
    }
}

/// Everything the processing thread owns; guarded by `WatchdogCore.state`.
struct MonitorState {
    static let minimumCompaction = 1024

    var heap = DeadlineHeap()
    /// Timed-out tokens not yet seen finished, for `cancel(_:)` and `cancelAll()`.
    var expired: [WatchID: WatchToken] = [:]
    var expiredPruneAt = 64
    var heapCompactAt = MonitorState.minimumCompaction
    var global: (deadline: UInt64, setAt: UInt64)?
    var progress: ProgressWatch?
    var progressGeneration = 0
    /// The shortest timeout among tokens drained since the monitor last
    /// woke: while tokens flow, it wakes at least that often, so that new
    /// tokens (whose deadlines are later) need not signal it.
    var drainedMinTimeout = UInt64.max
    var stopped = false

    mutating func rememberExpired(_ token: WatchToken) {
        expired[token.id] = token
        if expired.count >= expiredPruneAt {
            expired = expired.filter { !$0.value.isFinished }
            expiredPruneAt = max(64, 2 * expired.count)
        }
    }

    /// Unfinished tokens the watchdog knows of (heap and timed out).
    func liveTokens() -> [WatchToken] {
        var tokens: [WatchToken] = []
        for entry in heap.entries where !entry.token.isFinished { tokens.append(entry.token) }
        for token in expired.values where !token.isFinished { tokens.append(token) }
        return tokens
    }
}
