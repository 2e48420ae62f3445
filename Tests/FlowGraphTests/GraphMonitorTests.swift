#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

/// Samples a monitor from its own thread until the run finished: checks
/// that the counts add up at every sample and that finished nodes never
/// go back.
private final class Sampler: Sendable {
    let samples = Atomic<Int>(0)
    let badSums = Atomic<Int>(0)
    let wentBack = Atomic<Int>(0)
    private let thread: Locked<TestThread?> = Locked(nil)

    init(_ monitor: GraphMonitor, snapshots: Bool = false) {
        let total = monitor.plan.nodeCount
        let t = TestThread.spawn { [self] in
            var lastFinished = 0
            while true {
                let done = monitor.isFinished
                let counts = snapshots ? monitor.snapshot().counts : monitor.counts()
                samples.wrappingAdd(1, ordering: .relaxed)
                if counts.total != total { badSums.wrappingAdd(1, ordering: .relaxed) }
                if counts.finished < lastFinished { wentBack.wrappingAdd(1, ordering: .relaxed) }
                lastFinished = counts.finished
                if done { break }
                sched_yield()   // leave the workers a core
            }
        }
        thread.withLock { $0 = t }
    }

    func join() { thread.withLock { $0 }?.join() }
}

@Suite("Graph monitor", .timeLimit(.minutes(1)))
struct GraphMonitorTests {
    @Test func countsAddUpAndMatchKnownPoints() async throws {
        let executor = try Executor(workers: 2, name: "g-mon")
        let graph = TaskGraph("monitored")
        let gates = (0..<3).map { _ in Gate() }
        let root = graph.task("root") { 1 }
        // Pinned (a worker that pushes one node on its own deque runs it
        // itself later, so unpinned siblings of a blocked node may wait):
        // hold0 and hold2 on worker 0, hold1 on worker 1.
        let holds = (0..<3).map { i in
            graph.task("hold\(i)", after: root, options: NodeOptions(affinity: i % 2)) { (v: Int) -> Int in
                #expect(gates[i].wait(timeout: .seconds(20)))
                return v + i
            }
        }
        let tail = graph.fanIn(holds, name: "tail") { $0.reduce(0, +) }
        let end = graph.task("end", after: tail) { $0 * 2 }
        let plan = try graph.freeze()
        let monitor = GraphMonitor(plan: plan)
        #expect(monitor.counts() == GraphMonitor.Counts(waiting: 6))
        #expect(monitor.snapshot().elapsed == .zero)
        let sampler = Sampler(monitor)
        let run = Task { try await plan.run(on: executor, monitor: monitor) }

        // Two workers, three gated nodes: two run, one is ready.
        #expect(await waitUntil { monitor.counts().running == 2 })
        #expect(monitor.counts() == GraphMonitor.Counts(waiting: 2, ready: 1, running: 2, succeeded: 1))
        let snapshot = monitor.snapshot()
        let running = snapshot.nodes.filter { $0.phase == .running }
        #expect(Set(running.compactMap(\.worker)) == [0, 1])
        #expect(running.map(\.name) == ["hold0", "hold1"] && running.map(\.worker) == [0, 1])
        #expect(running.allSatisfy { $0.running != nil && $0.queued != nil })
        let ready = try #require(snapshot.nodes.first { $0.phase == .ready })
        #expect(ready.name == "hold2" && ready.queued != nil && ready.running == nil)
        #expect(snapshot.nodes.first { $0.name == "tail" }?.phase == .waiting)
        #expect(snapshot.nodes.first { $0.name == "root" }?.running != nil)

        // One finishes: the ready one starts.
        gates[0].open()
        #expect(await waitUntil { monitor.counts().succeeded == 2 && monitor.counts().running == 2 })
        #expect(monitor.counts() == GraphMonitor.Counts(waiting: 2, running: 2, succeeded: 2))
        #expect(monitor.phase(of: ready.index) == .running)

        for gate in gates { gate.open() }
        let result = try await run.value
        sampler.join()
        #expect(result[end] == 2 * (3 + 0 + 1 + 2))
        #expect(monitor.isFinished)
        #expect(monitor.counts() == GraphMonitor.Counts(succeeded: 6))
        let final = monitor.snapshot()
        #expect(final.isFinished && final.elapsed > .zero)
        #expect(final.nodes.allSatisfy { $0.phase == .succeeded && $0.running != nil && $0.queued != nil && $0.worker == nil })
        #expect(monitor.phase(of: end) == .succeeded)
        #expect(sampler.samples.load(ordering: .relaxed) > 0)
        #expect(sampler.badSums.load(ordering: .relaxed) == 0)
        #expect(sampler.wentBack.load(ordering: .relaxed) == 0)
        await executor.shutdown()
    }

