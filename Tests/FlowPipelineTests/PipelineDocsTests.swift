import FlowPipeline
import FlowTestSupport
import Testing

/// The examples of README.md (FlowPipeline) and docs/Pipeline.md, compiled
/// and checked. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Pipeline docs", .serialized, .timeLimit(.minutes(1)))
struct PipelineDocsTests {
    @Test func readmeExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let pipeline = try Pipeline(PipelineConfig()
                .name("logs").computeThreads(4).ioThreads(2)
                .taskTimeout(.seconds(30)).globalTimeout(.seconds(600))
                .timings(true).trace("/tmp/logs.trace.json"))        // open the trace in Perfetto
            let graph = TaskGraph("logs")
            let sizes = graph.parallel(4, name: "read") { i in i * 10 }
            let total = graph.reduce(sizes, splitEvery: 2, name: "total") { $0.reduce(0, +) }
            let run = try await pipeline.run(graph)                  // or pipeline.execute(graph) from main()
            print(run[total]!, pipeline.report()!)                   // 60, timings, critical path, slowest tasks
            pipeline.shutdown()

            let runtime = try Runtime(threads: 4, ioThreads: 2, name: "jobs")
            let handle = runtime.submit(name: "answer") { 6 * 7 }   // TaskHandle<Int>
            try await runtime.waitAll(throwOnError: true)            // names every failed task
            print(try handle.get(), runtime.progress())

            runtime.shutdown()
            #expect(run[total] == 60)
            let lines = output.lines
            #expect(lines.first?.hasPrefix("60 pipeline 'logs' graph 'logs': 7/7 tasks succeeded in ") == true)
            #expect(lines.contains { $0.hasPrefix("  critical path: read[") && $0.contains("-> total") })
            #expect(lines.contains { $0.hasPrefix("  slow: ") })
            #expect(lines.last == "42 1/1 done (0 failed), 0 running, 0 queued")
            #expect(try handle.get() == 42)
        }
    }

    @Test func firstExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let config = PipelineConfig()
                .name("logs")
                .computeThreads(4)
                .ioThreads(2)
                .taskTimeout(.seconds(30))       // a node running longer fails the run, named
                .globalTimeout(.seconds(600))     // the whole run is cancelled past this
                .errorPolicy(.failFast)
                .timings(true)                   // per-task timings for the report
            let pipeline = try Pipeline(config)

            let graph = TaskGraph("logs")
            let files = ["a.log", "b.log", "c.log", "d.log"]
            let sizes = graph.parallel(files.count, name: "read") { i in files[i].count * 10 }
            let total = graph.reduce(sizes, splitEvery: 2, name: "total") { $0.reduce(0, +) }
            let report = graph.task("report", after: total) { "total \($0)" }

            let run = try await pipeline.run(graph)        // from async code
            print(run[report]!)                            // total 200
            let again = try pipeline.execute(graph)        // from main(): blocks the thread
            print(pipeline.report()!)
            // pipeline 'logs' graph 'logs': 8/8 tasks succeeded in 0.000131 seconds, 61068 tasks/s
            //   critical path: read[0] -> total.0[0] -> total -> report (0.0000062 seconds)
            //   slow: report 0.0000041 seconds
            //   ...
            pipeline.shutdown()

            #expect(run[report] == "total 200")
            #expect(again[report] == "total 200")
            let summary = try #require(pipeline.report())
            #expect(summary.tasks.count == 8 && summary.succeeded == 8)
            let lines = output.lines
            #expect(lines.first == "total 200")
            #expect(lines.dropFirst().first?.hasPrefix("pipeline 'logs' graph 'logs': 8/8 tasks succeeded in ") == true)
            #expect(lines.contains { $0.hasPrefix("  critical path: read[") && $0.contains(" -> total -> report (") })
            #expect(lines.filter { $0.hasPrefix("  slow: ") }.count == 5)
        }
    }

    @Test func memoryBudgetExample() throws {
        let memory = try MemoryBudget.detect()
        let capacity = memory.channelCapacity(elementSize: 4_096, channels: 3)
        let channel = try Channel<[UInt8]>(capacity: capacity)   // 4 KiB chunks

        #expect(capacity >= 1)
        #expect(capacity * 4_096 * 3 <= max(memory.bytes, 3 * 4_096))
        #expect(channel.stats.capacity == capacity)
        _ = channel.close()
    }
}
