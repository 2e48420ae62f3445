import Synchronization

/// The watchdog's engine, shared by the public `Watchdog`, its monitor
/// thread (or `ManualClock`) and `WatchdogControl`. The monitor holds only
/// this object, so dropping the last `Watchdog` runs its deinit, which
/// stops and joins the monitor.
///
/// Threads and locks:
/// - `watch` is lock-free: it reuses a token in the calling thread's lane
///   (WatchLane: plain stores and one SC store), or puts a new one there,
///   and signals `wake` only when the monitor sleeps past the new deadline
///   (see WatchdogCore+Monitor for the sleep protocol).
/// - `state` (the lanes, the heap, the global deadline, the progress
///   monitor) is changed only under its lock, by one "processing" thread at
///   a time: the monitor thread, `ManualClock.advance`, or a cancel that
///   needs to look at the watched set. Registering a thread's lane (once
///   per thread and watchdog) also takes it.
/// - Events, the probe and cancellation callbacks run with no lock held.
/// - Lock order: `wake` before `state` (the monitor's pre-sleep check);
///   no path takes `wake` while holding `state`.
final class WatchdogCore: Sendable {
    let configuration: Watchdog.Configuration
    let clock: WatchdogClock
    let handler: Watchdog.Handler?

    /// Unique in the process (from 1): how a thread's cache recognises its lane.
    let serial: UInt64
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
    /// (`UInt64.max`: no deadline at all). Producers read it after publishing.
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

    /// Evictions per lane between forced drains: bounds the number of
    /// finished tokens an idle monitor leaves in a lane's retired stack.
    static let drainEvery: UInt64 = 1024

    private static let serials = Atomic<UInt64>(0)

    init(configuration: Watchdog.Configuration, clock: WatchdogClock, handler: Watchdog.Handler?) {
        self.configuration = configuration
        self.clock = clock
        self.handler = handler
        self.serial = Self.serials.wrappingAdd(1, ordering: .relaxed).newValue
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
        let id = cache.pointee.takeID()
        let now = clock.nanoseconds(reader: coarseReader, scratch: &cache.pointee.scratch)
        if stopped.load(ordering: .relaxed) {  // inert: nobody watches any more
            return WatchToken(name: name, id: WatchID(rawValue: id), start: now, timeout: timeout, clock: clock)
        }
        let lane = cache.pointee.laneBlock(for: self)
        if let token = reusableToken(lane.slot(lane.cursor), name: name) {
            token.reuse(id: id, start: now, timeout: timeout)  // ends with the SC publication
            // SC: after the publication (Dekker pairing with the monitor's publish-then-rescan).
            if now &+ timeout < sleepTarget.load(ordering: .sequentiallyConsistent) { wakeFor(timeout) }
            return token
        }
        return watchSlow(name: name, id: id, now: now, timeout: timeout, cache: cache)
    }

