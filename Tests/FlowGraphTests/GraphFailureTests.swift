import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

@Suite("Graph failures, cancellation and timeouts", .timeLimit(.minutes(1)))
struct GraphFailureTests {
    @Test func failFastStopsNodesNotStartedAndNamesTheNode() async throws {
        // One worker: the failing root runs first, the other root's chain after it.
        let executor = try Executor(workers: 1, name: "g-failfast")
        let ran = Atomic<Int>(0)
        let graph = TaskGraph("failfast")
        let bad = graph.task("bad") { () throws -> Int in throw TestFailure(tag: "boom") }
        let after = graph.task("after-bad", after: bad) { $0 + 1 }
        let other = graph.task("other") { ran.wrappingAdd(1, ordering: .relaxed); return 0 }
        var chain = other
        for _ in 0..<100 { chain = graph.task(after: chain) { ran.wrappingAdd(1, ordering: .relaxed); return $0 + 1 } }
        do {
            let plan = try graph.freeze()
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.node == "bad")
            #expect(error.underlying as? TestFailure == TestFailure(tag: "boom"))
            #expect(error.failures.count == 1)
            #expect(error.description.contains("node 'bad' failed"))
            #expect(error.run.state(of: bad) == .failed)
            #expect(error.run.state(of: after) == .skipped)
            #expect(error.run.state(of: other) == .cancelled)
            #expect(error.run.state(of: chain) == .skipped)     // after a node that did not run
            #expect(ran.load(ordering: .relaxed) == 0)
        }
        await executor.shutdown()
    }

    @Test func continuePolicyRunsEverythingIndependentOfTheFailure() async throws {
        let executor = try Executor(workers: 2, name: "g-continue")
        let graph = TaskGraph("continue")
        let bad = graph.task("bad") { () throws -> Int in throw TestFailure(tag: "one") }
        let bad2 = graph.task("bad2") { () throws -> Int in throw TestFailure(tag: "two") }
        let skipped = graph.task("skipped", after: bad) { $0 }
        let orderSkipped = graph.task("order-skipped") { 5 }
        graph.order(bad2, before: orderSkipped)
        var chain = graph.task("ok") { 0 }
        for _ in 0..<100 { chain = graph.task(after: chain) { $0 + 1 } }
        let joined = graph.task("joined", after: chain, skipped) { $0 + $1 }
        do {
            let plan = try graph.freeze()
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, errorPolicy: .continue) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(Set(error.failures.map(\.node)) == ["bad", "bad2"])
            #expect(error.run[chain] == nil)            // read by `joined`
            #expect(error.run.state(of: chain) == .succeeded)
            #expect(error.run.state(of: skipped) == .skipped)
            #expect(error.run.state(of: orderSkipped) == .skipped)
            #expect(error.run.state(of: joined) == .skipped)
        }
        await executor.shutdown()
    }

    @Test func cancellingTheCallerStopsTheRunPromptly() async throws {
        let executor = try Executor(workers: 2, name: "g-cancel")
        let reached = Gate(), release = Gate()
        let ran = Atomic<Int>(0)
        let graph = TaskGraph("cancel")
        var chain = graph.task { ran.wrappingAdd(1, ordering: .relaxed); return 0 }
        for i in 1..<10_000 {
            chain = graph.task(after: chain) { v in
                ran.wrappingAdd(1, ordering: .relaxed)
                if i == 10 {
                    reached.open()
                    release.wait(timeout: .seconds(20))
                }
                return v + 1
            }
        }
        let plan = try graph.freeze()
        await expectCancellingTheCallerStops(plan, on: executor,
                                             once: { await reached.waitAsync(timeout: .seconds(20)) }, afterCancel: { release.open() })
        #expect(ran.load(ordering: .relaxed) == 11)
        await executor.shutdown()
    }

    @Test func asyncBodiesRunAndPassValues() async throws {
        let executor = try Executor(workers: 2, name: "g-async")
        let graph = TaskGraph("async")
        let a = graph.task("a") { () async -> Int in
            await Task.yield()
            return 2
        }
        let b = graph.task("b", after: a) { $0 * 10 }
        let c = graph.task("c", after: b, a) { (x: Int, y: Int) async throws -> String in
            await Task.yield()
            #expect(executor.isCurrentThreadWorker)
            return "\(x + y)"
        }
        let many = graph.parallel(50) { $0 }
        let gathered = graph.fanIn(many) { $0.reduce(0, +) }
        let asyncSum = graph.task("sum", after: gathered, c) { (s: Int, t: String) async -> String in "\(s)/\(t)" }
        for _ in 0..<3 {
            let plan = try graph.freeze()
            let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, recordsTimings: true) }
            #expect(run[asyncSum] == "1225/22")
            #expect(run.duration(of: a) != nil)
        }
        await executor.shutdown()
    }

    @Test func asyncTimeoutCancelsTheBody() async throws {
        let executor = try Executor(workers: 2, name: "g-timeout")
        let graph = TaskGraph("timeout")
        let slow = graph.task("slow", options: NodeOptions(timeout: .milliseconds(50))) { () async throws -> Int in
            try await Task.sleep(for: .seconds(30))
            return 1
        }
        _ = graph.task("next", after: slow) { $0 }
        let clock = ContinuousClock(), start = clock.now
        do {
            let plan = try graph.freeze()
            _ = try await withTimeLimit(.seconds(20)) { try await plan.run(on: executor) }
            Issue.record("expected a timeout")
        } catch let error as GraphError {
            #expect(error.node == "slow")
            #expect(error.underlying as? FlowError == .timedOut(what: "node 'slow'", after: .milliseconds(50)))
        }
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test func synchronousBodyPastItsTimeoutFails() async throws {
        let executor = try Executor(workers: 2, name: "g-stimeout")
        let counter = DeinitCounter()
        let graph = TaskGraph("sync-timeout")
        let slow = graph.task("slow", options: NodeOptions(timeout: .milliseconds(1))) { () -> Tracked in
            let clock = ContinuousClock(), start = clock.now
            while clock.now - start < .milliseconds(20) {}
            return Tracked(1, counter: counter)
        }
        do {
            _ = try await graph.run(on: executor)
            Issue.record("expected a timeout")
        } catch let error as GraphError {
            #expect(error.node == "slow")
            #expect(error.run[slow] == nil)
            #expect(counter.liveCount == 0)      // the late value was discarded
        }
        await executor.shutdown()
    }

    @Test func cancellingTheCallerCancelsAsyncBodies() async throws {
        let executor = try Executor(workers: 2, name: "g-acancel")
        let started = Gate()
        let graph = TaskGraph("async-cancel")
        let sleeper = graph.task("sleeper") { () async throws -> Int in
            started.open()
            try await Task.sleep(for: .seconds(30))
            return 1
        }
        _ = graph.task(after: sleeper) { $0 }
        let plan = try graph.freeze()
        await expectCancellingTheCallerStops(plan, on: executor,
                                             once: { await started.waitAsync(timeout: .seconds(20)) })
        await executor.shutdown()
    }

    @Test func optionsReachTheExecutor() async throws {
        let executor = try Executor(workers: 2, name: "g-options")
        let graph = TaskGraph("options")
        let pinned = graph.parallel(20, name: "pinned", options: NodeOptions(affinity: 1)) { _ in executor.currentWorkerIndex }
        let urgent = graph.task("urgent", after: pinned[0], options: NodeOptions(priority: .high)) { (_: Int?) in 1 }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(pinned.dropFirst().allSatisfy { run[$0] == 1 })
        #expect(run[urgent] == 1)
        await executor.shutdown()
    }

    @Test func runBlockingFromAPlainThreadAndAShutDownExecutor() async throws {
        let executor = try Executor(workers: 2, name: "g-blocking")
        let graph = TaskGraph("blocking")
        let a = graph.parallel(100) { $0 }
        let sum = graph.fanIn(a) { $0.reduce(0, +) }
        let plan = try graph.freeze()
        let result = Locked<Int?>(nil)
        let done = Gate()
        TestThread.detached {
            result.withLock { $0 = try? plan.runBlocking(on: executor)[sum] }
            done.open()
        }
        #expect(await done.waitAsync(timeout: .seconds(20)))
        #expect(result.withLock { $0 } == 4950)
        await executor.shutdown()
        await #expect(throws: FlowError.self) { _ = try await plan.run(on: executor) }
    }
}
