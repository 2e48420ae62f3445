@testable import FlowWatchdog
import FlowTestSupport
import Testing

/// The internal pieces on their own: the deadline heap, the stall state
/// machine, the fast duration conversion.
@Suite(.timeLimit(.minutes(1)))
struct InternalsTests {
    static func token(_ id: UInt64, deadline: UInt64) -> WatchToken {
        WatchToken(name: "h", id: WatchID(rawValue: id), start: 0, timeout: deadline, clock: .monotonic)
    }

    @Test func heapPopsInDeadlineThenIDOrder() {
        var random = SeededGenerator(seed: 7)
        var heap = DeadlineHeap()
        var expected: [(UInt64, UInt64)] = []
        for id in 0..<2_000 as Range<UInt64> {
            let deadline = UInt64.random(in: 0..<500, using: &random)
            heap.push(DeadlineHeap.Entry(deadline: deadline, id: id, generation: 0, token: Self.token(id, deadline: deadline)))
            expected.append((deadline, id))
        }
        // Lazy deletion's compaction keeps the order of what remains.
        heap.removeAll { $0.id % 3 == 0 }
        expected.removeAll { $0.1 % 3 == 0 }
        expected.sort { $0 < $1 }
        var popped: [(UInt64, UInt64)] = []
        while let entry = heap.pop() { popped.append((entry.deadline, entry.id)) }
        #expect(popped.map(\.0) == expected.map(\.0))
        #expect(popped.map(\.1) == expected.map(\.1))
    }

