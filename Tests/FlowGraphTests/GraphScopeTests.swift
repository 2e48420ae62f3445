import FlowGraph
import FlowTestSupport
import Testing

/// Scoped nodes (`scopedTask`): a node ends when every child of its scope
/// ended; child errors fail it; cancelling the run cancels the children.
@Suite("Scoped nodes", .timeLimit(.minutes(1)))
struct GraphScopeTests {
    /// Adds a scoped node named `name` after `input` whose body (sync or
    /// async, per `kind`) runs `spawn` with its scope and returns `value`.
    private func scoped(
        _ graph: TaskGraph, _ name: String, _ kind: BodyKind, after input: Node<Int>,
        options: NodeOptions = NodeOptions(), _ spawn: @escaping @Sendable (Scope, Int) throws -> Void
    ) -> Node<Int> {
        switch kind {
        case .sync:
            return graph.scopedTask(name, after: input, options: options) { scope, x in
                try spawn(scope, x)
                return x + 1
            }
        case .async:
            return graph.scopedTask(name, after: input, options: options) { scope, x in
                await Task.yield()
                try spawn(scope, x)
                return x + 1
            }
        }
    }

    @Test(arguments: BodyKind.allCases)
    func successorsSeeEveryChildsEffects(kind: BodyKind) async throws {
        let executor = try Executor(workers: 3, name: "g-scope-\(kind)")
        let tally = Tally()
        let graph = TaskGraph("scoped")
        let seed = graph.task("seed") { 10 }
        let fan = scoped(graph, "fan", kind, after: seed) { scope, x in
            for i in 0..<50 {
                scope.spawn {
                    for _ in 0..<(i % 4) { await Task.yield() }
                    tally.add(x)
                    if i % 10 == 0 {
                        scope.spawn { tally.add(1) }     // a grandchild in the same scope
                    }
                }
            }
            scope.spawnBlocking { tally.add(1000) }     // on a Dispatch thread
        }
        let seen = graph.task("seen", after: fan) { v in (v, tally.count) }
        let plan = try graph.freeze()
        for round in 0..<5 {   // re-running gives the same results
            tally.reset()
            let run = try await withTimeLimit(.seconds(30), "round \(round)") { try await plan.run(on: executor) }
            #expect(run[seen]?.0 == 11)
            #expect(run[seen]?.1 == 50 * 10 + 5 + 1000, "round \(round)")
            #expect(run.state(of: fan) == .succeeded)
        }
        await executor.shutdown()
    }

    @Test func theAsyncBodyMayAwaitItsChildren() async throws {
        let executor = try Executor(workers: 2, name: "g-scope-await")
        let graph = TaskGraph("await")
        let parts = graph.task("parts") { [1, 2, 3, 4] }
        let squares = graph.scopedTask("squares", after: parts) { scope, parts in
            let handles = parts.map { p in scope.spawn { p * p } }
            var total = 0
            for handle in handles { total += try await handle.value }
            return total
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[squares] == 30)
        await executor.shutdown()
    }

    @Test func aLongChainOfScopedNodesWithoutChildren() async throws {
        let executor = try Executor(workers: 2, name: "g-scope-chain")
        let graph = TaskGraph("chain")
        var node = graph.task { 0 }
        for _ in 0..<5_000 {
            node = graph.scopedTask(after: node) { _, x in x + 1 }
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[node] == 5_000)
        await executor.shutdown()
    }

