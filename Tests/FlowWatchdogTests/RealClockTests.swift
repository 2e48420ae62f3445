import FlowTestSupport
@testable import FlowWatchdog
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The real monitor thread, briefly. Timing logic is tested on the manual
/// clock; these only check that the thread wakes, reports and stops. They
/// wait on gates with generous limits, never sleep.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct RealClockTests {
    @Test func smoke() throws {
        let events = Collector<WatchdogEvent>()
        let fired = Gate()
        let watchdog = try Watchdog { event, _ in
            events.append(event)
            fired.open()
        }
        #expect(watchdog.monitorThreadCPUTime == nil, "no thread before first use")
        let quick = try watchdog.watch(name: "quick", timeout: .milliseconds(50))
        #expect(quick.finish())
        let slow = try watchdog.watch(name: "slow", timeout: .milliseconds(50))
        #expect(fired.wait(timeout: .seconds(20)))
        // "quick" had the earlier deadline: had it fired, it would be first.
        guard case let .taskTimedOut(name, elapsed, id)? = events.values.first else {
            Issue.record("expected a timeout, got \(events.values)")
            return
        }
        #expect(name == "slow" && id == slow.id)
        #expect(elapsed >= .milliseconds(50))
        #expect(slow.hasTimedOut && !quick.hasTimedOut)
        watchdog.stop()
    }

    @Test func monitorWakesEarlyForAnEarlierDeadline() throws {
        let fired = Gate()
        let watchdog = try Watchdog { event, _ in
            if case .taskTimedOut(name: "short", _, _) = event { fired.open() }
        }
        let long = try watchdog.watch(name: "long", timeout: .seconds(3_600))
        try watchdog.setGlobalTimeout(.seconds(3_600))
        // Wait (bounded) until the monitor sleeps towards an hour from now...
        let halfHourAhead = watchdog.clock.now + .seconds(1_800)
        let limit = ContinuousClock.now + .seconds(20)
        while Duration(watchdogNanoseconds: watchdog.core.sleepTarget.load(ordering: .acquiring)) < halfHourAhead {
            #expect(ContinuousClock.now < limit, "the monitor never went to sleep")
            if ContinuousClock.now >= limit { return }
            sched_yield()
        }
        // ...then this must wake it early.
        let short = try watchdog.watch(name: "short", timeout: .milliseconds(20))
        #expect(fired.wait(timeout: .seconds(20)))
        #expect(short.hasTimedOut && !long.hasTimedOut)
        long.finish()
    }

    @Test func progressChecksRunOnTheMonitor() throws {
        let stalled = Gate()
        let watchdog = try Watchdog { event, _ in
            if case .stalled = event { stalled.open() }
        }
        try watchdog.monitorProgress(checkEvery: .milliseconds(5), stallAfter: .milliseconds(20)) { (0, 1) }
        #expect(stalled.wait(timeout: .seconds(20)))
        #expect(!watchdog.isResponsive)
        watchdog.stop()
    }

    @Test func droppingTheWatchdogStopsItsThread() throws {
        weak var weakWatchdog: Watchdog?
        do {
            let watchdog = try Watchdog()
            weakWatchdog = watchdog
            _ = try watchdog.watch(name: "left running", timeout: .seconds(3_600))
            #expect(watchdog.monitorThreadCPUTime != nil)
        }
        #expect(weakWatchdog == nil, "deinit ran: the monitor holds no reference to the Watchdog")
    }

    @Test func stopFromTheHandlerDoesNotDeadlock() throws {
        final class Box: @unchecked Sendable { // written once before the watchdog can fire, then only read
            // Safe: written once before the watchdog can fire, then only read.
            weak var watchdog: Watchdog?
        }
        let box = Box()
        let handled = Gate()
        let watchdog = try Watchdog { _, _ in
            box.watchdog?.stop()
            handled.open()
        }
        box.watchdog = watchdog
        _ = try watchdog.watch(name: "trigger", timeout: .milliseconds(5))
        #expect(handled.wait(timeout: .seconds(20)))
        watchdog.stop()  // from this thread too: joins or finds it detached
        let inert = try watchdog.watch(name: "after stop", timeout: .milliseconds(1))
        #expect(inert.finish())
    }
}
