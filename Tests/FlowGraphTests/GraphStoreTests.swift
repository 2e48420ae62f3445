import FlowGraph
import FlowTestSupport
import Testing

// Bodies live in typed stores handed to plans without a copy
// (BodyStores.swift), and names are stored sparsely (NodeNames): a plan
// must never see the builder's later additions, and every node keeps its name.
@Suite("Graph body stores and names", .timeLimit(.minutes(1)))
struct GraphStoreTests {
    @Test func aPlanKeepsItsBodiesWhileTheGraphGrowsAndBothRunConcurrently() async throws {
        let executor = try Executor(workers: 2, name: "g-stores")
        let graph = TaskGraph("grow")
        let zero = graph.task("zero") { 1 }                               // Bodies0<Int>
        var chain = zero
        for i in 0..<40 { chain = graph.task(after: chain) { $0 + i } }   // Bodies1<Int, Int>
        let pair = graph.task("pair", after: zero, chain) { $0 * 1000 + $1 }  // Bodies2
        let text = graph.task(after: zero, chain, pair) { (a: Int, b: Int, c: Int) in "\(a)-\(b)-\(c)" }  // erased (pack)
        let squares = graph.parallel(8, name: "sq") { $0 * $0 }
        let fanned = graph.fanOut(from: pair, count: 5, name: "fan") { $0 + $1 }
        let mapped = graph.map(squares, name: "m") { $0 + 1 }
        let oldPlan = try graph.freeze()
        let chainValue = 1 + (0..<40).reduce(0, +)

        // Grow every store well past the capacity it had when frozen.
        var more = graph.task(after: chain) { $0 * 2 }
        for i in 0..<100 { more = graph.task(after: more) { $0 - i } }
        let morePairs = (0..<50).map { i in graph.task(after: zero, more) { $0 + $1 + i } }
        let extra = graph.task("extra") { -1 }
        let newPlan = try graph.freeze()
        #expect(oldPlan.nodeCount == 1 + 40 + 1 + 1 + 8 + 5 + 8)
        #expect(newPlan.nodeCount == oldPlan.nodeCount + 101 + 50 + 1)

        for _ in 0..<20 {
            async let old = oldPlan.run(on: executor)
            async let new = newPlan.run(on: executor)
            let (o, n) = try await (old, new)
            #expect(o[text] == "1-\(chainValue)-\(1000 + chainValue)")
            #expect(o[fanned[4]] == 1000 + chainValue + 4)
            #expect(mapped.map { o[$0] } == (0..<8).map { $0 * $0 + 1 })
            let moreValue = chainValue * 2 - (0..<100).reduce(0, +)
            #expect(n[more] == nil)                                    // read by morePairs: not terminal
            #expect(morePairs.enumerated().allSatisfy { n[$1] == 1 + moreValue + $0 })
            #expect(n[extra] == -1 && n[text] == o[text])
        }
        await executor.shutdown()
    }

    @Test func namesOfNamedUnnamedAndFamilyNodes() throws {
        let graph = TaskGraph("names")
        let a = graph.task("a") { 1 }
        let unnamed = graph.task(after: a) { $0 }
        let shards = graph.parallel(3, name: "shard") { $0 }
        let between = graph.task("between") { 0 }
        let more = graph.fanOut(from: between, count: 2, name: "more") { $0 + $1 }
        let anonymousFamily = graph.parallel(2) { $0 }
        let total = graph.reduce(shards + more, splitEvery: 2, name: "sum") { $0.reduce(0, +) }
        #expect(graph.name(of: a) == "a")
        #expect(graph.name(of: unnamed) == "#\(unnamed.index)")
        #expect(shards.map { graph.name(of: $0) } == ["shard[0]", "shard[1]", "shard[2]"])
        #expect(graph.name(of: between) == "between")
        #expect(more.map { graph.name(of: $0) } == ["more[0]", "more[1]"])
        #expect(anonymousFamily.map { graph.name(of: $0) } == anonymousFamily.map { "#\($0.index)" })
        #expect(graph.name(of: total) == "sum")
        let dot = graph.dot()
        for label in ["\"a\"", "\"shard[2]\"", "\"more[1]\"", "\"sum.0[0]\"", "\"sum.0[2]\"", "\"sum.1[0]\"", "\"sum\""] {
            #expect(dot.contains("[label=\(label)]"), "\(label) in \(dot)")
        }
        // A name used twice is still found among sparse names.
        graph.task("a") { 2 }
        #expect(throws: FlowError.self) { try graph.validate() }
    }
}

// Fan-in arrivals are applied per job, not per node (GraphExecution,
// "Deferred arrivals"): a failure among thousands of fan-in inputs must
// still poison the sink, and sinks downstream of held arrivals must run.
@Suite("Graph deferred fan-in arrivals", .serialized, .timeLimit(.minutes(1)))
struct GraphDeferredArrivalTests {
    @Test func aFailureAmongManyFanInInputsSkipsTheSinkUnderContinue() async throws {
        let executor = try Executor(workers: 2, name: "g-deferred")
        for failing in [0, 1, 777, 4_999] {
            let graph = TaskGraph("deferred")
            let source = graph.task { 1 }
            let wide = graph.fanOut(from: source, count: 5_000) { (x: Int, i: Int) throws -> Int in
                if i == failing { throw TestFailure(tag: "n\(i)") }
                return x + i
            }
            let sink = graph.fanIn(wide) { $0.count }
            let sideSums = graph.reduce(Array(wide[0..<1000]), splitEvery: 7) { $0.reduce(0, +) }
            let independent = graph.fanIn(graph.parallel(3_000) { $0 }) { $0.reduce(0, +) }
            do {
                _ = try await graph.run(on: executor, errorPolicy: .continue)
                Issue.record("expected a GraphError")
            } catch let error as GraphError {
                #expect(error.failures.count == 1)
                #expect(error.run.state(of: sink) == .skipped)
                #expect(error.run.state(of: sideSums) == (failing < 1000 ? .skipped : .succeeded))
                #expect(error.run[independent] == (0..<3_000).reduce(0, +))
                #expect(error.run.state(of: wide[(failing + 1) % 5_000]) == .succeeded)
            }
        }
        await executor.shutdown()
    }

    @Test func fanInsOfEverySizeCompleteWithTheirValues() async throws {
        let executor = try Executor(workers: 2, name: "g-fanin")
        for width in [1, 2, 31, 32, 33, 64, 65, 1_000, 20_000] {
            let graph = TaskGraph("fanin")
            let source = graph.task { 2 }
            let wide = graph.fanOut(from: source, count: width) { $0 * $1 }
            let sum = graph.fanIn(wide) { $0.reduce(0, +) }
            let tree = graph.reduce(wide, splitEvery: 3) { $0.reduce(0, +) }
            let both = graph.task(after: sum, tree) { $0 == $1 ? $0 : -1 }
            let run = try await graph.run(on: executor)
            #expect(run[both] == 2 * (0..<width).reduce(0, +), "width \(width)")
        }
        await executor.shutdown()
    }
}
