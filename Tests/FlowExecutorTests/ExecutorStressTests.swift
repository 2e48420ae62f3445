import FlowExecutor
import FlowTestSupport
import Synchronization
import Testing

/// A table of per-item run counts, to check that every closure ran exactly once.
final class RunCounts: Sendable {
    private nonisolated(unsafe) let counts: UnsafeMutablePointer<Atomic<Int>>
    let count: Int
    init(_ count: Int) {
        self.count = count
        counts = .allocate(capacity: count)
        for i in 0..<count { (counts + i).initialize(to: Atomic(0)) }
    }
    deinit { counts.deinitialize(count: count); counts.deallocate() }
    func hit(_ i: Int) { counts[i].wrappingAdd(1, ordering: .relaxed) }
    /// Indices that did not run exactly once.
    var wrong: [Int] { (0..<count).filter { counts[$0].load(ordering: .relaxed) != 1 } }
}

@Suite("Executor stress", .serialized, .timeLimit(.minutes(5)))
struct ExecutorStressTests {
    @Test(arguments: [1, 2, 8])
    func everyClosureRunsOnceFromOutsideThreads(threads: Int) throws {
        let total = StressScale.scaled(1_000_000, minimum: 20_000)
        let executor = try Executor(workers: 2, name: "stress")
        let counts = RunCounts(total)
        let done = Latch(count: total)
        let perThread = total / threads
        try Stress.run(threads: threads, timeout: .seconds(240)) { t in
            let end = t == threads - 1 ? total : (t + 1) * perThread
            for i in t * perThread..<end {
                try! executor.submit { counts.hit(i); done.countDown() }
            }
        }
        #expect(done.wait(timeout: .seconds(240)))
        executor.shutdown()
        #expect(counts.wrong.isEmpty, "\(counts.wrong.count) closures did not run exactly once")
        let snap = executor.snapshot()
        #expect(snap.executed == total)
        #expect(snap.submitted == total)
        #expect(snap.queued == 0)
    }

    /// A burst from outside is taken in batches (one ring claim moves
    /// several jobs into a worker's deque): the other workers must still be
    /// woken and share the burst. Each of the first `workers` closures
    /// blocks until `workers` closures run at the same time, which only
    /// happens when every worker took part.
    @Test(arguments: [2, 3])
    func burstFromOutsideSpreadsOverAllWorkers(workers: Int) throws {
        let rounds = StressScale.scaled(200, minimum: 20)
        let executor = try Executor(workers: workers, name: "burst")
        for _ in 0..<rounds {
            let together = Latch(count: workers)
            let done = Latch(count: 8 * workers)
            let timedOut = Atomic<Int>(0)
            for i in 0..<8 * workers {
                try executor.submit {
                    if i < workers {
                        together.countDown()
                        if !together.wait(timeout: .seconds(20)) { timedOut.wrappingAdd(1, ordering: .relaxed) }
                    }
                    done.countDown()
                }
            }
            #expect(done.wait(timeout: .seconds(60)))
            #expect(timedOut.load(ordering: .relaxed) == 0, "the burst did not reach every worker")
            // Let the workers park again, so the next burst starts from sleep.
            let deadline = ContinuousClock.now + .seconds(20)
            var backoff = Backoff()
            while executor.parkedWorkerCount < workers && ContinuousClock.now < deadline {
                backoff.snooze(); if backoff.isCompleted { backoff.reset() }
            }
            #expect(executor.parkedWorkerCount == workers, "workers did not park again")
        }
        executor.shutdown()
        #expect(executor.snapshot().executed == rounds * 8 * workers)
    }

    /// Rings of capacity 2 force the overflow lists on every path (central,
    /// high, low, affinity inbox): still exactly once, still drained.
    @Test func tinyRingsOverflowWithoutLoss() throws {
        let total = StressScale.scaled(200_000, minimum: 10_000)
        let executor = try Executor(.init(workers: 2, name: "tiny", centralShards: 1, shardCapacity: 2, inboxCapacity: 2))
        let counts = RunCounts(total)
        let done = Latch(count: total)
        let priorities: [Priority] = [.low, .normal, .high]
        try Stress.run(threads: 3, timeout: .seconds(240)) { t in
            for i in stride(from: t, to: total, by: 3) {
                let affinity: Int? = i % 7 == 0 ? i % 2 : nil
                try! executor.submit(priority: priorities[i % 3], affinity: affinity) { counts.hit(i); done.countDown() }
            }
        }
        #expect(done.wait(timeout: .seconds(240)))
        executor.shutdown()
        #expect(counts.wrong.isEmpty, "\(counts.wrong.count) closures did not run exactly once")
        #expect(executor.snapshot().queued == 0)
    }

