import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

/// Token nodes (`task(_:runs:…)`): every token once, outputs in token
/// order, `maxConcurrency` never exceeded, failures and cancellation.
@Suite("Token nodes", .timeLimit(.minutes(1)))
struct GraphTokenTests {
    /// A token node after `input` whose body (sync or async) runs `body`.
    private func tokens<T: Sendable>(
        _ graph: TaskGraph, _ name: String, _ kind: BodyKind, runs count: Int, after input: Node<Int>,
        options: NodeOptions = NodeOptions(), _ body: @escaping @Sendable (Int, Int) throws -> T
    ) -> Node<[T]> {
        switch kind {
        case .sync:
            return graph.task(name, runs: count, after: input, options: options) { token, x in try body(token, x) }
        case .async:
            return graph.task(name, runs: count, after: input, options: options) { token, x in
                await Task.yield()
                return try body(token, x)
            }
        }
    }

    @Test(arguments: BodyKind.allCases)
    func everyTokenRunsOnceAndOutputsAreInTokenOrder(kind: BodyKind) async throws {
        let executor = try Executor(workers: 3, name: "g-tokens-\(kind)")
        let count = 2_000
        let probe = Probe(count)
        let graph = TaskGraph("tokens")
        let seed = graph.task("seed") { 3 }
        let squares = tokens(graph, "squares", kind, runs: count, after: seed) { token, x in
            probe.enter(token)
            return token * x
        }
        let sum = graph.task("sum", after: squares) { $0.reduce(0, +) }
        let plan = try graph.freeze()
        for round in 1...3 {   // re-running gives the same results
            let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            #expect(run[sum] == 3 * count * (count - 1) / 2)
            #expect(run.state(of: squares) == .succeeded)
            #expect((0..<count).allSatisfy { probe.runs($0) == round }, "round \(round)")
        }
        let outputs = graph.task("outputs", runs: 5) { $0 * 10 }
        let run = try await withTimeLimit(.seconds(30)) { [plan = try graph.freeze()] in try await plan.run(on: executor) }
        #expect(run[outputs] == [0, 10, 20, 30, 40])
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases, [1, 2, 3])
    func maxConcurrencyIsNeverExceededAndIsReached(kind: BodyKind, limit: Int) async throws {
        let executor = try Executor(workers: 4, name: "g-tokens-limit")
        let gauge = ConcurrencyGauge()
        let first = Latch(count: limit)
        let waited = Tally()
        let graph = TaskGraph("limit")
        let seed = graph.task("seed") { 0 }
        let node = tokens(graph, "limited", kind, runs: 40, after: seed, options: NodeOptions(maxConcurrency: limit)) { token, _ in
            gauge.enter()
            defer { gauge.leave() }
            if token < limit {   // the first `limit` tokens wait for each other: the limit is reached
                first.countDown()
                if first.wait(timeout: .seconds(20)) { waited.add() }
            }
            return token
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[node] == Array(0..<40))
        #expect(waited.count == limit)
        #expect(gauge.peak == limit)
        await executor.shutdown()
    }

