import FlowPipeline
import FlowTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct Boom: Error, Equatable {}

/// A fan-out/fan-in graph: root → n squares → sum, plus an independent tail.
private func fanGraph(_ n: Int) -> (TaskGraph, Node<Int>) {
    let graph = TaskGraph("fan")
    let root = graph.task("root") { 3 }
    let squares = graph.fanOut(from: root, count: n, name: "sq") { base, i in base * i * i }
    let sum = graph.fanIn(squares, name: "sum") { $0.reduce(0, +) }
    return (graph, sum)
}

@Suite("Pipeline", .serialized, .timeLimit(.minutes(2)))
struct PipelineTests {
    @Test func sameValuesAsADirectRunAndBothEntryPointsAgree() async throws {
        let (graph, sum) = fanGraph(1_000)
        let executor = try Executor(workers: 2, name: "direct")
        let direct = try await graph.run(on: executor)[sum]
        await executor.shutdown()

        let pipeline = try Pipeline(PipelineConfig().name("same").computeThreads(2).ioThreads(1))
        let viaRun = try await pipeline.run(graph)[sum]
        let viaExecute = try pipeline.execute(graph)[sum]
        #expect(direct == (0..<1_000).reduce(0) { $0 + 3 * $1 * $1 })
        #expect(viaRun == direct)
        #expect(viaExecute == direct)
        #expect(pipeline.activeRuns == 0)
        pipeline.shutdown()
        #expect(pipeline.computeExecutor.isShutDown)
        #expect(pipeline.ioExecutor?.isShutDown == true)
    }