    /// The token in `slot` when the owner may reuse it for an activity
    /// named `name` (see WatchToken), retained for the caller; else nil.
    /// Only the slot's owner may call this.
    @inline(__always)
    private func reusableToken(_ slot: UnsafeMutablePointer<Atomic<UInt>>, name: String) -> WatchToken? {
        let word = slot.pointee.load(ordering: .relaxed)  // only this thread writes it
        guard word != 0 else { return nil }
        let unmanaged = Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!)
        // The cheap test first, without touching the reference count. It stays true once
        // true: a finished activity can no longer time out or be cancelled.
        guard unmanaged._withUnsafeGuaranteedRef({ $0.canBeReused(name: name) }) else { return nil }
        // The slot's reference, borrowed into `token`: when it is the only one, nobody but a
        // processor reading the slot can see the token change (WatchToken).
        var token = unmanaged.takeRetainedValue()
        guard isKnownUniquelyReferenced(&token) else {
            _ = Unmanaged.passRetained(consume token)  // the slot keeps its reference
            return nil
        }
        _ = Unmanaged.passRetained(token)  // the slot's reference again; `token` goes to the caller
        return token
    }

    /// `watch` when the cursor's slot cannot be reused: reuse another slot,
    /// or put a new token into one (an empty one, else the next after the
    /// cursor, whose token is evicted onto the lane's retired stack).
    @inline(never)
    func watchSlow(
        name: String, id: UInt64, now: UInt64, timeout: UInt64, cache: UnsafeMutablePointer<WatchThreadCache>
    ) -> WatchToken {
        let lane = cache.pointee.lane(for: self)
        var evictedDeadline = UInt64.max
        var chosen: WatchToken?
        for step in 1..<WatchLane.slotCount {
            let index = (lane.cursor + step) % WatchLane.slotCount
            if lane.slot(index).pointee.load(ordering: .relaxed) == 0 {
                let token = WatchToken(name: name, id: WatchID(rawValue: id), start: now, timeout: timeout, clock: clock)
                _ = lane.replace(slot: index, with: Unmanaged.passRetained(token))  // SC publication
                lane.cursor = index
                chosen = token
                break
            }
            if let token = reusableToken(lane.slot(index), name: name) {
                token.reuse(id: id, start: now, timeout: timeout)  // SC publication
                lane.cursor = index
                chosen = token
                break
            }
        }
        let token: WatchToken
        var evicted = false
        if let chosen {
            token = chosen
        } else {
            evicted = true
            // Every slot is busy (unfinished, held, scheduled) or named otherwise: evict the next one.
            let index = (lane.cursor + 1) % WatchLane.slotCount
            token = WatchToken(name: name, id: WatchID(rawValue: id), start: now, timeout: timeout, clock: clock)
            evictedDeadline = lane.replace(slot: index, with: Unmanaged.passRetained(token))  // SC publication
            lane.cursor = index
        }
        // SC, after the publication. An evicted unfinished token counts too: a processor
        // scanning meanwhile may have missed it in both its slot and the retired stack.
        let target = sleepTarget.load(ordering: .sequentiallyConsistent)
        if min(now &+ timeout, evictedDeadline) < target {
            wakeFor(timeout)
        } else if evicted && target != 0 && lane.evictions % Self.drainEvery == 0 && lane.hasRetired {
            signalMonitor()  // the retired stack is piling up while the monitor sleeps
        }
        return token
    }

    /// A producer's deadline is earlier than the monitor's sleep target.
    @inline(never)
    func wakeFor(_ timeout: UInt64) {
        wakeHint.min(timeout, ordering: .relaxed)
        signalMonitor()
    }

    /// Adds a thread's new lane to the scanned set.
    func register(_ lane: WatchLane) {
        let accepted = state.withLock { s in
            guard !s.stopped else { return false }
            s.lanes.append(lane)
            return true
        }
        if !accepted { lane.detached.store(true, ordering: .releasing) }
    }

    // MARK: Processing (under `state`, by one thread at a time)

    /// Brings the heap up to date with the lanes: schedules every pending
    /// token of every slot and retired stack not yet scheduled in its
    /// current generation, notes activity for the monitor's horizon, and
    /// forgets closed lanes. `sequentiallyConsistent`: the loads are SC
    /// (the monitor's pre-sleep scan, see WatchdogCore+Monitor).
    func drain(_ s: inout MonitorState, sequentiallyConsistent: Bool = false) {
        var closedLanes: [ObjectIdentifier] = []
        for lane in s.lanes {
            if lane.closed.load(ordering: .acquiring) {
                // Its thread exited: the slots were emptied onto the retired stack before
                // `closed` was set, so this drain takes the last of its tokens.
                lane.takeRetired(sequentiallyConsistent: false) { schedule($0, &s, sequentiallyConsistent: false) }
                closedLanes.append(ObjectIdentifier(lane))
                continue
            }
            for index in 0..<WatchLane.slotCount {
                let word = sequentiallyConsistent
                    ? lane.slot(index).pointee.load(ordering: .sequentiallyConsistent)
                    : lane.slot(index).pointee.load(ordering: .acquiring)
                guard word != 0 else { continue }
                // Alive while we look: the slot, or the retired stack we drain below, holds it.
                Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!)._withUnsafeGuaranteedRef { token in
                    let id = token.idWord.load(ordering: .relaxed)
                    if id != lane.seenIDs[index] {  // activities went by since the last scan
                        lane.seenIDs[index] = id
                        s.recentMinTimeout = min(s.recentMinTimeout, token.timeoutNanoseconds)
                    }
                    schedule(token, &s, sequentiallyConsistent: sequentiallyConsistent)
                }
            }
            // After the slots: a token evicted meanwhile is seen here if not there.
            lane.takeRetired(sequentiallyConsistent: sequentiallyConsistent) { token in
                schedule(token, &s, sequentiallyConsistent: sequentiallyConsistent)
            }
        }
        // Only those seen closed before their last drain (one closing now is drained next time).
        if !closedLanes.isEmpty { s.lanes.removeAll { closedLanes.contains(ObjectIdentifier($0)) } }
        if s.heap.count >= s.heapCompactAt {
            s.heap.removeAll { !$0.token.isPending(generation: $0.generation) }
            s.heapCompactAt = max(MonitorState.minimumCompaction, 2 * s.heap.count)
        }
    }

    /// Puts `token` into the heap if it is pending in a generation not yet
    /// scheduled. It may be in the middle of a reuse by its owner: read as
    /// described in WatchToken (state, words, fence, state again).
    @inline(__always)
    private func schedule(_ token: WatchToken, _ s: inout MonitorState, sequentiallyConsistent: Bool) {
        let first = token.loadState(sequentiallyConsistent: sequentiallyConsistent)
        guard first & (WatchToken.finishedBit | WatchToken.timedOutBit) == 0 else { return }
        let generation = first >> WatchToken.generationShift
        guard token.scheduledGeneration.load(ordering: .relaxed) != generation else { return }
        let deadline = token.deadline.load(ordering: .relaxed)
        let id = token.idWord.load(ordering: .relaxed)
        atomicMemoryFence(ordering: .acquiring)
        let second = token.state.load(ordering: .relaxed)
        guard second >> WatchToken.generationShift == generation,
              second & (WatchToken.finishedBit | WatchToken.timedOutBit) == 0 else { return }
        token.scheduledGeneration.store(generation, ordering: .relaxed)
        s.heap.push(DeadlineHeap.Entry(deadline: deadline, id: id, generation: generation, token: token))
    }

    /// The earliest instant anything may be due: a task deadline (perhaps
    /// stale), the global deadline, or the next progress check.
    func nextDeadline(_ s: inout MonitorState) -> UInt64 {
        while let top = s.heap.top, !top.token.isPending(generation: top.generation) { s.heap.pop() }
        var next = s.heap.top?.deadline ?? .max
        if let global = s.global { next = min(next, global.deadline) }
        if let progress = s.progress { next = min(next, progress.nextCheck) }
        return next
    }

    /// For `ManualClock`: the next instant this watchdog needs to run at.
    func nextDueNanoseconds() -> UInt64 {
        state.withLock { s in
            guard !s.stopped else { return .max }
            drain(&s)
            return nextDeadline(&s)
        }
    }

    /// Fires everything due at `now`, then delivers the events and requested
    /// cancellations with no lock held.
    func runDue(now: UInt64) {
        var events: [WatchdogEvent] = []
        var toCancel: [(token: WatchToken, generation: Int?)] = []
        var check: (probe: ProgressWatch.Probe, generation: Int)?
        let cancelOnTimeout = configuration.cancelOnTimeout
        let cancelAllOnGlobal = configuration.cancelAllOnGlobalTimeout
        state.withLock { s in
            guard !s.stopped else { return }
            drain(&s)
            while let top = s.heap.top, top.deadline <= now {
                var entry = s.heap.pop()!
                let token = entry.token
                guard token.isPending(generation: entry.generation) else { continue }  // lazy deletion
                let deadline = token.deadline.load(ordering: .relaxed)
                if deadline > now {  // a heartbeat moved it: re-schedule
                    entry.deadline = deadline
                    s.heap.push(entry)
                    continue
                }
                // The CAS synchronises with the generation's publication: name, start and id are its own.
                guard token.markTimedOut(generation: entry.generation) else { continue }  // finished meanwhile
                events.append(.taskTimedOut(
                    name: token.name, elapsed: Duration(watchdogNanoseconds: now &- token.startNanoseconds),
                    id: WatchID(rawValue: entry.id)))
                s.rememberExpired(token, id: WatchID(rawValue: entry.id))
                if cancelOnTimeout { toCancel.append((token, nil)) }
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
        for (token, generation) in toCancel { _ = token.cancel(generation: generation) }
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
        let found: (token: WatchToken, generation: Int?)? = state.withLock { s in
            drain(&s)
            if let token = s.expired[id] { return (token, nil) }
            guard let entry = s.heap.entries.first(where: {
                $0.id == id.rawValue && $0.token.isPending(generation: $0.generation)
            }) else { return nil }
            return (entry.token, entry.generation)
        }
        guard let found else { return false }
        return found.token.cancel(generation: found.generation)
    }

    func cancelAll() -> Int {
        let tokens = state.withLock { s in
            drain(&s)
            return s.liveTokens()
        }
        var count = 0
        for (token, generation) in tokens where token.cancel(generation: generation) { count += 1 }
        return count
    }
}

/// Everything the processing thread owns; guarded by `WatchdogCore.state`.
struct MonitorState {
    static let minimumCompaction = 1024

    /// Every thread's lane in this watchdog (until the thread exits).
    var lanes: [WatchLane] = []
    var heap = DeadlineHeap()
    /// Timed-out tokens not yet seen finished, for `cancel(_:)` and `cancelAll()`.
    /// (A timed-out token is never reused, so it stays in its generation.)
    var expired: [WatchID: WatchToken] = [:]
    var expiredPruneAt = 64
    var heapCompactAt = MonitorState.minimumCompaction
    var global: (deadline: UInt64, setAt: UInt64)?
    var progress: ProgressWatch?
    var progressGeneration = 0
    /// The shortest timeout among the activities seen going by since the
    /// monitor last woke: while they flow, it wakes at least that often, so
    /// that new activities (whose deadlines are later) need not signal it.
    var recentMinTimeout = UInt64.max
    var stopped = false

    mutating func rememberExpired(_ token: WatchToken, id: WatchID) {
        expired[id] = token
        if expired.count >= expiredPruneAt {
            expired = expired.filter { !$0.value.isFinished }
            expiredPruneAt = max(64, 2 * expired.count)
        }
    }

    /// Unfinished activities the watchdog knows of (heap and timed out),
    /// each with the generation it must still be in (nil: timed out, stays).
    func liveTokens() -> [(token: WatchToken, generation: Int?)] {
        var tokens: [(token: WatchToken, generation: Int?)] = []
        for entry in heap.entries where entry.token.isPending(generation: entry.generation) {
            tokens.append((entry.token, entry.generation))
        }
        for token in expired.values where !token.isFinished { tokens.append((token, nil)) }
        return tokens
    }
}
