import Synchronization

/// The runs a `Pipeline` has in flight, shared with its watchdog's event
/// handler (which is created before the pipeline itself, so it cannot
/// capture the pipeline).
final class PipelineRuns: Sendable {
    /// One run in flight.
    struct Active {
        /// Cancels the task running the graph (set once it exists).
        var cancel: (@Sendable () -> Void)?
        /// The watch token of the run's global deadline.
        var deadline: WatchToken?
        /// Set by the handler when the deadline passed.
        var timedOut = false
        /// The run's live view, when progress is tracked.
        let monitor: GraphMonitor?
    }

    struct State {
        var active: [UInt64: Active] = [:]
        var next: UInt64 = 0
        var lastReport: PipelineReport?
        /// The monitor of the last run that ended after it started.
        var lastMonitor: GraphMonitor?
    }

    // protected by its own lock; never held while a run is cancelled
    let state = Locked(State())
    /// `state.active.count`, readable without the lock by the stall probe.
    let activeCount = Atomic<Int>(0)

    /// Registers a run and returns its key. A tracked run registers before
    /// the task running it exists (so its monitor is visible to
    /// `Pipeline.progress()` before any of its tasks runs), with a nil
    /// `cancel` that `setCancel` fills in.
    func begin(monitor: GraphMonitor?, cancel: (@Sendable () -> Void)?) -> UInt64 {
        let key = state.withLock { s -> UInt64 in
            s.next += 1
            s.active[s.next] = Active(cancel: cancel, monitor: monitor)
            return s.next
        }
        activeCount.wrappingAdd(1, ordering: .relaxed)
        return key
    }

    /// Attaches what cancels run `key`.
    func setCancel(_ cancel: @escaping @Sendable () -> Void, for key: UInt64) {
        state.withLock { $0.active[key]?.cancel = cancel }
    }

    /// Attaches the deadline token of run `key`.
    func setDeadline(_ token: WatchToken, for key: UInt64) {
        state.withLock { $0.active[key]?.deadline = token }
    }

    /// Unregisters run `key`; returns whether its global deadline passed.
    func end(_ key: UInt64) -> Bool {
        let run = state.withLock { s -> Active? in
            let run = s.active.removeValue(forKey: key)
            if let monitor = run?.monitor, monitor.isFinished { s.lastMonitor = monitor }
            return run
        }
        activeCount.wrappingSubtract(1, ordering: .relaxed)
        _ = run?.deadline?.finish()
        return run?.timedOut ?? false
    }

    /// The monitor of the latest run in flight that has one, else of the
    /// last run that ended (nil if none).
    func currentMonitor() -> GraphMonitor? {
        state.withLock { s in
            s.active.filter { $0.value.monitor != nil }.max { $0.key < $1.key }?.value.monitor ?? s.lastMonitor
        }
    }

    /// The watchdog's handler: a run's deadline token timed out → that run
    /// is cancelled (outside the lock). Other events need no action here:
    /// they are in the watchdog's log and drive `isResponsive`.
    func handle(_ event: WatchdogEvent) {
        guard case .taskTimedOut(_, _, let id) = event else { return }
        let cancel = state.withLock { s -> (@Sendable () -> Void)? in
            guard let key = s.active.first(where: { $0.value.deadline?.id == id })?.key else { return nil }
            s.active[key]?.timedOut = true
            return s.active[key]?.cancel ?? nil
        }
        cancel?()
    }
}
