import FlowGraph
import FlowTestSupport
import Testing

/// The examples of README.md (FlowGraph) and docs/Graphs.md, compiled and
/// checked. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Graphs.md examples", .timeLimit(.minutes(1)))
struct GraphDocsTests {
    @Test func readmeExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let executor = try Executor(workers: 4, name: "compute")
            let graph = TaskGraph("stats")                          // a builder: not Sendable
            let numbers = graph.task("load") { [3, 1, 2, 6] }
            let count = graph.task("count", after: numbers) { $0.count }
            let total = graph.task("sum", after: numbers) { $0.reduce(0, +) }
            let mean = graph.task("mean", after: total, count) { Double($0) / Double($1) }   // typed inputs
            let run = try await graph.run(on: executor)
            print(run[mean]!)                                       // 3.0
            print(graph.mermaid())                                  // or dot()

            await executor.shutdown()
            #expect(run[mean] == 3.0)
            #expect(output.lines.first == "3.0")
            #expect(output.lines.dropFirst().first == "flowchart TD")
            #expect(output.output.contains(#"["mean"]"#))
        }
    }

    @Test func quickStart() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let executor = try Executor(workers: 4, name: "compute")
            let graph = TaskGraph("stats")
            let numbers = graph.task("load") { [3, 1, 2, 6] }
            let count = graph.task("count", after: numbers) { $0.count }
            let total = graph.task("sum", after: numbers) { $0.reduce(0, +) }
            let mean = graph.task("mean", after: total, count) { Double($0) / Double($1) }
            let run = try await graph.run(on: executor)
            print(run[mean]!)   // 3.0

            await executor.shutdown()
            #expect(run[mean] == 3.0)
            #expect(output.lines == ["3.0"])
        }
    }

    @Test func families() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
            let executor = try Executor(workers: 4, name: "compute")

            let files = ["a.log", "b.log", "c.log", "d.log"]
            let graph = TaskGraph("logs")
            let config = graph.task("config") { 2 }
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
            print(run[report]!)            // total 600, shards [0, 2, 4]
            print(run.criticalPath.nodes)  // e.g. ["read[0]", "scale[0]", "total.0[0]", "total", "report", "cleanup"]

            await executor.shutdown()
            #expect(run[report] == "total 600, shards [0, 2, 4]")
            // The timed critical path depends on the durations; it always ends
            // with report (the last data node) and cleanup (ordered after it).
            let path = run.criticalPath.nodes
            #expect(output.lines == ["total 600, shards [0, 2, 4]", "\(path)"])
            #expect(path.suffix(2) == ["report", "cleanup"])
            #expect(path.first.map { $0.hasPrefix("read[") || $0 == "config" } == true)
            #expect(run.state(of: cleanup) == .succeeded)
            #expect(graph.mermaid().contains("-.->"))   // the order-only edge, dashed
        }
    }

    @Test func wavefront() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
            let executor = try Executor(workers: 2, name: "compute")

            let cost = [[1, 3, 1],
                        [1, 5, 1],
                        [4, 2, 1]]
            let graph = TaskGraph("cheapest-path")
            let cells = graph.wavefront(rows: 3, columns: 3, name: "cell") { row, column, above, left in
                cost[row][column] + ([above, left].compactMap { $0 }.min() ?? 0)
            }
            let run = try await graph.run(on: executor)
            print(run[cells.last!]!)                 // 7: right, right, down, down
            print(graph.name(of: cells[1, 2]))       // cell[1,2]

            await executor.shutdown()
            #expect(output.lines == ["7", "cell[1,2]"])
        }
    }

    @Test func running() async throws {
        try await withTimeLimit(.seconds(30)) {
            let executor = try Executor(workers: 4, name: "compute")
            let graph = TaskGraph("stats")
            let numbers = graph.task("load") { [3, 1, 2, 6] }
            let total = graph.task("sum", after: numbers) { $0.reduce(0, +) }

            let run = try await graph.run(on: executor)                     // validate, freeze, run
            let plan = try graph.freeze()                                    // immutable, Sendable
            async let a = plan.run(on: executor)                             // runs many times,
            async let b = plan.run(on: executor, errorPolicy: .continue)     // even at once
            let (first, second) = try await (a, b)
            let blocking = try plan.runBlocking(on: executor)                // blocks: for plain threads

            await executor.shutdown()
            #expect([run[total], first[total], second[total], blocking[total]] == [12, 12, 12, 12])
        }
    }

    @Test func errorsAndPolicies() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
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
                print(error)                       // graph 'etl': node 'extract-b' failed: Corrupt()
                print(error.run[loadA]!)           // 3: independent of the failure, it ran
                print(error.run.state(of: loadB))  // skipped
            }

            await executor.shutdown()
            #expect(output.lines == ["graph 'etl': node 'extract-b' failed: Corrupt()", "3", "skipped"])
        }
    }
}