    @Test func progressWatchStateMachine() {
        var watch = ProgressWatch(
            probe: { (0, 0) }, interval: 10, stallAfter: 30, deadlockAfter: 60,
            generation: 1, now: 0, initialProgress: 0)
        #expect(watch.nextCheck == 10)
        #expect(watch.observe(progress: 0, pending: 1, now: 10).isEmpty)
        #expect(watch.observe(progress: 0, pending: 1, now: 30) == [.stalled(since: .nanoseconds(30), pending: 1)])
        #expect(!watch.isResponsive)
        #expect(watch.nextCheck == 40)
        // A late check skips the missed grid points and can jump to deadlocked.
        #expect(watch.observe(progress: 0, pending: 1, now: 95) == [.deadlocked(since: .nanoseconds(95), pending: 1)])
        #expect(watch.nextCheck == 100)
        #expect(watch.observe(progress: 1, pending: 1, now: 100) == [.recovered])
        #expect(watch.isResponsive)
        // From moving straight past both thresholds in one (late) check.
        #expect(watch.observe(progress: 1, pending: 2, now: 200) == [
            .stalled(since: .nanoseconds(100), pending: 2), .deadlocked(since: .nanoseconds(100), pending: 2),
        ])
    }

    @Test func fastNanosecondsMatchDurationComponents() {
        var random = SeededGenerator(seed: 11)
        var samples: [Duration] = [
            .nanoseconds(1), .seconds(60), .milliseconds(1_500), .seconds(9_444), .seconds(9_445),
            .seconds(86_400 * 365), Duration(attoseconds: 1),
        ]
        for _ in 0..<10_000 {
            samples.append(.nanoseconds(Int64.random(in: 1...Int64.max / 4, using: &random)))
            samples.append(.seconds(Int64.random(in: 1...1_000_000, using: &random)) + .nanoseconds(Int64.random(in: 0..<1_000_000_000, using: &random)))
        }
        for duration in samples {
            #expect(duration.positiveNanoseconds == max(1, duration.clampedNanoseconds), "\(duration)")
        }
        #expect(Duration.zero.positiveNanoseconds == nil)
        #expect(Duration.seconds(-3).positiveNanoseconds == nil)
        #expect(Duration.seconds(Int64.max).positiveNanoseconds == UInt64.max / 2)
    }

    /// A lane's eviction: the new token is in the slot, the old one on the
    /// retired stack (newest first), and only unfinished ones report a deadline.
    @Test func laneEvictsOntoTheRetiredStack() {
        let lane = WatchLane(coreSerial: 0)
        let a = WatchToken(name: "a", id: WatchID(rawValue: 1), start: 0, timeout: 5, clock: .monotonic)
        let b = WatchToken(name: "b", id: WatchID(rawValue: 2), start: 0, timeout: 7, clock: .monotonic)
        let c = WatchToken(name: "c", id: WatchID(rawValue: 3), start: 0, timeout: 9, clock: .monotonic)
        #expect(lane.replace(slot: 0, with: Unmanaged.passRetained(a)) == .max, "the slot was empty")
        #expect(lane.replace(slot: 0, with: Unmanaged.passRetained(b)) == 5, "a is unfinished: its deadline")
        b.finish()
        #expect(lane.replace(slot: 0, with: Unmanaged.passRetained(c)) == .max, "b finished")
        let inSlot = lane.slot(0).pointee.load(ordering: .relaxed)
        #expect(inSlot == UInt(bitPattern: Unmanaged.passUnretained(c).toOpaque()))
        var retired: [UInt64] = []
        lane.takeRetired(sequentiallyConsistent: false) { retired.append($0.id.rawValue) }
        #expect(retired == [2, 1])
        #expect(lane.evictions == 2)
        let openBefore = !lane.closed.load(ordering: .relaxed)
        #expect(openBefore)
        lane.close()
        let closedAfter = lane.closed.load(ordering: .relaxed)
        let slotAfter = lane.slot(0).pointee.load(ordering: .relaxed)
        #expect(closedAfter && slotAfter == 0)
        lane.takeRetired(sequentiallyConsistent: false) { retired.append($0.id.rawValue) }
        #expect(retired == [2, 1, 3])
    }

    /// A thread's lane is registered on its first watch, closed when the
    /// thread exits (its open activity still reported), then forgotten; a
    /// stopped watchdog lets go of the lanes it still had.
    @Test func lanesAreForgottenWhenTheirThreadExitsOrTheWatchdogStops() throws {
        let clock = ManualClock()
        let watchdog = try Watchdog(clock: .manual(clock))
        let thread = TestThread.spawn { _ = try! watchdog.watch(name: "left open", timeout: .seconds(1)) }
        thread.join()
        #expect(watchdog.core.state.withLock { $0.lanes.count } == 1)
        clock.advance(by: .seconds(2))  // drains the closed lane: reports its activity, forgets it
        #expect(watchdog.core.state.withLock { $0.lanes.count } == 0)
        #expect(watchdog.totalEvents == 1)

        let token = try watchdog.watch(name: "here", timeout: .seconds(1))  // this thread's lane
        let lane = try #require(watchdog.core.state.withLock { $0.lanes.first })
        let detachedBefore = lane.detached.load(ordering: .acquiring)
        watchdog.stop()
        let detachedAfter = lane.detached.load(ordering: .acquiring)
        #expect(!detachedBefore && detachedAfter)
        #expect(watchdog.core.state.withLock { $0.lanes.isEmpty })
        token.finish()
    }

    /// A finished token is reused in place with a new generation; heap
    /// entries of the old generation no longer match it.
    @Test func reuseStartsANewGeneration() {
        let token = Self.token(1, deadline: 10)
        #expect(token.isPending(generation: 0))
        #expect(!token.canBeReused(name: "h"), "not finished")
        token.finish()
        #expect(token.canBeReused(name: "h") && !token.canBeReused(name: "other"))
        token.reuse(id: 2, start: 100, timeout: 10)
        #expect(!token.isFinished && token.id.rawValue == 2 && token.startNanoseconds == 100)
        let deadline = token.deadline.load(ordering: .relaxed)
        #expect(deadline == 110)
        #expect(!token.isPending(generation: 0) && token.isPending(generation: 1))
        #expect(!token.markTimedOut(generation: 0), "an old entry cannot time out the new activity")
        #expect(!token.cancel(generation: 0))
        #expect(token.markTimedOut(generation: 1) && token.hasTimedOut)
        #expect(!token.canBeReused(name: "h"), "timed out: never reused")
    }
}
