import FlowGraph
import FlowTestSupport
import Testing

/// The examples of docs/Graphs.md, kept compiling and correct.
@Suite("Graphs.md examples", .timeLimit(.minutes(1)))
struct GraphDocsTests {
    @Test func quickStart() async throws {
        let executor = try Executor(workers: 2, name: "docs")
        let graph = TaskGraph("stats")
        let numbers = graph.task("load") { [3, 1, 2, 6] }
        let count = graph.task("count", after: numbers) { $0.count }
        let total = graph.task("sum", after: numbers) { $0.reduce(0, +) }
        let mean = graph.task("mean", after: total, count) { Double($0) / Double($1) }
        let run = try await graph.run(on: executor)
        #expect(run[mean] == 3.0)
        await executor.shutdown()
    }

    @Test func families() async throws {
        let executor = try Executor(workers: 2, name: "docs")
        let files = ["a.log", "b.log", "c.log", "d.log"]
        let graph = TaskGraph("logs")
        let config = graph.task("config") { 2 }                                   // a multiplier
        let sizes = graph.parallel(files.count, name: "read") { i in files[i].count * 10 }
        let scaled = graph.map(sizes, name: "scale") { $0 * 3 }
        let total = graph.reduce(scaled, splitEvery: 2, name: "total") { $0.reduce(0, +) }
        let shards = graph.fanOut(from: config, count: 3, name: "shard") { factor, i in factor * i }
        let report = graph.task("report", after: total, graph.fanIn(shards, name: "gather") { $0 }) { total, shards in
            "total \(total), shards \(shards)"
        }
        let cleanup = graph.task("cleanup") {}
        graph.order(report, before: cleanup)
        let run = try await graph.run(on: executor, recordsTimings: true)
        #expect(run[report] == "total 600, shards [0, 2, 4]")
        #expect(run.criticalPath.nodes.last == "cleanup")
        #expect(graph.mermaid().contains("-.->"))
        await executor.shutdown()
    }

    @Test func errorsAndPolicies() async throws {
        let executor = try Executor(workers: 2, name: "docs")
        struct Corrupt: Error {}
        let graph = TaskGraph("etl")
        let good = graph.task("extract-a") { [1, 2, 3] }
        let bad = graph.task("extract-b") { () throws -> [Int] in throw Corrupt() }
        let loadA = graph.task("load-a", after: good) { $0.count }
        let loadB = graph.task("load-b", after: bad) { $0.count }
        do {
            _ = try await graph.run(on: executor, errorPolicy: .continue)
        } catch let error as GraphError {
            #expect(error.node == "extract-b")
            #expect(error.run[loadA] == 3)
            #expect(error.run.state(of: loadB) == .skipped)
        }
        await executor.shutdown()
    }
}
