import FlowGraph
import FlowTestSupport
import Testing

@Suite("Graph values and re-runs", .timeLimit(.minutes(1)))
struct GraphValueTests {
    @Test func intermediateValuesAreReleasedDuringTheRun() async throws {
        let executor = try Executor(workers: 2, name: "g-release")
        let counter = DeinitCounter()
        let maxLive = Locked(0)
        let graph = TaskGraph("release")
        var last = graph.task { Tracked(0, counter: counter) }
        for i in 1..<200 {
            last = graph.task(after: last) { (input: Tracked) in
                let live = counter.liveCount   // this input only: earlier values are gone
                maxLive.withLock { $0 = max($0, live) }
                return Tracked(input.value + i, counter: counter)
            }
        }
        var run: GraphRun? = try await graph.run(on: executor)
        #expect(maxLive.withLock { $0 } == 1)
        #expect(counter.liveCount == 1)                  // the terminal value, kept
        #expect(run?[last]?.value == (0..<200).reduce(0, +))
        #expect(counter.deinitCount == 199)
        run = nil
        // The worker that finished the run may still hold the job closure
        // that referenced it for a moment after the caller resumed.
        #expect(await waitUntil { counter.liveCount == 0 })
        await executor.shutdown()
    }

    @Test func sharedValueIsReleasedAfterItsLastReader() async throws {
        let executor = try Executor(workers: 2, name: "g-shared")
        let counter = DeinitCounter()
        let graph = TaskGraph("shared")
        let source = graph.task("source") { Tracked(7, counter: counter) }
        let readers = graph.fanOut(from: source, count: 5) { t, i in t.value * 10 + i }
        let pair = graph.task("pair", after: source, source) { (a: Tracked, b: Tracked) in a.value + b.value }
        let run = try await graph.run(on: executor)
        #expect(readers.map { run[$0] } == [70, 71, 72, 73, 74])
        #expect(run[pair] == 14)
        #expect(run[source] == nil)
        #expect(counter.liveCount == 0)
        await executor.shutdown()
    }

    @Test func valuesOfSkippedReadersAreReleasedToo() async throws {
        let executor = try Executor(workers: 2, name: "g-skip")
        let counter = DeinitCounter()
        let graph = TaskGraph("skip")
        let value = graph.task("value") { Tracked(1, counter: counter) }
        let shared = graph.task("shared") { Tracked(2, counter: counter) }
        let bad = graph.task("bad") { () throws -> Int in throw TestFailure(tag: "x") }
        _ = graph.task("reader", after: value, bad) { (t: Tracked, _: Int) in t.value }
        _ = graph.task("r1", after: shared, bad) { (t: Tracked, _: Int) in t.value }
        _ = graph.task("r2", after: shared) { (t: Tracked) in t.value }
        let kept = graph.task("kept") { Tracked(3, counter: counter) }
        do {
            _ = try await graph.run(on: executor, errorPolicy: .continue)
            Issue.record("expected a GraphError")
        } catch let error as GraphError {
            #expect(counter.liveCount == 1)   // only the terminal `kept`
            #expect(error.run[kept]?.value == 3)
        }
        // As above: the last job's closure may be released a moment later.
        #expect(await waitUntil { counter.liveCount == 0 })
        await executor.shutdown()
    }

    @Test func rerunningGivesTheSameResults() async throws {
        let executor = try Executor(workers: 3, name: "g-rerun")
        let graph = TaskGraph("rerun")
        let leaves = graph.parallel(500, name: "leaf") { $0 &* $0 }
        let total = graph.reduce(leaves, splitEvery: 3, name: "total") { $0.reduce(0, &+) }
        let expected: Int = (0..<500).reduce(0) { $0 &+ $1 &* $1 }
        for _ in 0..<5 {
            let value = try await graph.run(on: executor)[total]
            #expect(value == expected)
        }
        // One frozen plan, run from several tasks at once.
        let plan = try graph.freeze()
        try await withThrowingTaskGroup(of: Int?.self) { group in
            for _ in 0..<4 { group.addTask { try await plan.run(on: executor)[total] } }
            for try await value in group { #expect(value == Optional(expected)) }
        }
        // A changed graph gets a new plan.
        let extra = graph.task("extra", after: total) { $0 + 1 }
        let extraValue = try await graph.run(on: executor)[extra]
        #expect(extraValue == expected + 1)
        await executor.shutdown()
    }

    /// The builder stays usable on the caller's actor across `run`.
    @Test @MainActor func runFromTheMainActorAndKeepBuilding() async throws {
        let executor = try Executor(workers: 2, name: "g-main")
        let graph = TaskGraph("main")
        let a = graph.task("a") { 1 }
        let first = try await graph.run(on: executor)
        #expect(first[a] == 1)
        let b = graph.task("b", after: a) { $0 + 1 }
        let second = try await graph.run(on: executor)
        #expect(second[b] == 2)
        #expect(second[a] == nil)
        await executor.shutdown()
    }
}