    @Test func failedSkippedAndCancelledNodesAreCounted() async throws {
        let executor = try Executor(workers: 2, name: "g-mon-fail")
        let graph = TaskGraph("failing")
        let root = graph.task("root") { 1 }
        let bad = graph.task("bad", after: root) { (_: Int) -> Int in throw GraphMonitorBoom() }
        let after = graph.task("after", after: bad) { $0 + 1 }
        let ok = graph.task("ok", after: root) { $0 + 2 }
        let plan = try graph.freeze()

        let continued = GraphMonitor(plan: plan)
        await #expect(throws: GraphError.self) {
            _ = try await plan.run(on: executor, errorPolicy: .continue, monitor: continued)
        }
        #expect(continued.counts() == GraphMonitor.Counts(succeeded: 2, failed: 1, skipped: 1))
        #expect(continued.phase(of: bad) == .failed)
        #expect(continued.phase(of: after) == .skipped)
        #expect(continued.phase(of: ok) == .succeeded)
        let nodes = continued.snapshot().nodes
        #expect(nodes[bad.index].running != nil)      // it ran
        #expect(nodes[after.index].running == nil)    // it did not

        // The caller cancels while an async node waits: it is cancelled,
        // and the nodes after it are skipped.
        let asyncGraph = TaskGraph("cancelled")
        let entered = Gate()
        let wait = asyncGraph.task("wait") { () async throws -> Int in
            entered.open()
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        _ = asyncGraph.task("next", after: wait) { $0 + 1 }
        let asyncPlan = try asyncGraph.freeze()
        let cancelled = GraphMonitor(plan: asyncPlan)
        let run = Task { try await asyncPlan.run(on: executor, monitor: cancelled) }
        #expect(await entered.waitAsync(timeout: .seconds(20)))
        #expect(cancelled.phase(of: wait) == .running)
        #expect(cancelled.snapshot().nodes[wait.index].worker == nil)   // async: no fixed worker
        run.cancel()
        await #expect(throws: CancellationError.self) { _ = try await run.value }
        #expect(cancelled.counts() == GraphMonitor.Counts(skipped: 1, cancelled: 1))
        await executor.shutdown()
    }

    /// The example of docs/Graphs.md, "Watching a run", verbatim.
    @Test func docsExample() async throws {
        let executor = try Executor(workers: 2, name: "docs-mon")
        let graph = TaskGraph("watched")
        let parts = graph.parallel(18, name: "part") { $0 * 2 }
        _ = graph.fanIn(parts, name: "sum") { $0.reduce(0, +) }
        _ = graph.task("alone") { 1 }

        let plan = try graph.freeze()
        let monitor = GraphMonitor(plan: plan)                 // one per run
        let running = Task { try await plan.run(on: executor, monitor: monitor) }
        print(monitor.counts())        // e.g. 3 waiting, 1 ready, 2 running, 14 succeeded, 0 failed, 0 skipped, 0 cancelled
        _ = try await running.value
        print(monitor.counts())        // 0 waiting, 0 ready, 0 running, 20 succeeded, 0 failed, 0 skipped, 0 cancelled

        #expect(monitor.counts().description
                == "0 waiting, 0 ready, 0 running, 20 succeeded, 0 failed, 0 skipped, 0 cancelled")
        await executor.shutdown()
    }

    @Test func countsAddUpUnderLoad() throws {
        let executor = try Executor(workers: 2, name: "g-mon-load")
        let graph = TaskGraph("layers")
        let width = StressScale.scaled(200, minimum: 20), depth = 10
        var layer = graph.parallel(width, name: "l0") { $0 }
        for d in 1..<depth {
            var next: [Node<Int>] = []
            for i in 0..<width {
                let a: Node<Int> = layer[i], b: Node<Int> = layer[(i + 1) % width]
                next.append(graph.task("l\(d)[\(i)]", after: a, b) { (x: Int, y: Int) -> Int in (x &+ y) % 1_000 })
            }
            layer = next
        }
        let plan = try graph.freeze()
        for round in 0..<3 {
            let monitor = GraphMonitor(plan: plan)
            let sampler = Sampler(monitor, snapshots: round == 1)
            _ = try plan.runBlocking(on: executor, monitor: monitor)
            sampler.join()
            #expect(monitor.counts() == GraphMonitor.Counts(succeeded: width * depth))
            #expect(sampler.badSums.load(ordering: .relaxed) == 0)
            #expect(sampler.wentBack.load(ordering: .relaxed) == 0)
        }
        executor.shutdown()
    }
}

private struct GraphMonitorBoom: Error {}
