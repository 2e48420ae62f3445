import FlowTestSupport
import FlowWatchdog
import Testing

/// Per-activity deadlines, driven by the manual clock.
@Suite(.timeLimit(.minutes(1)))
struct TimeoutTests {
    @Test func deadlineFiresExactlyOnceAtTheRightInstant() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "job", timeout: .seconds(5))
        f.clock.advance(by: .milliseconds(4_999))
        #expect(f.events.values.isEmpty)
        #expect(!token.hasTimedOut)

        // One step past the deadline: the event reports the deadline instant itself.
        f.clock.advance(by: .seconds(10))
        #expect(f.events.values == [.taskTimedOut(name: "job", elapsed: .seconds(5), id: token.id)])
        #expect(token.hasTimedOut)

        f.clock.advance(by: .seconds(100))
        #expect(f.events.values.count == 1, "reported once, not at every check")
        #expect(token.finish() == false, "finished after it was reported")
        #expect(f.watchdog.recentEvents == f.events.values)
    }

    @Test func heartbeatPostponesTheDeadline() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "stream", timeout: .seconds(5))
        f.clock.advance(by: .seconds(3))
        token.heartbeat()  // deadline: 3 + 5 = 8
        f.clock.advance(by: .seconds(4))
        #expect(f.events.values.isEmpty, "the old deadline (5) passed without an event")
        token.heartbeat()  // deadline: 7 + 5 = 12
        f.clock.advance(by: .milliseconds(4_999))
        #expect(f.events.values.isEmpty)
        f.clock.advance(by: .seconds(1))
        #expect(f.events.values == [.taskTimedOut(name: "stream", elapsed: .seconds(12), id: token.id)])
    }

    @Test func finishingFirstMeansNoEvent() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "quick", timeout: .seconds(5))
        f.clock.advance(by: .seconds(4))
        #expect(token.finish() == true)
        #expect(token.finish() == true, "finishing twice is harmless")
        f.clock.advance(by: .seconds(60))
        #expect(f.events.values.isEmpty)
        #expect(token.isFinished && !token.hasTimedOut)
    }

    @Test func finishingAtTheDeadlineInstantIsTooLate() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "edge", timeout: .seconds(2))
        f.clock.advance(by: .seconds(2))  // due events fire before advance returns
        #expect(token.finish() == false)
        #expect(f.timedOutIDs == [token.id])
    }

    @Test func eventsComeInDeadlineOrder() throws {
        let f = try ManualFixture()
        let late = try f.watchdog.watch(name: "late", timeout: .seconds(9))
        let early = try f.watchdog.watch(name: "early", timeout: .seconds(1))
        let middle = try f.watchdog.watch(name: "middle", timeout: .seconds(4))
        f.clock.advance(by: .seconds(10))
        #expect(f.events.values == [
            .taskTimedOut(name: "early", elapsed: .seconds(1), id: early.id),
            .taskTimedOut(name: "middle", elapsed: .seconds(4), id: middle.id),
            .taskTimedOut(name: "late", elapsed: .seconds(9), id: late.id),
        ])
    }

    /// 10^5 activities with random timeouts and random finish times (some
    /// never finish): events for exactly the unfinished ones, each once, each
    /// at its deadline.
    @Test func manyActivitiesWithRandomFinishTimes() throws {
        let f = try ManualFixture()
        var random = SeededGenerator(seed: 0x5EED)
        let count = 100_000
        var tokens: [WatchToken] = []
        var finishAt: [Int] = []  // whole seconds; Int.max: never
        tokens.reserveCapacity(count)
        for i in 0..<count {
            let timeout = Int.random(in: 1...60, using: &random)
            tokens.append(try f.watchdog.watch(name: "a\(i % 10)", timeout: .seconds(timeout)))
            finishAt.append(Int.random(in: 0..<10, using: &random) == 0 ? Int.max : Int.random(in: 0..<90, using: &random))
        }
        var byTime: [Int: [Int]] = [:]
        for (i, t) in finishAt.enumerated() where t != .max { byTime[t, default: []].append(i) }

        var finishedInTime = Set<Int>()
        for second in 0..<100 {
            // Due events at `second` fired inside the advance; finish afterwards.
            for i in byTime[second] ?? [] where tokens[i].finish() { finishedInTime.insert(i) }
            f.clock.advance(by: .seconds(1))
        }
        f.clock.advance(by: .seconds(1_000))

        let expected = Set((0..<count).filter { i in
            finishAt[i] >= Int(tokens[i].timeout.components.seconds)
        })
        #expect(finishedInTime == Set(0..<count).subtracting(expected))
        let ids = f.timedOutIDs
        #expect(ids.count == expected.count, "each unfinished activity reported exactly once")
        #expect(Set(ids) == Set(expected.map { tokens[$0].id }))
        // Each at its deadline: elapsed equals the timeout (no heartbeats here).
        let timeouts = Dictionary(uniqueKeysWithValues: tokens.map { ($0.id, $0.timeout) })
        for event in f.events.values {
            guard case let .taskTimedOut(_, elapsed, id) = event else { Issue.record("unexpected \(event)"); continue }
            #expect(elapsed == timeouts[id])
        }
        #expect(f.watchdog.totalEvents == expected.count)
        #expect(f.watchdog.recentEvents.count == f.watchdog.configuration.eventLogCapacity)
    }

    /// Activities of a thread that exited are still watched: its unfinished
    /// tokens (in its lane's slots, or evicted from them) are reported, its
    /// finished ones are not; and a recycled token reports its own activity.
    @Test func activitiesOfAnExitedThreadAreStillReported() throws {
        let f = try ManualFixture()
        let watchdog = f.watchdog
        let ids = Collector<WatchID>()
        let worker = TestThread.spawn {
            for round in 0..<3 {  // the same token, recycled: only the last round is left open
                let token = try! watchdog.watch(name: "recycled", timeout: .seconds(5))
                if round < 2 { token.finish() } else { ids.append(token.id) }
            }
            // More open activities than a lane has slots: some are evicted while still running.
            for i in 0..<10 {
                let token = try! watchdog.watch(name: "open-\(i)", timeout: .seconds(Int64(6 + i)))
                if i % 3 == 0 { token.finish() } else { ids.append(token.id) }
            }
        }
        worker.join()
        f.clock.advance(by: .seconds(60))
        #expect(f.timedOutIDs == ids.values, "each unfinished activity once, in deadline order")
        let elapsed = f.events.values.compactMap { event -> Duration? in
            if case let .taskTimedOut(_, elapsed, _) = event { return elapsed }
            return nil
        }
        #expect(elapsed == [5, 7, 8, 10, 11, 13, 14].map { Duration.seconds($0) })
    }

    @Test func eventLogKeepsTheMostRecentEvents() throws {
        let f = try ManualFixture(configuration: Watchdog.Configuration(eventLogCapacity: 4))
        var tokens: [WatchToken] = []
        for i in 1...10 { tokens.append(try f.watchdog.watch(name: "t\(i)", timeout: .seconds(i))) }
        f.clock.advance(by: .seconds(20))
        #expect(f.watchdog.totalEvents == 10)
        #expect(f.watchdog.recentEvents == Array(f.events.values.suffix(4)))
        #expect(f.watchdog.recentEvents.first == .taskTimedOut(name: "t7", elapsed: .seconds(7), id: tokens[6].id))
    }

    @Test func defaultTimeoutIsUsedByWatchWithoutTimeout() throws {
        let f = try ManualFixture(configuration: Watchdog.Configuration(defaultTimeout: .seconds(3)))
        let token = try f.watchdog.watch(name: "default")
        #expect(token.timeout == .seconds(3))
        f.clock.advance(by: .seconds(3))
        #expect(f.timedOutIDs == [token.id])
    }

    @Test func tokensWatchedAfterStopAreInert() throws {
        let f = try ManualFixture()
        let before = try f.watchdog.watch(name: "before", timeout: .seconds(1))
        f.watchdog.stop()
        f.watchdog.stop()  // idempotent
        let after = try f.watchdog.watch(name: "after", timeout: .seconds(1))
        f.clock.advance(by: .seconds(10))
        #expect(f.events.values.isEmpty)
        #expect(before.finish() && after.finish())
    }

    @Test func eventDescriptionsNameTheActivity() throws {
        let event = WatchdogEvent.taskTimedOut(name: "resize", elapsed: .milliseconds(1_500), id: WatchID(rawValue: 33))
        #expect(event.description == "watchdog: task 'resize' (#33) timed out after 1.5 s")
        #expect(WatchdogEvent.stalled(since: .milliseconds(250), pending: 3).description
            == "watchdog: stalled, no progress for 250 ms with 3 pending")
    }
}
