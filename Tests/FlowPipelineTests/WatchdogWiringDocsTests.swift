import FlowPipeline
import FlowTestSupport
import Testing

/// The wiring examples of docs/Watchdog.md ("How the layers above use it"),
/// compiled and checked here because they need an executor beside the
/// watchdog. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Watchdog wiring docs", .timeLimit(.minutes(1)))
struct WatchdogWiringDocsTests {
    @Test func observerWatchesEveryUnitOfWork() throws {
        let clock = ManualClock()
        let events = Collector<WatchdogEvent>()
        let watchdog = try Watchdog(clock: .manual(clock)) { event, _ in events.append(event) }
        let executor = try Executor(workers: 2, name: "observed")
        executor.setObserver(WatchdogObserver(watchdog, timeout: .seconds(2), workers: executor.workerCount))

        let started = Gate(), release = Gate()
        try executor.submit(name: "slow") { started.open(); release.wait(timeout: .seconds(30)) }
        #expect(started.wait(timeout: .seconds(30)))
        clock.advance(by: .seconds(3))                 // "slow" is still running: past its 2 s
        release.open()
        for i in 0..<100 { try executor.submit(name: "quick-\(i)") {} }
        executor.shutdown()
        clock.advance(by: .seconds(3))                 // the quick ones finished: no event

        let timedOut = events.values.map { event -> String in
            if case let .taskTimedOut(name, elapsed, _) = event { return "\(name) \(elapsed)" }
            return "\(event)"
        }
        #expect(timedOut == ["slow 2.0 seconds"])
        #expect(watchdog.totalEvents == 1)
    }

    @Test func progressProbeFromTheSnapshot() throws {
        let clock = ManualClock()
        let events = Collector<WatchdogEvent>()
        let watchdog = try Watchdog(clock: .manual(clock)) { event, _ in events.append(event) }
        let config = PipelineConfig().idleTimeout(.seconds(10)).deadlockTimeout(.seconds(20))
        let executor = try Executor(workers: 2, name: "probed")
        let started = Gate(), release = Gate()
        try executor.submit(name: "stuck") { started.open(); release.wait(timeout: .seconds(30)) }
        #expect(started.wait(timeout: .seconds(30)))

        try watchdog.monitorProgress(checkEvery: .seconds(1),
                                     stallAfter: config.idleTimeout,
                                     deadlockAfter: config.deadlockTimeout) {
            let s = executor.snapshot()
            return (progress: s.executed, pending: s.queued + s.workers.count { !$0.isIdle })
        }

        clock.advance(by: .seconds(25))               // nothing moves while "stuck" runs
        #expect(!watchdog.isResponsive)
        release.open()
        executor.shutdown()                           // "stuck" finished: executed moved
        clock.advance(by: .seconds(1))

        let kinds = events.values.map { event -> String in
            switch event {
            case let .stalled(since, pending) where pending > 0: "stalled \(since)"
            case let .deadlocked(since, pending) where pending > 0: "deadlocked \(since)"
            case .recovered: "recovered"
            default: "unexpected \(event)"
            }
        }
        #expect(kinds == ["stalled 10.0 seconds", "deadlocked 20.0 seconds", "recovered"])
        #expect(watchdog.isResponsive)
        watchdog.stop()
    }
}

final class WatchdogObserver: ExecutorObserver {     // FlowPipeline's, simplified
    let watchdog: Watchdog
    let timeout: Duration
    let current: [Locked<WatchToken?>]              // one slot per worker

    init(_ watchdog: Watchdog, timeout: Duration, workers: Int) {
        self.watchdog = watchdog
        self.timeout = timeout
        current = (0..<workers).map { _ in Locked(nil) }
    }
    func willRun(_ job: ExecutorJobInfo) {
        let token = try? watchdog.watch(name: job.name ?? "job \(job.id)", timeout: timeout)
        current[job.worker].withLock { $0 = token }
    }
    func didRun(_ job: ExecutorJobInfo) {
        current[job.worker].withLock { $0 }?.finish()
    }
}
