import FlowExecutor
import FlowTestSupport
import Synchronization
import Testing

@Suite("Executor behaviour", .serialized, .timeLimit(.minutes(2)))
struct ExecutorBehaviourTests {
    @Test func badConfigurationNamesTheField() {
        let cases: [(Executor.Configuration, String)] = [
            (.init(workers: 0), "workers"),
            (.init(workers: 2, name: ""), "name"),
            (.init(workers: 2, centralShards: 0), "centralShards"),
            (.init(workers: 2, shardCapacity: 1000), "shardCapacity"),
            (.init(workers: 2, inboxCapacity: 1), "inboxCapacity"),
            (.init(workers: 2, spinBudget: -1), "spinBudget"),
        ]
        for (config, field) in cases {
            do {
                _ = try Executor(config)
                Issue.record("\(field) accepted")
            } catch {
                guard case .invalidArgument(let parameter, _, _) = error else { Issue.record("\(error)"); continue }
                #expect(parameter == field)
            }
        }
    }

    @Test func defaultWorkersComeFromTheHost() {
        #expect(Executor.availableCPUs() >= 1)
        #expect(Executor.Configuration().workers == Executor.availableCPUs())
    }

    @Test func affinityIsHonoured() throws {
        let executor = try Executor(workers: 2, name: "pin")
        let wrong = Atomic<Int>(0)
        let done = Latch(count: 2_000)
        for i in 0..<2_000 {
            let target = i % 2
            try executor.submit(affinity: target) {
                if executor.currentWorkerIndex != target { wrong.wrappingAdd(1, ordering: .relaxed) }
                done.countDown()
            }
        }
        #expect(done.wait(timeout: .seconds(30)))
        #expect(wrong.load(ordering: .relaxed) == 0)
        #expect(throws: FlowError.invalidArgument(parameter: "affinity", value: "2", reason: "must be a worker index in 0..<2")) {
            try executor.submit(affinity: 2) {}
        }
        #expect(throws: FlowError.self) { try executor.submit(affinity: -1) {} }
        executor.shutdown()
    }

    @Test func priorityOrderOnOneWorker() throws {
        let executor = try Executor(workers: 1, name: "prio")
        let blocker = Gate(), blocked = Gate()
        let order = Collector<String>()
        let done = Latch(count: 3)
        try executor.submit { blocked.open(); blocker.wait(timeout: .seconds(30)) }
        #expect(blocked.wait(timeout: .seconds(10)))
        try executor.submit(priority: .low) { order.append("low"); done.countDown() }
        try executor.submit(priority: .normal) { order.append("normal"); done.countDown() }
        try executor.submit(priority: .high) { order.append("high"); done.countDown() }
        blocker.open()
        #expect(done.wait(timeout: .seconds(10)))
        #expect(order.values == ["high", "normal", "low"])
        executor.shutdown()
    }

    @Test func lowPriorityIsNotStarvedByAFloodOfHigh() throws {
        let executor = try Executor(workers: 1, name: "starve")
        let flood = 20_000
        let highRan = Atomic<Int>(0)
        let lowRanAfter = Atomic<Int>(-1)
        let done = Latch(count: 1)
        @Sendable func high() {
            let n = highRan.wrappingAdd(1, ordering: .relaxed).newValue
            if n < flood { try! executor.submit(priority: .high) { high() } } else { done.countDown() }
        }
        try executor.submit(priority: .high) { high() }
        try executor.submit(priority: .low) { lowRanAfter.store(highRan.load(ordering: .relaxed), ordering: .relaxed) }
        #expect(done.wait(timeout: .seconds(30)))
        executor.shutdown()
        let after = lowRanAfter.load(ordering: .relaxed)
        #expect(after >= 0 && after < flood, "low ran after \(after) of \(flood) high closures")
    }

    @Test func workersAreNamedAndKnowThemselves() throws {
        let executor = try Executor(workers: 2, name: "named")
        #expect(executor.currentWorkerIndex == nil)
        #expect(!executor.isCurrentThreadWorker)
        let seen = Collector<Int>()
        let done = Latch(count: 100)
        for _ in 0..<100 {
            try executor.submit { seen.append(executor.currentWorkerIndex ?? -1); done.countDown() }
        }
        #expect(done.wait(timeout: .seconds(10)))
        #expect(seen.values.allSatisfy { (0..<2).contains($0) })
        executor.shutdown()
    }

    @Test func observerSeesEveryJobAndSnapshotCounts() throws {
        final class Recorder: ExecutorObserver {
            let will = Atomic<Int>(0), did = Atomic<Int>(0)
            let names = Collector<String>()
            func willRun(_ job: ExecutorJobInfo) {
                will.wrappingAdd(1, ordering: .relaxed)
                if let n = job.name { names.append(n) }
            }
            func didRun(_ job: ExecutorJobInfo) { did.wrappingAdd(1, ordering: .relaxed) }
        }
        let executor = try Executor(workers: 2, name: "observed")
        let recorder = Recorder()
        executor.setObserver(recorder)
        let done = Latch(count: 50)
        for i in 0..<50 { try executor.submit(name: "job-\(i)") { done.countDown() } }
        #expect(done.wait(timeout: .seconds(10)))
        executor.shutdown()
        #expect(recorder.will.load(ordering: .relaxed) == 50)
        #expect(recorder.did.load(ordering: .relaxed) == 50)
        #expect(Set(recorder.names.values) == Set((0..<50).map { "job-\($0)" }))
        let snap = executor.snapshot()
        #expect(snap.workers.count == 2)
        #expect(snap.executed == 50 && snap.submitted == 50)
        #expect(snap.workers.map(\.executed).reduce(0, +) == 50)
    }

    @Test func deinitWithoutShutdownStillRunsAcceptedWork() throws {
        let done = Latch(count: 1_000)
        do {
            let executor = try Executor(workers: 2, name: "dropped")
            for _ in 0..<1_000 { try executor.submit { done.countDown() } }
        }
        #expect(done.wait(timeout: .seconds(10)))
    }

    @Test func cgroupQuotaParsing() {
        #expect(Executor.parseCgroupV2CPUMax("max 100000\n") == nil)
        #expect(Executor.parseCgroupV2CPUMax("150000 100000\n") == 2)
        #expect(Executor.parseCgroupV2CPUMax("200000 100000") == 2)
        #expect(Executor.parseCgroupV1Quota(quota: "-1\n", period: "100000\n") == nil)
        #expect(Executor.parseCgroupV1Quota(quota: "50000\n", period: "100000\n") == 1)
        #expect(Executor.parseCgroupV1Quota(quota: "400000", period: "100000") == 4)
    }
}