    @Test(arguments: [ErrorPolicy.failFast, .continue], BodyKind.allCases)
    func aChildErrorFailsTheNodeWithItsName(policy: ErrorPolicy, kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-scope-fail")
        let cancelledSiblings = Tally()
        // A child cancelled before its body starts never runs it (Scope's
        // contract), so the failing child waits until its three siblings
        // are running: each of them must then see the cancellation.
        let siblingsRunning = Latch(count: 3)
        let graph = TaskGraph("child-error")
        let seed = graph.task("seed") { 1 }
        let crawl = scoped(graph, "crawl", kind, after: seed) { scope, _ in
            for _ in 0..<3 {
                scope.spawn {
                    siblingsRunning.countDown()
                    do { try await Task.sleep(for: .seconds(60)) } catch {
                        cancelledSiblings.add()
                        throw error
                    }
                }
            }
            scope.spawn {
                _ = await siblingsRunning.waitAsync(timeout: .seconds(10))
                throw TestFailure(tag: "child")
            }
        }
        let after = graph.task("after", after: crawl) { $0 }
        let independent = graph.task("independent", after: seed) { $0 + 100 }
        let plan = try graph.freeze()
        let clock = ContinuousClock(), start = clock.now
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, errorPolicy: policy) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.node == "crawl")
            #expect(error.underlying as? TestFailure == TestFailure(tag: "child"))
            #expect(error.failures.count == 1)
            #expect(error.run.state(of: crawl) == .failed)
            #expect(error.run.state(of: after) == .skipped)
            #expect(cancelledSiblings.count == 3)       // cancelled, and ended before the node did
            if policy == .continue { #expect(error.run[independent] == 101) }
        }
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test func aBodyErrorCancelsAndAwaitsTheChildren() async throws {
        let executor = try Executor(workers: 2, name: "g-scope-body")
        let children = Collector<JoinHandle<Void>>()
        let graph = TaskGraph("body-error")
        let node = graph.scopedTask("node") { scope -> Int in
            children.append(scope.spawn { try await Task.sleep(for: .seconds(60)) })
            throw TestFailure(tag: "body")
        }
        let plan = try graph.freeze()
        let clock = ContinuousClock(), start = clock.now
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.node == "node")
            #expect(error.underlying as? TestFailure == TestFailure(tag: "body"))
            #expect(error.failures.count == 1)
            #expect(error.run.state(of: node) == .failed)
            // The run ended after the node, the node after its child.
            #expect(children.values.count == 1 && children.values.allSatisfy { $0.isFinished && $0.isCancelled })
        }
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases)
    func failFastCancelsTheScopeChildrenOfOtherNodes(kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-scope-ff")
        let childStarted = Gate(), childCancelled = Gate()
        let graph = TaskGraph("fail-fast")
        let seed = graph.task("seed") { 0 }
        let waiter = scoped(graph, "waiter", kind, after: seed) { scope, _ in
            scope.spawn { try await sleepUntilCancelled(started: childStarted, cancelled: childCancelled) }
        }
        let next = graph.task("next", after: waiter) { $0 }
        _ = graph.task("bad") { () async throws -> Int in
            _ = await childStarted.waitAsync(timeout: .seconds(20))
            throw TestFailure(tag: "bad")
        }
        let plan = try graph.freeze()
        let clock = ContinuousClock(), start = clock.now
        do {
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(error.node == "bad")
            #expect(error.failures.count == 1)          // the cancelled child is not a failure
            #expect(error.run.state(of: waiter) == .cancelled)
            #expect(error.run.state(of: next) == .skipped)
        }
        #expect(childStarted.isOpen)
        #expect(childCancelled.isOpen)
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases)
    func cancellingTheCallerCancelsScopeChildrenPromptly(kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-scope-cancel")
        let childStarted = Gate(), childCancelled = Gate()
        let graph = TaskGraph("cancel")
        let seed = graph.task("seed") { 0 }
        let waiter = scoped(graph, "waiter", kind, after: seed) { scope, _ in
            for _ in 0..<4 {
                scope.spawn { try await sleepUntilCancelled(started: childStarted, cancelled: childCancelled) }
            }
        }
        _ = graph.task("next", after: waiter) { $0 }
        let plan = try graph.freeze()
        await expectCancellingTheCallerStops(plan, on: executor,
                                             once: { await childStarted.waitAsync(timeout: .seconds(20)) })
        #expect(childCancelled.isOpen)
        await executor.shutdown()
    }

    @Test func maxConcurrencyBoundsTheChildrenAtOnce() async throws {
        let executor = try Executor(workers: 4, name: "g-scope-limit")
        let gauge = ConcurrencyGauge()
        let firstTwo = Latch(count: 2)
        let graph = TaskGraph("limit")
        let node = graph.scopedTask("limited", options: NodeOptions(maxConcurrency: 2)) { scope in
            for i in 0..<20 {
                scope.spawn {
                    gauge.enter()
                    if i < 2 {   // the first two wait for each other: the limit is reached
                        firstTwo.countDown()
                        _ = await firstTwo.waitAsync(timeout: .seconds(20))
                    }
                    await Task.yield()
                    gauge.leave()
                }
            }
            return 20
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[node] == 20)
        #expect(firstTwo.isOpen)
        #expect(gauge.peak == 2)
        await executor.shutdown()
    }

    @Test func asyncTimeoutCancelsTheChildrenAtTheDeadline() async throws {
        let executor = try Executor(workers: 2, name: "g-scope-timeout")
        let childStarted = Gate(), childCancelled = Gate()
        let graph = TaskGraph("timeout")
        let slow = graph.scopedTask("slow", options: NodeOptions(timeout: .milliseconds(50))) { scope in
            await Task.yield()
            scope.spawn { try await sleepUntilCancelled(started: childStarted, cancelled: childCancelled) }
            // The child normally starts before the deadline; the body waits
            // (bounded, so a cancelled child that never starts cannot hang it).
            _ = await childStarted.waitAsync(timeout: .milliseconds(40))
            return 1
        }
        let clock = ContinuousClock(), start = clock.now
        do {
            let plan = try graph.freeze()
            _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            Issue.record("expected a timeout")
        } catch let error as GraphError {
            #expect(error.node == "slow")
            #expect(error.underlying as? FlowError == .timedOut(what: "node 'slow'", after: .milliseconds(50)))
            #expect(error.run[slow] == nil)
        }
        // A child that started was cancelled at the deadline (it sleeps 60 s).
        // Under heavy load the child may not have started by then: a child
        // cancelled before it starts never runs its body (Scope's contract).
        #expect(childCancelled.isOpen == childStarted.isOpen)
        #expect(clock.now - start < .seconds(10))
        await executor.shutdown()
    }

    @Test(arguments: BodyKind.allCases)
    func timingsAndMonitorCoverTheChildren(kind: BodyKind) async throws {
        let executor = try Executor(workers: 2, name: "g-scope-timing")
        let graph = TaskGraph("timing")
        let seed = graph.task("seed") { 0 }
        let node = scoped(graph, "node", kind, after: seed) { scope, _ in
            scope.spawn { try await Task.sleep(for: .milliseconds(30)) }   // work that takes 30 ms
        }
        let plan = try graph.freeze()
        let monitor = GraphMonitor(plan: plan)
        let run = try await withTimeLimit(.seconds(30)) {
            try await plan.run(on: executor, recordsTimings: true, monitor: monitor)
        }
        #expect(run.state(of: node) == .succeeded)
        #expect((run.duration(of: node) ?? .zero) >= .milliseconds(30))
        #expect(run.nodes[node.index].state == .succeeded)
        #expect(monitor.counts() == GraphMonitor.Counts(succeeded: 2))
        #expect(monitor.phase(of: node) == .succeeded)
        await executor.shutdown()
    }

    @Test func aSpawnBlockingChildIsAwaitedToo() async throws {
        let executor = try Executor(workers: 2, name: "g-scope-blocking")
        let release = Gate()
        let tally = Tally()
        let graph = TaskGraph("blocking")
        let node = graph.scopedTask("node") { scope in
            scope.spawnBlocking {   // on a Dispatch thread
                release.wait(timeout: .seconds(20))
                tally.add()
            }
            release.open()
            return 1
        }
        let next = graph.task("next", after: node) { $0 + tally.count }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        #expect(run[next] == 2)
        await executor.shutdown()
    }
}

/// A scope child's body: opens `started`, then sleeps 60 s; cancelled, it
/// opens `cancelled` and throws the cancellation on.
@Sendable func sleepUntilCancelled(started: Gate, cancelled: Gate) async throws {
    started.open()
    do { try await Task.sleep(for: .seconds(60)) } catch {
        cancelled.open()
        throw error
    }
}