    @Test func failFastNamesTheFailedNode() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("fail")
        let a = graph.task("a") { 1 }
        _ = graph.task("bad", after: a) { _ -> Int in throw Boom() }
        do {
            _ = try await pipeline.run(graph)
            Issue.record("expected a failure")
        } catch let error as GraphError {
            #expect(error.node == "bad")
            #expect(error.underlying is Boom)
        }
        let plan = try graph.freeze()
        #expect(throws: GraphError.self) { try pipeline.execute(plan) }
        #expect(pipeline.report()?.failures.map(\.node) == ["bad"])
    }

    @Test func continuePolicyRunsIndependentWork() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).errorPolicy(.continue))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("cont")
        let bad1 = graph.task("bad1") { () throws -> Int in throw Boom() }
        let bad2 = graph.task("bad2") { () throws -> Int in throw Boom() }
        let good = graph.task("good") { 42 }
        let after = graph.task("after", after: bad1) { $0 + 1 }
        do {
            _ = try await pipeline.run(graph)
            Issue.record("expected a failure")
        } catch let error as GraphError {
            #expect(Set(error.failures.map(\.node)) == ["bad1", "bad2"])
            #expect(error.run[good] == 42)
            #expect(error.run.state(of: after) == .skipped)
            _ = bad2
        }
    }

    @Test func aSlowTaskIsReportedAndNamed() async throws {
        let pipeline = try Pipeline(PipelineConfig().name("slowpipe").computeThreads(2).taskTimeout(.milliseconds(100)))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("slow")
        let fast = graph.task("fast") { 1 }
        let slow = graph.task("slow", after: fast) { x -> Int in
            usleep(600_000)   // a body that sleeps in order to be timed out
            return x
        }
        _ = graph.task("next", after: slow) { $0 + 1 }
        let plan = try graph.freeze()
        _ = try await withTimeLimit(.seconds(30)) {
            await #expect(throws: FlowError.timedOut(what: "task 'slow'", after: .milliseconds(100))) {
                try await pipeline.run(plan)
            }
        }
        let timeouts = pipeline.events.filter { if case .taskTimedOut = $0 { true } else { false } }
        #expect(timeouts.count >= 1)
        #expect(pipeline.report()?.timedOut == ["slow"])
    }

    @Test func aStuckAsyncTaskIsCancelledAtTheTaskTimeout() async throws {
        let pipeline = try Pipeline(PipelineConfig().name("stuck").computeThreads(2).taskTimeout(.milliseconds(200)))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("stuck")
        let sawCancellation = Locked(false)
        let start = graph.task("start") { 1 }
        let stuck = graph.task("stuck", after: start) { x async throws -> Int in
            do {
                try await Task.sleep(for: .seconds(60))     // would hang the run without the timeout
            } catch {
                sawCancellation.withLock { $0 = true }
                throw error
            }
            return x
        }
        _ = graph.task("after", after: stuck) { $0 + 1 }
        // Its own NodeOptions.timeout wins over the pipeline's taskTimeout.
        let patient = graph.task("patient", after: start, options: NodeOptions(timeout: .seconds(30))) { x async throws -> Int in
            try await Task.sleep(for: .milliseconds(400))
            return x
        }
        let plan = try graph.freeze()
        let clock = ContinuousClock()
        let began = clock.now
        _ = try await withTimeLimit(.seconds(30)) {
            await #expect(throws: FlowError.timedOut(what: "task 'stuck'", after: .milliseconds(200))) {
                try await pipeline.run(plan)
            }
        }
        #expect(clock.now - began < .seconds(20), "cancelled at the deadline, not after the 60 s sleep")
        #expect(sawCancellation.withLock { $0 })
        #expect(pipeline.report()?.timedOut.contains("stuck") == true)
        #expect(pipeline.report()?.tasks.first { $0.name == "after" }?.state == .skipped)
        _ = patient
    }

    @Test func underContinueASlowTaskIsRecorded() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).taskTimeout(.milliseconds(100)).errorPolicy(.continue))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("slow")
        let slow = graph.task("slow") { () -> Int in
            usleep(400_000)
            return 7
        }
        let run = try pipeline.execute(graph)
        #expect(run[slow] == 7)
        #expect(pipeline.report()?.timedOut == ["slow"])
    }

    @Test func theGlobalTimeoutCancelsTheRun() async throws {
        // Long enough that the quick run afterwards stays inside it even on a
        // loaded machine; the forever graph still hits it.
        let pipeline = try Pipeline(PipelineConfig().name("glob").computeThreads(2).globalTimeout(.seconds(2)))
        let graph = TaskGraph("forever")
        let start = graph.task("start") { 1 }
        let sleeper = graph.task("sleep", after: start) { x async throws -> Int in
            try await Task.sleep(for: .seconds(60))
            return x
        }
        _ = graph.task("never", after: sleeper) { $0 }
        let plan = try graph.freeze()
        _ = try await withTimeLimit(.seconds(20)) {
            await #expect(throws: FlowError.timedOut(what: "pipeline 'glob' running graph 'forever'", after: .seconds(2))) {
                try await pipeline.run(plan)
            }
        }
        #expect(pipeline.activeRuns == 0)
        #expect(pipeline.report() == nil)
        // The pipeline still works, and shuts down cleanly.
        let quick = TaskGraph("quick")
        let one = quick.task("one") { 1 }
        #expect(try await pipeline.run(quick)[one] == 1)
        pipeline.shutdown()
    }

    @Test func aStallMakesThePipelineUnresponsive() async throws {
        let clock = ManualClock()
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).idleTimeout(.seconds(1)).deadlockTimeout(.seconds(5)),
                                    clock: .manual(clock))
        defer { pipeline.shutdown() }
        let started = Gate(), release = Gate()
        let graph = TaskGraph("stuck")
        let stuck = graph.task("stuck") { () -> Bool in
            started.open()
            return release.wait(timeout: .seconds(30))
        }
        let plan = try graph.freeze()
        let run = Task { try await pipeline.run(plan) }
        #expect(started.wait(timeout: .seconds(10)))
        #expect(pipeline.isResponsive)
        clock.advance(by: .seconds(3))
        #expect(!pipeline.isResponsive)
        #expect(pipeline.events.contains { if case .stalled = $0 { true } else { false } })
        release.open()
        #expect(try await run.value[stuck] == true)
        // The worker job that ran the node counts itself done just after it
        // handed the run its result, so the check at the next tick may not
        // see it yet: step the clock until one does (bounded in real time).
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            clock.advance(by: .seconds(1))
            await Task.yield()
        } while !pipeline.isResponsive && ContinuousClock.now < deadline
        #expect(pipeline.isResponsive)
        #expect(pipeline.events.contains(.recovered))
    }

    @Test func theReportMatchesTheRun() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).timings(true))
        defer { pipeline.shutdown() }
        let (graph, sum) = fanGraph(100)
        let run = try await pipeline.run(graph)
        let report = try #require(pipeline.report())
        #expect(report.graph == "fan")
        #expect(report.tasks.count == graph.nodeCount)
        #expect(report.succeeded == graph.nodeCount)
        #expect(report.tasks.allSatisfy { $0.duration != nil })
        #expect(report.criticalPath == run.criticalPath)
        #expect(report.criticalPath.nodes.first == "root" && report.criticalPath.nodes.last == "sum")
        #expect(report.slowest(3).count == 3)
        #expect(report.throughput > 0)
        #expect(report.description.contains("critical path"))
        _ = sum
    }

    @Test func cancellingTheCallerCancelsTheRun() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2))
        defer { pipeline.shutdown() }
        let started = Gate()
        let graph = TaskGraph("cancel")
        _ = graph.task("sleep") { () async throws -> Int in
            started.open()
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        let plan = try graph.freeze()
        let run = Task { try await pipeline.run(plan) }
        #expect(await started.waitAsync(timeout: .seconds(10)))
        run.cancel()
        _ = try await withTimeLimit(.seconds(20)) {
            await #expect(throws: CancellationError.self) { try await run.value }
        }
    }

    @Test func withoutAWatchdogItIsAlwaysResponsive() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(1).ioThreads(0).watchdog(false))
        defer { pipeline.shutdown() }
        #expect(pipeline.watchdog == nil && pipeline.ioExecutor == nil)
        let (graph, sum) = fanGraph(10)
        #expect(try pipeline.execute(graph)[sum] == (0..<10).reduce(0) { $0 + 3 * $1 * $1 })
        #expect(pipeline.isResponsive && pipeline.events.isEmpty)
    }
}
