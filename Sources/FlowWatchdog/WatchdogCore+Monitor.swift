// The monitor thread of a real-clock watchdog, and its sleep protocol.
//
// The monitor loops: mark itself awake (sleepTarget = 0), run everything
// due now, then, holding `wake`, compute the instant it must wake at
// (earliest task deadline, global deadline, progress check; and while
// activities go by, no later than now + the shortest timeout seen, so that
// producers of later deadlines need not signal), publish it in
// `sleepTarget`, scan the lanes once more, and sleep on `wake` until that
// instant unless the second scan found something earlier. No polling: with
// nothing due it sleeps without a timeout.
//
// Why no wake-up is lost. A producer publishes its activity with an SC
// store (a reused token's state word, or a slot word for a new token; see
// WatchToken and WatchLane), then loads `sleepTarget` (SC) and signals
// `wake` (taking the lock) only when its deadline is earlier than the
// target it saw. The monitor stores the target (SC), then loads every
// lane's slot words, the states of the tokens in them, and the retired
// stacks' heads (SC). In the single total order of these SC operations,
// either the monitor's load follows the producer's store (the second scan
// sees the activity and the monitor re-plans), or the producer's target
// load follows the monitor's store (it sees the target and signals if it
// must). An eviction publishes the new token in the slot before it pushes
// the old one onto the retired stack, and the scan reads the slot before
// the stack, so a scan can miss the old token in both places only when its
// stack load precedes the push; the producer then sees the target, and it
// compares the evicted token's deadline too. The signal cannot fall between
// the monitor's check and its wait: the monitor holds `wake` from before
// the store until `wait` releases it, and the producer signals under
// `wake`. `setGlobalTimeout` and `monitorProgress` follow the same pattern,
// with the state lock ordering their update against the second scan, and
// so does a thread's first `watch` (it registers its lane under that lock).
//
// Every `drainEvery`-th eviction of a lane also signals a sleeping monitor
// when the lane's retired stack is not empty, so finished evicted tokens do
// not pile up while the monitor sleeps.
//
// Horizon: a producer that signals leaves its timeout in `wakeHint`, and a
// scan that finds a slot holding another activity than at the previous
// scan notes that activity's timeout; while activities flow the monitor
// then wakes at least that often, so that the following producers, whose
// deadlines are later, see a target before their deadline and do not
// signal. Without it, a monitor with an empty heap would sleep "forever"
// and be woken by nearly every watch.

extension WatchdogCore {
    /// Starts the monitor thread once (first use). Idempotent.
    func startMonitor() {
        lifecycle.withLock { life in
            if started.load(ordering: .acquiring) { return }
            defer { started.store(true, ordering: .releasing) }
            guard !stopped.load(ordering: .acquiring) else { return }
            guard let thread = OSThread.spawn(name: configuration.threadName, { [self] in monitorLoop() }) else {
                preconditionFailure("Watchdog: could not start the monitor thread (pthread_create failed)")
            }
            life.thread = thread
        }
    }

    @inline(__always)
    func signalMonitor() {
        wake.lock()
        wake.signal()
        wake.unlock()
    }

    /// Signals the monitor when it sleeps past `deadline`; starts it if needed.
    func wakeIfEarlier(_ deadline: UInt64) {
        if !started.load(ordering: .acquiring) { startMonitor() }
        if deadline < sleepTarget.load(ordering: .sequentiallyConsistent) { signalMonitor() }
    }

    func monitorLoop() {
        while true {
            sleepTarget.store(0, ordering: .sequentiallyConsistent)  // awake: producers need not signal
            if stopped.load(ordering: .acquiring) { break }
            let hint = wakeHint.exchange(.max, ordering: .relaxed)
            state.withLock { $0.recentMinTimeout = hint }
            runDue(now: clock.nanoseconds())

            wake.lock()
            if stopped.load(ordering: .acquiring) {
                wake.unlock()
                break
            }
            let target = state.withLock { s in
                drain(&s)
                return sleepDeadline(&s)
            }
            sleepTarget.store(target, ordering: .sequentiallyConsistent)  // then re-check the lanes
            let recheck = state.withLock { s in
                drain(&s, sequentiallyConsistent: true)
                return sleepDeadline(&s)
            }
            if recheck < target || target <= clock.nanoseconds() {
                wake.unlock()
                continue
            }
            if target == .max {
                wake.wait()
            } else {
                // The clock may lag CLOCK_MONOTONIC by its resolution: sleep that much longer.
                _ = wake.wait(untilNanoseconds: target &+ clock.lagNanoseconds)
            }
            wake.unlock()
        }
        sleepTarget.store(0, ordering: .sequentiallyConsistent)
        lifecycle.withLock { life in
            // Stopped from this very thread (its handler): nobody will join us.
            if life.selfStopped, let thread = life.thread, thread.isCurrent {
                life.thread = nil
                thread.detach()
            }
        }
    }

    private func sleepDeadline(_ s: inout MonitorState) -> UInt64 {
        var next = nextDeadline(&s)
        if s.recentMinTimeout != .max {
            next = min(next, clock.nanoseconds() &+ s.recentMinTimeout)
        }
        return next
    }

    /// Stops monitoring and joins the monitor thread (unless called on it).
    /// Idempotent; tokens watched afterwards are inert.
    func stop() {
        if !stopped.exchange(true, ordering: .acquiringAndReleasing) {
            clock.manualClock?.detach(self)
            // Move the tokens and lanes out, release them after the lock.
            let dropped = state.withLock { s -> (DeadlineHeap, [WatchID: WatchToken], [WatchLane]) in
                s.stopped = true
                s.global = nil
                s.progress = nil
                defer {
                    s.heap = DeadlineHeap()
                    s.expired = [:]
                    s.lanes = []
                }
                return (s.heap, s.expired, s.lanes)
            }
            // No processor scans them any more: their threads may forget them (and their tokens).
            for lane in dropped.2 { lane.detached.store(true, ordering: .releasing) }
        }
        signalMonitor()
        let joinable: OSThread? = lifecycle.withLock { life in
            guard let thread = life.thread else { return nil }
            if thread.isCurrent {
                life.selfStopped = true
                return nil
            }
            life.thread = nil
            return thread
        }
        joinable?.join()
    }

    /// CPU time used by the monitor thread so far (nil before it started,
    /// after it was joined, with a manual clock, or off Linux).
    func monitorCPUTime() -> Duration? {
        lifecycle.withLock { $0.thread?.cpuTime() }
    }
}
