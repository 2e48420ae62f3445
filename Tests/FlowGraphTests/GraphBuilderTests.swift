import FlowGraph
import FlowTestSupport
import Testing

@Suite("TaskGraph builder", .timeLimit(.minutes(1)))
struct GraphBuilderTests {
    @Test func typedCombinersReceiveTheirInputs() async throws {
        let executor = try Executor(workers: 2, name: "g-typed")
        let graph = TaskGraph("typed")
        graph.reserveCapacity(nodes: 6, inputs: 6)
        let number = graph.task("number") { 20 }
        let text = graph.task("text") { "ab" }
        let flag = graph.task("flag") { true }
        let combined = graph.task("combine", after: number, text, flag) { (n: Int, s: String, f: Bool) in
            "\(s):\(n * 2):\(f)"
        }
        let twice = graph.task("twice", after: number, number) { $0 + $1 }
        let void = graph.task("void", after: combined) { (_: String) in }
        let run = try await graph.run(on: executor)
        #expect(run[combined] == nil)            // consumed by its reader
        #expect(run[twice] == 40)
        #expect(run[void] != nil)
        #expect(run.state(of: combined) == .succeeded)
        #expect(run.failures.isEmpty)
        await executor.shutdown()
    }

    @Test func emptyGraphIsRejected() {
        let graph = TaskGraph("empty")
        #expect(throws: FlowError.invalid("graph", "empty", "has no nodes: add one with task(_:after:body:) before running it")) {
            try graph.validate()
        }
    }

    @Test func cycleThroughOrderEdgesIsNamed() throws {
        let graph = TaskGraph("cyclic")
        let a = graph.task("a") { 1 }
        let b = graph.task("b", after: a) { $0 + 1 }
        let c = graph.task("c", after: b) { $0 + 1 }
        _ = graph.task("d") { 0 }
        graph.order(c, before: a)
        let result: Result<Void, FlowError> = Result { () throws(FlowError) in try graph.validate() }
        guard case .failure(let error) = result, case .cycle(let names) = error else {
            Issue.record("expected a cycle, got \(result)")
            return
        }
        #expect(Set(names) == ["a", "b", "c"])
        #expect(names.count == 3)
        // Rotate so it starts at "a", then check the order a -> b -> c.
        let start = names.firstIndex(of: "a")!
        #expect(Array(names[start...] + names[..<start]) == ["a", "b", "c"])
        #expect(error.description.contains("->"))
    }

    @Test func selfOrderIsACycle() {
        let graph = TaskGraph("self")
        let a = graph.task("a") { 1 }
        graph.order(a, before: a)
        #expect(throws: FlowError.cycle(["a"])) { try graph.validate() }
    }

    @Test func orderEdgesBackwardsWithoutCycleAreFine() async throws {
        let executor = try Executor(workers: 2, name: "g-order")
        let graph = TaskGraph("backwards")
        let log = Collector<String>()
        let a = graph.task("a") { log.append("a") }
        let b = graph.task("b") { log.append("b") }
        let c = graph.task("c") { log.append("c") }
        graph.order(c, before: b)
        graph.order(b, before: a)
        try graph.validate()
        _ = try await graph.run(on: executor)
        #expect(log.values == ["c", "b", "a"])
        await executor.shutdown()
    }

    @Test func duplicateNamesAreRejected() {
        let graph = TaskGraph("dups")
        _ = graph.task("x") { 1 }
        _ = graph.task("x") { 2 }
        #expect(throws: FlowError.self) { try graph.validate() }

        let families = TaskGraph("families")
        _ = families.parallel(3, name: "w") { $0 }
        _ = families.task("w[1]") { 0 }
        #expect(throws: FlowError.self) { try families.validate() }

        let unnamed = TaskGraph("unnamed")
        _ = unnamed.parallel(3) { $0 }
        _ = unnamed.task { 1 }
        _ = unnamed.task { 2 }
        #expect(throws: Never.self) { try unnamed.validate() }
    }

    @Test func badOptionsAreRejected() async throws {
        let graph = TaskGraph("options")
        _ = graph.task("slow", options: NodeOptions(timeout: .zero)) { 1 }
        #expect(throws: FlowError.invalid("timeout", Duration.zero, "of node 'slow' must be positive")) {
            try graph.validate()
        }
        let pinned = TaskGraph("pinned")
        _ = pinned.task("p", options: NodeOptions(affinity: -1)) { 1 }
        #expect(throws: FlowError.self) { try pinned.validate() }

        let far = TaskGraph("far")
        _ = far.task("p", options: NodeOptions(affinity: 7)) { 1 }
        try far.validate()
        let executor = try Executor(workers: 2, name: "g-far")
        await #expect(throws: FlowError.self) { _ = try await far.run(on: executor) }

        let reduce = TaskGraph("reduce")
        _ = reduce.reduce(reduce.parallel(4) { $0 }, splitEvery: 1) { $0.reduce(0, +) }
        #expect(throws: FlowError.invalid("splitEvery", 1, "of reduce 'unnamed' must be at least 2")) {
            try reduce.validate()
        }
        await executor.shutdown()
    }

    @Test func familiesComputeTheRightValues() async throws {
        let executor = try Executor(workers: 2, name: "g-family")
        let graph = TaskGraph("families")
        let source = graph.task("source") { 10 }
        let fanned = graph.fanOut(from: source, count: 5, name: "shard") { v, i in v * 100 + i }
        let mapped = graph.map(fanned, name: "double") { $0 * 2 }
        let gathered = graph.fanIn(mapped, name: "gather") { $0 }
        let squares = graph.parallel(6, name: "square") { $0 * $0 }
        let total = graph.fanIn(squares) { $0.reduce(0, +) }
        let run = try await graph.run(on: executor)
        #expect(run[gathered] == (0..<5).map { (1000 + $0) * 2 })
        #expect(run[total] == 0 + 1 + 4 + 9 + 16 + 25)
        #expect(graph.name(of: fanned[2]) == "shard[2]")
        await executor.shutdown()
    }

    @Test(arguments: [2, 3, 10])
    func reduceEqualsASequentialFold(splitEvery: Int) async throws {
        let executor = try Executor(workers: 2, name: "g-reduce")
        for count in [1, 2, 7, 100, 1001] {
            let graph = TaskGraph("reduce")
            let leaves = graph.parallel(count) { i in [i] }
            let all = graph.reduce(leaves, splitEvery: splitEvery, name: "concat") { Array($0.joined()) }
            let sum = graph.reduce(graph.parallel(count) { $0 &* 7 }, splitEvery: splitEvery, name: "sum") { $0.reduce(0, &+) }
            let run = try await graph.run(on: executor)
            #expect(run[all] == Array(0..<count), "count \(count)")
            #expect(run[sum] == (0..<count).reduce(0) { $0 &+ $1 &* 7 })
        }
        await executor.shutdown()
    }

    @Test func rendersDotAndMermaid() async throws {
        let graph = TaskGraph("render")
        let a = graph.task("load") { 1 }
        let b = graph.task("parse \"x\"", after: a) { $0 + 1 }
        let c = graph.task("log") {}
        graph.order(c, before: b)
        let dot = graph.dot()
        #expect(dot.hasPrefix("digraph \"render\" {"))
        #expect(dot.contains("n0 [label=\"load\"];"))
        #expect(dot.contains("n1 [label=\"parse \\\"x\\\"\"];"))
        #expect(dot.contains("n0 -> n1;"))
        #expect(dot.contains("n2 -> n1 [style=dashed];"))
        let mermaid = graph.mermaid()
        #expect(mermaid.hasPrefix("flowchart TD"))
        #expect(mermaid.contains("n0 --> n1"))
        #expect(mermaid.contains("n2 -.-> n1"))
        #expect(mermaid.contains("n1[\"parse #quot;x#quot;\"]"))

        let executor = try Executor(workers: 2, name: "g-render")
        let run = try await graph.run(on: executor, recordsTimings: true)
        #expect(run.dot().contains("load ("))
        #expect(run.mermaid().contains("log ("))
        await executor.shutdown()
    }

    @Test func criticalPathFollowsTheLongestChain() async throws {
        let executor = try Executor(workers: 2, name: "g-critical")
        let graph = TaskGraph("critical")
        let a = graph.task("a") { 1 }
        let b = graph.task("b", after: a) { $0 + 1 }
        let c = graph.task("c", after: b) { $0 + 1 }
        _ = graph.task("side", after: a) { $0 }
        _ = graph.task("end", after: c) { $0 }
        let run = try await graph.run(on: executor)
        #expect(run.criticalPath.nodes == ["a", "b", "c", "end"])
        #expect(run.criticalPath.duration == nil)
        let timed = try await graph.run(on: executor, recordsTimings: true)
        #expect(timed.criticalPath.duration != nil)
        #expect(timed.nodes.count == 5)
        #expect(timed.nodes.allSatisfy { $0.duration != nil && $0.state == .succeeded })
        #expect(timed.elapsed > .zero)
        await executor.shutdown()
    }
}
