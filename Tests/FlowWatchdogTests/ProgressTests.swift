import FlowTestSupport
import FlowWatchdog
import Synchronization
import Testing

/// The outside facts a progress probe reads: a count and pending work.
final class FakeProgress: Sendable {
    let progress = Atomic<Int>(0)
    let pending = Atomic<Int>(0)
    init(pending: Int) { self.pending.store(pending, ordering: .relaxed) }
    func step() { progress.wrappingAdd(1, ordering: .relaxed) }
    var probe: @Sendable () -> (progress: Int, pending: Int) {
        { (self.progress.load(ordering: .relaxed), self.pending.load(ordering: .relaxed)) }
    }
}

/// Global deadline, stalls, deadlocks and responsiveness, on the manual clock.
@Suite(.timeLimit(.minutes(1)))
struct ProgressTests {
    @Test func globalTimeoutFiresOnce() throws {
        let f = try ManualFixture()
        try f.watchdog.setGlobalTimeout(.seconds(10))
        f.clock.advance(by: .milliseconds(9_999))
        #expect(f.events.values.isEmpty)
        f.clock.advance(by: .seconds(30))
        #expect(f.events.values == [.globalTimeout(elapsed: .seconds(10))])
        f.clock.advance(by: .seconds(300))
        #expect(f.events.values.count == 1)

        // Re-arming arms one more; clearing disarms.
        try f.watchdog.setGlobalTimeout(.seconds(5))
        f.clock.advance(by: .seconds(6))
        #expect(f.events.values == [.globalTimeout(elapsed: .seconds(10)), .globalTimeout(elapsed: .seconds(5))])
        try f.watchdog.setGlobalTimeout(.seconds(5))
        f.watchdog.clearGlobalTimeout()
        f.clock.advance(by: .seconds(60))
        #expect(f.events.values.count == 2)
    }

    @Test func stallRecoveryAndDeadlockInOrder() throws {
        let f = try ManualFixture()
        let work = FakeProgress(pending: 3)
        try f.watchdog.monitorProgress(
            checkEvery: .seconds(1), stallAfter: .seconds(5), deadlockAfter: .seconds(10), work.probe)
        #expect(f.watchdog.isResponsive)

        // Moving: one step per second for 4 s (last movement seen at t = 4).
        for _ in 0..<4 {
            work.step()
            f.clock.advance(by: .seconds(1))
        }
        #expect(f.events.values.isEmpty && f.watchdog.isResponsive)

        // Stuck: stalled at t = 9 (5 s without movement), not a moment earlier.
        f.clock.advance(by: .milliseconds(4_999))
        #expect(f.events.values.isEmpty && f.watchdog.isResponsive)
        f.clock.advance(by: .milliseconds(1))
        #expect(f.events.values == [.stalled(since: .seconds(5), pending: 3)])
        #expect(!f.watchdog.isResponsive)

        // Still stuck: deadlocked at t = 14, stalled is not repeated.
        f.clock.advance(by: .seconds(5))
        #expect(f.events.values == [.stalled(since: .seconds(5), pending: 3), .deadlocked(since: .seconds(10), pending: 3)])
        #expect(!f.watchdog.isResponsive)
        f.clock.advance(by: .seconds(30))
        #expect(f.events.values.count == 2, "warned once, not at every check")

        // Moves again: recovered at the next check.
        work.step()
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values.last == .recovered)
        #expect(f.watchdog.isResponsive)

        // Stall, then recovery before the deadlock.
        f.clock.advance(by: .seconds(5))
        #expect(f.events.values.last == .stalled(since: .seconds(5), pending: 3))
        work.step()
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values.suffix(2) == [.stalled(since: .seconds(5), pending: 3), .recovered])
        #expect(f.watchdog.isResponsive)
        #expect(f.events.values.count == 5)
    }

    @Test func nothingPendingIsNotAStall() throws {
        let f = try ManualFixture()
        let work = FakeProgress(pending: 0)
        try f.watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: .seconds(2), deadlockAfter: .seconds(4), work.probe)
        f.clock.advance(by: .seconds(60))
        #expect(f.events.values.isEmpty && f.watchdog.isResponsive)

        // Work arrives and nothing moves: the stall is counted from then.
        work.pending.store(2, ordering: .relaxed)
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values.isEmpty)
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values == [.stalled(since: .seconds(2), pending: 2)])

        // The queue drains without the count moving: no longer stalled.
        work.pending.store(0, ordering: .relaxed)
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values.last == .recovered && f.watchdog.isResponsive)
    }

    @Test func stopMonitoringProgressRestoresResponsiveness() throws {
        let f = try ManualFixture()
        let work = FakeProgress(pending: 1)
        try f.watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: .seconds(1), work.probe)
        f.clock.advance(by: .seconds(1))
        #expect(!f.watchdog.isResponsive)
        f.watchdog.stopMonitoringProgress()
        #expect(f.watchdog.isResponsive)
        f.clock.advance(by: .seconds(10))
        #expect(f.events.values == [.stalled(since: .seconds(1), pending: 1)], "no deadlock without deadlockAfter")
    }

    @Test func everyKindOfEventInOneRun() throws {
        let f = try ManualFixture()
        let work = FakeProgress(pending: 1)
        try f.watchdog.setGlobalTimeout(.seconds(20))
        try f.watchdog.monitorProgress(checkEvery: .seconds(2), stallAfter: .seconds(4), deadlockAfter: .seconds(8), work.probe)
        let token = try f.watchdog.watch(name: "slow", timeout: .seconds(3))
        f.clock.advance(by: .seconds(25))
        #expect(f.events.values == [
            .taskTimedOut(name: "slow", elapsed: .seconds(3), id: token.id),
            .stalled(since: .seconds(4), pending: 1),
            .deadlocked(since: .seconds(8), pending: 1),
            .globalTimeout(elapsed: .seconds(20)),
        ])
    }
}