    @Test func everyClosureRunsOnceFromInsideWorkers() throws {
        let total = StressScale.scaled(1_000_000, minimum: 20_000)
        let executor = try Executor(workers: 2, name: "inside")
        let counts = RunCounts(total)
        let done = Latch(count: total)
        let chunk = 1_000
        // Outside: one seed closure per chunk; inside: each seed submits its chunk.
        for base in stride(from: 0, to: total, by: chunk) {
            try executor.submit {
                for i in base..<min(total, base + chunk) {
                    try! executor.submit { counts.hit(i); done.countDown() }
                }
            }
        }
        #expect(done.wait(timeout: .seconds(240)))
        executor.shutdown()
        #expect(counts.wrong.isEmpty, "\(counts.wrong.count) closures did not run exactly once")
        #expect(executor.snapshot().executed == total + (total + chunk - 1) / chunk)
    }

    /// Submit one, wait for it, let the workers park, again: a lost wake-up
    /// leaves a closure waiting forever, which the latch's limit catches.
    @Test func noLostWakeUp() throws {
        let rounds = StressScale.scaled(10_000, minimum: 1_000)
        let executor = try Executor(.init(workers: 2, name: "wake", spinBudget: 0))
        var lost = 0
        for round in 0..<rounds {
            let gate = Gate()
            try executor.submit { gate.open() }
            if !gate.wait(timeout: .seconds(10)) { lost += 1; break }
            if round % 16 == 0 {
                // Let every worker reach the parked state before the next round.
                var backoff = Backoff()
                while executor.parkedWorkerCount < 2 { backoff.snooze(); if backoff.isCompleted { backoff.reset() } }
            }
        }
        executor.shutdown()
        #expect(lost == 0)
    }

    @Test func recursiveFanOutCompletes() throws {
        let depth = StressScale.factor < 1 ? 13 : 16
        let expected = (1 << (depth + 1)) - 1
        let executor = try Executor(workers: 2, name: "fanout")
        let ran = Atomic<Int>(0)
        let done = Latch(count: expected)
        @Sendable func node(_ level: Int) {
            ran.wrappingAdd(1, ordering: .relaxed)
            if level < depth {
                try! executor.submit { node(level + 1) }
                try! executor.submit { node(level + 1) }
            }
            done.countDown()
        }
        try executor.submit { node(0) }
        #expect(done.wait(timeout: .seconds(120)))
        executor.shutdown()
        #expect(ran.load(ordering: .relaxed) == expected)
    }

    @Test func shutdownDrainsAcceptedWork() throws {
        let executor = try Executor(workers: 2, name: "drain")
        let ran = Atomic<Int>(0)
        let n = StressScale.scaled(100_000, minimum: 5_000)
        for _ in 0..<n {
            try executor.submit {
                ran.wrappingAdd(1, ordering: .relaxed)
                // Work submitted by accepted work is accepted during the drain.
                try! executor.submit { ran.wrappingAdd(1, ordering: .relaxed) }
            }
        }
        executor.shutdown()
        #expect(ran.load(ordering: .relaxed) == 2 * n)
        #expect(executor.isShutDown)
        #expect(throws: FlowError.self) { try executor.submit {} }
        let snap = executor.snapshot()
        #expect(snap.executed == 2 * n && snap.queued == 0 && snap.isShutDown)
    }

    @Test func submitsRacingShutdownAreRunOrRefused() throws {
        for _ in 0..<StressScale.scaled(20, minimum: 3) {
            let executor = try Executor(workers: 2, name: "race")
            let accepted = Atomic<Int>(0), ran = Atomic<Int>(0)
            let start = Gate()
            let submitter = TestThread.spawn {
                start.wait(timeout: .seconds(10))
                while true {
                    do {
                        try executor.submit { ran.wrappingAdd(1, ordering: .relaxed) }
                        accepted.wrappingAdd(1, ordering: .relaxed)
                    } catch { return }
                }
            }
            start.open()
            var backoff = Backoff()
            while accepted.load(ordering: .relaxed) < 1_000 { backoff.snooze() }
            executor.shutdown()
            submitter.join()
            #expect(ran.load(ordering: .relaxed) == accepted.load(ordering: .relaxed))
        }
    }
}
