import FlowTestSupport
import FlowWatchdog
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Many threads watching, finishing and cancelling at once, checked by
/// conservation: every unfinished activity is reported exactly once, every
/// finished one never, every callback runs exactly once. Run under
/// ThreadSanitizer by `make tsan` (scaled down by FLOW_STRESS_SCALE).
@Suite(.serialized, .timeLimit(.minutes(1)))
struct StressTests {
    static let threads = 8

    /// One thread's share: watch `count` activities keeping up to four open
    /// at once, finish them out of order (so some are withdrawn from the
    /// inbox and some are not), leave every seventh unfinished.
    static func watchAndFinish(
        _ watchdog: Watchdog, count: Int, timeout: Duration, seed: UInt64,
        unfinished: Collector<WatchID>, all: Collector<WatchID>
    ) {
        var random = SeededGenerator(seed: seed)
        var open: [WatchToken] = []
        var ids: [WatchID] = []
        var left: [WatchID] = []
        var kept: [WatchToken] = []
        for i in 0..<count {
            let token = try! watchdog.watch(name: "s\(seed)", timeout: timeout)
            ids.append(token.id)
            if i % 7 == 0 {
                left.append(token.id)
                kept.append(token)
                continue
            }
            open.append(token)
            if open.count == 4 || Bool.random(using: &random) {
                let victim = open.remove(at: Int.random(in: 0..<open.count, using: &random))
                #expect(victim.finish())
            }
        }
        for token in open { #expect(token.finish()) }
        unfinished.append(contentsOf: left)
        all.append(contentsOf: ids)
        _ = kept  // dropped unfinished: still watched
    }

    @Test func concurrentWatchFinishWithManualClock() throws {
        let f = try ManualFixture()
        let perThread = StressScale.scaled(20_000, minimum: 500)
        let unfinished = Collector<WatchID>()
        let all = Collector<WatchID>()
        let done = Flag()
        let clock = f.clock
        let advancer = TestThread.spawn {
            while !done.isSet { clock.advance(by: .milliseconds(1)) }
        }
        let watchdog = f.watchdog
        try Stress.run(threads: Self.threads) { t in
            Self.watchAndFinish(
                watchdog, count: perThread, timeout: .seconds(3_600), seed: UInt64(t),
                unfinished: unfinished, all: all)
        }
        done.set()
        advancer.join()
        #expect(f.events.values.isEmpty, "no timeout is due yet")

        f.clock.advance(by: .seconds(7_200))
        #expect(Set(all.values).count == Self.threads * perThread, "ids are unique")
        let reported = f.timedOutIDs
        #expect(reported.count == unfinished.values.count, "each unfinished activity reported once")
        #expect(Set(reported) == Set(unfinished.values))
    }

    @Test func concurrentWatchFinishWithMonitorThread() throws {
        let events = Collector<WatchdogEvent>()
        let watchdog = try Watchdog { event, _ in events.append(event) }
        let perThread = StressScale.scaled(20_000, minimum: 500)
        let unfinished = Collector<WatchID>()
        let all = Collector<WatchID>()
        try Stress.run(threads: Self.threads) { t in
            Self.watchAndFinish(
                watchdog, count: perThread, timeout: .seconds(3_600), seed: UInt64(100 + t),
                unfinished: unfinished, all: all)
        }
        #expect(Set(all.values).count == Self.threads * perThread)
        #expect(watchdog.monitorThreadCPUTime != nil, "the monitor thread started on first use")
        // Every unfinished activity is still known to the watchdog, wherever it is (inbox or heap).
        #expect(watchdog.cancelAll() == unfinished.values.count)
        watchdog.stop()
        #expect(watchdog.monitorThreadCPUTime == nil, "joined")
        #expect(events.values.isEmpty)
    }

    /// The real monitor thread against threads that watch and finish at
    /// full speed with short timeouts, keep some activities open for a
    /// while (so lane slots are evicted while still running) and leave some
    /// unfinished: it must report exactly the activities whose `finish()`
    /// lost or never came, each once. This exercises the sleep protocol
    /// (no lost wake-up) with lanes being reused, evicted and closed.
    @Test func realMonitorReportsExactlyTheLateActivities() throws {
        let reported = Collector<WatchID>()
        let watchdog = try Watchdog { event, _ in
            if case let .taskTimedOut(_, _, id) = event { reported.append(id) }
        }
        let perThread = StressScale.scaled(20_000, minimum: 1_000)
        let late = Collector<WatchID>()
        try Stress.run(threads: 4) { t in
            var random = SeededGenerator(seed: UInt64(900 + t))
            var held: [WatchToken] = []
            var mine: [WatchID] = []
            for _ in 0..<perThread {
                let token = try! watchdog.watch(name: "rt-\(t)", timeout: .milliseconds(30))
                switch Int.random(in: 0..<64, using: &random) {
                case 0: mine.append(token.id)  // never finished
                case 1..<8: held.append(token)
                default: if !token.finish() { mine.append(token.id) }
                }
                if held.count > 6 {
                    let victim = held.removeFirst()
                    if !victim.finish() { mine.append(victim.id) }
                }
            }
            for token in held where !token.finish() { mine.append(token.id) }
            late.append(contentsOf: mine)
        }
        let expected = Set(late.values)
        let limit = ContinuousClock.now + .seconds(20)  // a bounded wait for the monitor, not a sleep
        while reported.values.count < expected.count && ContinuousClock.now < limit { sched_yield() }
        #expect(reported.values.count == expected.count, "each late activity reported once")
        #expect(Set(reported.values) == expected)
        watchdog.stop()
    }

    @Test func finishRacesTheDeadline() throws {
        let f = try ManualFixture()
        let count = StressScale.scaled(40_000, minimum: 1_000)
        // Deadlines spread over 1...1000 ms so that the advancing thread fires
        // them while the finishing threads finish them.
        let tokens = try (0..<count).map { i in
            try f.watchdog.watch(name: "race", timeout: .milliseconds(i % 1_000 + 1))
        }
        let late = Collector<WatchID>()
        let done = Flag()
        let clock = f.clock
        let advancer = TestThread.spawn {
            while !done.isSet { clock.advance(by: .microseconds(50)) }
        }
        let threads = 4
        try Stress.run(threads: threads) { t in
            var mine: [WatchID] = []
            for i in stride(from: t, to: count, by: threads) where !tokens[i].finish() {
                mine.append(tokens[i].id)
            }
            late.append(contentsOf: mine)
        }
        done.set()
        advancer.join()
        f.clock.advance(by: .seconds(10))
        let reported = f.timedOutIDs
        #expect(reported.count == Set(reported).count, "each reported once")
        #expect(Set(reported) == Set(late.values), "reported exactly when finish() lost")
    }

    @Test func cancellationRacesRegistration() throws {
        let f = try ManualFixture()
        let count = StressScale.scaled(20_000, minimum: 500)
        let tokens = try (0..<count).map { _ in try f.watchdog.watch(name: "c", timeout: .seconds(60)) }
        let counters = (0..<count).map { _ in Counter() }
        let wins = Counter()
        let watchdog = f.watchdog
        try Stress.run(threads: 4) { t in
            switch t {
            case 0, 1:  // two callbacks per token
                for i in 0..<count { tokens[i].onCancel { counters[i].increment() } }
            case 2:
                for i in 0..<count where tokens[i].cancel() { wins.increment() }
            default:  // by id (a heap scan for running ones: a sample) and all at once
                for i in stride(from: count - 1, through: 0, by: -97) where watchdog.cancel(tokens[i].id) {
                    wins.increment()
                }
                for _ in 0..<3 {
                    for _ in 0..<watchdog.cancelAll() { wins.increment() }
                }
            }
        }
        #expect(wins.count == count, "exactly one cancel wins per token")
        let wrong = (0..<count).filter { counters[$0].count != 2 }
        #expect(wrong.isEmpty, "callbacks ran exactly once each; wrong at \(wrong.prefix(5))")
    }

    /// Registration racing the cancellation of the same token, round after
    /// round: callbacks registered before the cancel run in it, those after
    /// run at once, none twice, none lost.
    @Test func callbacksRaceTheCancelOfTheirToken() throws {
        let f = try ManualFixture()
        let rounds = StressScale.scaled(1_500, minimum: 100)
        let perThread = 40
        for round in 0..<rounds {
            let token = try f.watchdog.watch(name: "r", timeout: .seconds(60))
            let calls = Counter()
            try Stress.run(threads: 3) { t in
                if t < 2 {
                    for _ in 0..<perThread { token.onCancel { calls.increment() } }
                } else {
                    var random = SeededGenerator(seed: UInt64(round))
                    for _ in 0..<Int.random(in: 0..<2_000, using: &random) { _ = token.isCancellationRequested }
                    #expect(token.cancel())
                }
            }
            #expect(calls.count == 2 * perThread, "round \(round)")
            if calls.count != 2 * perThread { return }
        }
    }
}

/// Token recycling (see WatchThreadCache): finished tokens that nobody
/// holds are reused by later `watch` calls on the same thread, while other
/// threads fire deadlines and request cancellations.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct RecyclingStressTests {
    /// Threads watch with short timeouts and finish (mostly at once, so the
    /// tokens are withdrawn and recycled), cancel some, and keep some a
    /// while; the clock moves meanwhile. Conservation: the reported ids are
    /// exactly those whose `finish()` returned false, each once; callbacks
    /// run once per winning cancel and never for tokens finished first.
    @Test func recycledTokensUnderConcurrentDeadlinesAndCancels() throws {
        let f = try ManualFixture()
        let perThread = StressScale.scaled(20_000, minimum: 500)
        let threads = 6
        let late = Collector<WatchID>()
        let all = Collector<WatchID>()
        let cancelWins = Counter()
        let callbacks = Counter()
        let done = Flag()
        let clock = f.clock
        let advancer = TestThread.spawn {
            while !done.isSet { clock.advance(by: .microseconds(50)) }
        }
        let watchdog = f.watchdog
        try Stress.run(threads: threads) { t in
            var random = SeededGenerator(seed: UInt64(500 + t))
            var held: [WatchToken] = []
            var mineLate: [WatchID] = []
            var mineAll: [WatchID] = []
            for _ in 0..<perThread {
                let token = try! watchdog.watch(
                    name: "recycle-\(t)", timeout: .microseconds(Int64.random(in: 100...2_000, using: &random)))
                let id = token.id
                mineAll.append(id)
                let roll = Int.random(in: 0..<16, using: &random)
                if roll == 0 {
                    token.onCancel { callbacks.increment() }
                    if token.cancel() { cancelWins.increment() }
                } else if roll == 1 {
                    token.onCancel { callbacks.increment() }  // finished first: must never run
                }
                if roll == 2 {
                    held.append(token)  // finished later, perhaps after its deadline
                } else if !token.finish() {
                    mineLate.append(id)
                }
                if held.count > 8 || (roll == 3 && !held.isEmpty) {
                    let victim = held.removeFirst()
                    if !victim.finish() { mineLate.append(victim.id) }
                    #expect(victim.isFinished)
                }
            }
            for token in held where !token.finish() { mineLate.append(token.id) }
            late.append(contentsOf: mineLate)
            all.append(contentsOf: mineAll)
        }
        done.set()
        advancer.join()
        f.clock.advance(by: .seconds(10))
        #expect(Set(all.values).count == threads * perThread, "ids are unique, recycled tokens included")
        let reported = f.timedOutIDs
        #expect(reported.count == Set(reported).count, "each reported once")
        #expect(Set(reported) == Set(late.values), "reported exactly when finish() lost")
        #expect(callbacks.count == cancelWins.count, "one callback per winning cancel, none after finish")
    }

