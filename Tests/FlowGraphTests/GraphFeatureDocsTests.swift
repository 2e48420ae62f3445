import FlowGraph
import FlowTestSupport
import Testing

/// The examples of docs/Graphs.md's "Scoped nodes" and "Token nodes"
/// sections, verbatim (`Scripts/check-doc-examples`), with their output checked.
@Suite("Graphs.md examples: scoped and token nodes", .timeLimit(.minutes(1)))
struct GraphFeatureDocsTests {
    @Test func scopedNodes() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
            let executor = try Executor(workers: 2, name: "docs")

            let graph = TaskGraph("crawl")
            let urls = graph.task("urls") { ["a.html", "bb.html", "ccc.html"] }
            let sizes = Locked<[String: Int]>([:])
            let crawl = graph.scopedTask("crawl", after: urls) { scope, urls in
                for url in urls {
                    scope.spawn { sizes.withLock { $0[url] = url.count } }    // sub-work on the executor
                }
                return urls.count
            }
            let report = graph.task("report", after: crawl) { n in "\(n) urls, \(sizes.withLock { $0.count }) sizes" }
            let run = try await graph.run(on: executor)
            print(run[report]!)   // 3 urls, 3 sizes: every child ended before "report" ran

            let total = graph.scopedTask("total", after: urls) { scope, urls in
                let lengths = urls.map { url in scope.spawn { url.count } }
                var sum = 0
                for length in lengths { sum += try await length.value }
                return sum
            }

            let again = try await graph.run(on: executor)
            await executor.shutdown()
            #expect(output.lines == ["3 urls, 3 sizes"])
            #expect(sizes.withLock { $0 } == ["a.html": 6, "bb.html": 7, "ccc.html": 8])
            #expect(again[total] == 21)
            #expect(again[report] == "3 urls, 3 sizes")
        }
    }

    @Test func tokenNodes() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
            let executor = try Executor(workers: 2, name: "docs")

            let graph = TaskGraph("thumbnails")
            let images = graph.task("list") { (0..<64).map { "image\($0).png" } }
            let thumbnails = graph.task("resize", runs: 64, after: images, options: .init(maxConcurrency: 4)) { token, images in
                "thumb-" + images[token]              // at most 4 tokens at once
            }
            let saved = graph.task("save", after: thumbnails) { $0.count }
            let run = try await graph.run(on: executor, recordsTimings: true)
            print(run[saved]!)                        // 64
            print(run.state(of: thumbnails))          // succeeded
            print(graph.mermaid().contains("resize ×64"))   // true: renderings show the runs

            await executor.shutdown()
            #expect(output.lines == ["64", "succeeded", "true"])
            #expect(run.duration(of: thumbnails) != nil)
        }
    }
}
