import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

@Suite("Parker and EventCount", .serialized, .timeLimit(.minutes(2)))
struct ParkingTests {
    @Test func permitBeforeParkReturnsAtOnce() {
        let p = Parker()
        p.unpark()
        p.unpark()            // permits do not accumulate
        p.park()
        #expect(p.park(timeout: .milliseconds(1)) == false)
    }

    /// Ping-pong between two threads: a lost wake-up hangs one side, which
    /// the stress run's time limit turns into a failure.
    @Test func parkerPingPong() throws {
        let rounds = StressScale.scaled(100_000, minimum: 10_000)
        let a = Parker(), b = Parker()
        let turn = Atomic<Int>(0)
        try Stress.run(threads: 2, timeout: .seconds(60)) { t in
            for r in 0..<rounds {
                if t == 0 {
                    turn.store(2 * r + 1, ordering: .releasing)
                    b.unpark()
                    while turn.load(ordering: .acquiring) != 2 * r + 2 { a.park() }
                } else {
                    while turn.load(ordering: .acquiring) != 2 * r + 1 { b.park() }
                    turn.store(2 * r + 2, ordering: .releasing)
                    a.unpark()
                }
            }
        }
        #expect(turn.load(ordering: .relaxed) == 2 * rounds)
    }

    @Test func eventCountPingPong() throws {
        let rounds = StressScale.scaled(100_000, minimum: 10_000)
        let ec = EventCount()
        let turn = Atomic<Int>(0)
        @Sendable func waitFor(_ value: Int) {
            while turn.load(ordering: .acquiring) != value {
                let key = ec.prepareWait()
                if turn.load(ordering: .acquiring) == value { ec.cancelWait(); return }
                ec.commitWait(key)
            }
        }
        try Stress.run(threads: 2, timeout: .seconds(60)) { t in
            for r in 0..<rounds {
                if t == 0 {
                    turn.store(2 * r + 1, ordering: .releasing)
                    ec.notifyAll()
                    waitFor(2 * r + 2)
                } else {
                    waitFor(2 * r + 1)
                    turn.store(2 * r + 2, ordering: .releasing)
                    ec.notifyAll()
                }
            }
        }
        #expect(turn.load(ordering: .relaxed) == 2 * rounds)
        #expect(ec.waiters == 0)
    }

    @Test func notifyAllWakesEveryWaiter() throws {
        for _ in 0..<StressScale.scaled(50, minimum: 5) {
            let ec = EventCount()
            let go = Atomic<Bool>(false)
            let waiting = Latch(count: 6)
            let woken = Atomic<Int>(0)
            var threads: [TestThread] = []
            for _ in 0..<6 {
                threads.append(TestThread.spawn {
                    let key = ec.prepareWait()
                    waiting.countDown()
                    if !go.load(ordering: .acquiring) { ec.commitWait(key) } else { ec.cancelWait() }
                    woken.wrappingAdd(1, ordering: .relaxed)
                })
            }
            #expect(waiting.wait(timeout: .seconds(10)))
            go.store(true, ordering: .releasing)
            ec.notifyAll()
            let done = Latch(count: 1)
            let all = threads
            let joiner = TestThread.spawn { for t in all { t.join() }; done.countDown() }
            #expect(done.wait(timeout: .seconds(10)), "notifyAll left a waiter asleep")
            joiner.join()
            #expect(woken.load(ordering: .relaxed) == 6)
            #expect(ec.waiters == 0)
        }
    }

    @Test func notifyOneWakesOneAndTimedWaitTimesOut() throws {
        let ec = EventCount()
        let key = ec.prepareWait()
        #expect(ec.commitWait(key, timeout: .milliseconds(5)) == false)
        let key2 = ec.prepareWait()
        ec.notifyOne()
        #expect(ec.commitWait(key2, timeout: .seconds(10)) == true)
        ec.notifyOne()   // nobody waits: no effect
        #expect(ec.waiters == 0)
    }
}

@Suite("Backoff and padded counters")
struct SmallPrimitivesTests {
    @Test func backoffCompletes() {
        var b = Backoff()
        var steps = 0
        while !b.isCompleted { b.snooze(); steps += 1 }
        #expect(steps == 11)
        b.reset()
        #expect(!b.isCompleted)
    }

    @Test func paddedCountersSumAcrossThreads() throws {
        let counters = PaddedCounters(count: 4)
        let single = PaddedAtomic(5)
        let n = StressScale.scaled(100_000, minimum: 1_000)
        try Stress.run(threads: 4) { t in
            for _ in 0..<n { counters.add(1, at: t); single.add(1) }
        }
        #expect(counters.sum == 4 * n)
        #expect(counters[2] == n)
        #expect(single.value == 5 + 4 * n)
    }
}