    /// A token that a caller still holds after `finish()` is never reused:
    /// it keeps its id, stays finished, and later watches get other tokens.
    @Test func heldFinishedTokensAreNotReused() throws {
        let f = try ManualFixture()
        var kept: [(token: WatchToken, id: WatchID)] = []
        for _ in 0..<100 {
            let token = try f.watchdog.watch(name: "held", timeout: .seconds(1))
            #expect(token.finish())
            #expect(!kept.contains { $0.token === token })
            kept.append((token, token.id))
            token.heartbeat()  // harmless after finish
            #expect(token.finish(), "finish twice is harmless")
        }
        for entry in kept {
            #expect(entry.token.isFinished && !entry.token.hasTimedOut && !entry.token.isCancellationRequested)
            #expect(entry.token.id == entry.id)
        }
        f.clock.advance(by: .seconds(5))
        #expect(f.events.values.isEmpty)
    }

    /// A finished token nobody holds is reused by the next watch on the
    /// same thread with the same name, and behaves as a fresh one.
    @Test func droppedTokensAreReusedAsFreshOnes() throws {
        let f = try ManualFixture()
        var identities = Set<ObjectIdentifier>()
        var ids = Set<WatchID>()
        for round in 0..<50 {
            let token = try f.watchdog.watch(name: "reuse", timeout: .seconds(2))
            identities.insert(ObjectIdentifier(token))
            ids.insert(token.id)
            #expect(!token.isFinished && !token.hasTimedOut && !token.isCancellationRequested)
            if round == 49 {
                f.clock.advance(by: .seconds(2))  // the last one times out: reported with its own id
                #expect(f.timedOutIDs == [token.id])
            }
            _ = token.finish()
        }
        #expect(identities.count < 50, "tokens were recycled")
        #expect(ids.count == 50, "every watch has its own id")
    }
}