    @Test func withoutALimitSynchronousTokensUseEveryWorker() async throws {
        let executor = try Executor(workers: 3, name: "g-tokens-workers")
        let gauge = ConcurrencyGauge()
        let first = Latch(count: 3)
        let graph = TaskGraph("workers")
        let node = graph.task("all", runs: 30) { token in
            gauge.enter()
            defer { gauge.leave() }
            if token < 3 { first.countDown(); first.wait(timeout: .seconds(20)) }
            return executor.currentWorkerIndex
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(first.isOpen)
        #expect(gauge.peak == 3)
        #expect(run[node]?.allSatisfy { $0 != nil } == true)   // on the executor's workers
        await executor.shutdown()
    }

    @Test func anAffinityRunsEveryTokenOnThatWorker() async throws {
        let executor = try Executor(workers: 3, name: "g-tokens-affinity")
        let graph = TaskGraph("affinity")
        let node = graph.task("pinned", runs: 50, options: NodeOptions(affinity: 2)) { _ in executor.currentWorkerIndex }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[node] == Array(repeating: 2, count: 50))
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases)
    func underFailFastAFailingTokenFailsTheNodeAndLaterTokensDoNotRun(kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-ff")
        let counter = DeinitCounter()
        let ran = Tally()
        let graph = TaskGraph("token-fail")
        let seed = graph.task("seed") { 0 }
        let node = tokens(graph, "resize", kind, runs: 100, after: seed, options: NodeOptions(maxConcurrency: 1)) { token, _ in
            ran.add()
            if token == 5 { throw TestFailure(tag: "token 5") }
            return Tracked(token, counter: counter)
        }
        let after = graph.task("after", after: node) { $0.count }
        let plan = try graph.freeze()
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.node == "resize")
            #expect(error.underlying as? TestFailure == TestFailure(tag: "token 5"))
            #expect(error.failures.count == 1)
            #expect(error.run.state(of: node) == .failed)
            #expect(error.run.state(of: after) == .skipped)
        }
        #expect(ran.count == 6)              // tokens 0...5: one at a time, none after the failure
        #expect(counter.liveCount == 0)      // the outputs of tokens 0..<5 were released
        await executor.shutdown()
    }

    @Test func underContinueTheOtherTokensStillRun() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-continue")
        let probe = Probe(50)
        let graph = TaskGraph("token-continue")
        let node = graph.task("t", runs: 50) { token -> Int in
            probe.enter(token)
            if token % 10 == 3 { throw TestFailure(tag: "\(token)") }
            return token
        }
        let after = graph.task("after", after: node) { $0.count }
        let independent = graph.task("independent") { 7 }
        let plan = try graph.freeze()
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, errorPolicy: .continue) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.failures.count == 5)
            #expect(error.failures.allSatisfy { $0.node == "t" && $0.index == node.index })
            #expect(Set(error.failures.compactMap { ($0.error as? TestFailure)?.tag }) == ["3", "13", "23", "33", "43"])
            #expect(error.run.state(of: node) == .failed)
            #expect(error.run.state(of: after) == .skipped)
            #expect(error.run[independent] == 7)
        }
        #expect(probe.wrongCounts.isEmpty)   // every token ran exactly once
        await executor.shutdown()
    }

    @Test func cancellingTheCallerStopsTokensNotStarted() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-cancel")
        let reached = Gate(), release = Gate()
        let ran = Tally()
        let graph = TaskGraph("token-cancel")
        let node = graph.task("slow", runs: 1_000, options: NodeOptions(maxConcurrency: 1)) { token in
            ran.add()
            if token == 0 {
                reached.open()
                release.wait(timeout: .seconds(20))
            }
            return token
        }
        _ = graph.task("after", after: node) { $0.count }
        let plan = try graph.freeze()
        await expectCancellingTheCallerStops(plan, on: executor,
                                             once: { await reached.waitAsync(timeout: .seconds(20)) }, afterCancel: { release.open() })
        #expect(ran.count == 1)
        await executor.shutdown()
    }

    @Test func cancellingTheCallerCancelsAsyncTokensPromptly() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-acancel")
        let started = Latch(count: 4)
        let graph = TaskGraph("token-acancel")
        let node = graph.task("sleepers", runs: 100, options: NodeOptions(maxConcurrency: 4)) { token async throws -> Int in
            started.countDown()
            try await Task.sleep(for: .seconds(60))
            return token
        }
        _ = graph.task("after", after: node) { $0.count }
        let plan = try graph.freeze()
        await expectCancellingTheCallerStops(plan, on: executor,
                                             once: { await started.waitAsync(timeout: .seconds(20)) })
        await executor.shutdown()
    }

    @Test func anAsyncTimeoutCancelsTheTokensAtTheDeadline() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-timeout")
        let graph = TaskGraph("token-timeout")
        let node = graph.task("slow", runs: 8, options: NodeOptions(timeout: .milliseconds(50))) { token async throws -> Int in
            try await Task.sleep(for: .seconds(60))
            return token
        }
        let plan = try graph.freeze()
        let clock = ContinuousClock(), start = clock.now
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a timeout")
        } catch let error as GraphError {
            #expect(error.node == "slow")
            #expect(error.underlying as? FlowError == .timedOut(what: "node 'slow'", after: .milliseconds(50)))
            #expect(error.failures.count == 1)
            #expect(error.run[node] == nil)
        }
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test func badOptionsAreRejectedWithTheirField() {
        let tokens = TaskGraph("tokens")
        tokens.task("resize", runs: 4, options: NodeOptions(maxConcurrency: 0)) { $0 }
        #expect(throws: FlowError.invalid("maxConcurrency", 0, "of node 'resize' must be at least 1 (nil for no limit)")) {
            try tokens.validate()
        }

        let scoped = TaskGraph("scoped")
        scoped.scopedTask("crawl", options: NodeOptions(maxConcurrency: -2)) { _ in 1 }
        #expect(throws: FlowError.invalid("maxConcurrency", -2, "of node 'crawl' must be at least 1 (nil for no limit)")) {
            try scoped.validate()
        }

        let plain = TaskGraph("plain")
        plain.task("once", options: NodeOptions(maxConcurrency: 4)) { 1 }
        let result = Result { () throws(FlowError) in try plain.validate() }
        guard case .failure(.invalidArgument(let parameter, let value, let reason)) = result else {
            Issue.record("expected an invalid argument, got \(result)")
            return
        }
        #expect(parameter == "maxConcurrency")
        #expect(value == "4")
        #expect(reason.contains("node 'once'") && reason.contains("runs once"))

        let negative = TaskGraph("negative")
        negative.task("r", runs: -1) { $0 }
        #expect(throws: FlowError.invalid("runs", -1, "of node 'r' must be at least 0")) { try negative.validate() }
        #expect(FlowError.invalid("maxConcurrency", 0, "x").description == "invalid argument maxConcurrency = 0: x")
    }

    @Test func maxConcurrencyIsKeptInTheOptions() throws {
        let graph = TaskGraph("options")
        let node = graph.task("r", runs: 3, options: NodeOptions(maxConcurrency: 2)) { $0 }
        let plan = try graph.freeze()
        #expect(plan.options(ofNodeAt: node.index).maxConcurrency == 2)
        #expect(NodeOptions().maxConcurrency == nil)
    }

    @Test func renderingsShowTokenNodes() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-render")
        let graph = TaskGraph("render")
        let list = graph.task("list") { 4 }
        let resized = graph.task("resize", runs: 8, after: list) { token, n in token * n }
        _ = graph.task("save", after: resized) { $0.count }
        #expect(graph.dot().contains("n1 [label=\"resize ×8\"];"))
        #expect(graph.mermaid().contains("n1[\"resize ×8\"]"))
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, recordsTimings: true) }
        #expect(run.mermaid().contains("n1[\"resize ×8 ("))
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases)
    func timingsStatesAndMonitorForTokenNodes(kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-timing")
        let graph = TaskGraph("timing")
        let seed = graph.task("seed") { 1 }
        let node = tokens(graph, "spin", kind, runs: 4, after: seed, options: NodeOptions(maxConcurrency: 1)) { token, _ in
            let clock = ContinuousClock(), start = clock.now
            while clock.now - start < .milliseconds(5) {}   // 5 ms of work per token, one at a time
            return token
        }
        let plan = try graph.freeze()
        let monitor = GraphMonitor(plan: plan)
        let run = try await withTimeLimit(.seconds(30)) {
            try await plan.run(on: executor, recordsTimings: true, monitor: monitor)
        }
        #expect(run.state(of: node) == .succeeded)
        #expect((run.duration(of: node) ?? .zero) >= .milliseconds(20))
        let report = run.nodes[node.index]
        #expect(report.name == "spin" && report.state == .succeeded && report.duration == run.duration(of: node))
        #expect(report.started != nil)
        #expect(run.criticalPath.nodes == ["seed", "spin"])
        #expect(monitor.counts() == GraphMonitor.Counts(succeeded: 2))
        await executor.shutdown()
    }

    @Test func zeroTokensGiveAnEmptyArray() async throws {
        let executor = try Executor(workers: 2, name: "g-tokens-zero")
        let graph = TaskGraph("zero")
        let none = graph.task("none", runs: 0) { $0 }
        let noneAsync = graph.task("none-async", runs: 0) { token async in token }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[none] == [])
        #expect(run[noneAsync] == [])
        await executor.shutdown()
    }

    @Test func inputsAndOutputsAreReleased() async throws {
        let executor = try Executor(workers: 3, name: "g-tokens-release")
        let counter = DeinitCounter()
        let graph = TaskGraph("release")
        let input = graph.task("input") { Tracked(5, counter: counter) }
        let shared = graph.task("shared") { Tracked(1, counter: counter) }
        let made = graph.task("made", runs: 100, after: input, shared) { token, x, y in
            Tracked(token + x.value + y.value, counter: counter)
        }
        let other = graph.task("other", after: shared) { $0.value }
        let total = graph.task("total", after: made) { $0.reduce(0) { $0 + $1.value } }
        let plan = try graph.freeze()
        for _ in 0..<3 {
            let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            #expect(run[total] == (0..<100).reduce(0) { $0 + $1 + 6 })
            #expect(run[other] == 1)
            #expect(counter.liveCount == 0)   // inputs and outputs released by the time the run returned
        }
        await executor.shutdown()
    }
}
