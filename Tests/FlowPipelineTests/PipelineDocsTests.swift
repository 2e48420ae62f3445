import FlowPipeline
import FlowTestSupport
import Testing

/// The examples of docs/Pipeline.md and docs/Runtime.md, compiled and checked.
@Suite("Pipeline and Runtime docs", .serialized, .timeLimit(.minutes(1)))
struct PipelineDocsTests {
    @Test func pipelineFirstExample() async throws {
        let config = PipelineConfig()
            .name("logs")
            .computeThreads(4)
            .ioThreads(2)
            .taskTimeout(.seconds(30))
            .globalTimeout(.seconds(600))
            .errorPolicy(.failFast)
            .timings(true)
        let pipeline = try Pipeline(config)

        let graph = TaskGraph("logs")
        let files = ["a.log", "b.log", "c.log", "d.log"]
        let sizes = graph.parallel(files.count, name: "read") { i in files[i].count * 10 }
        let total = graph.reduce(sizes, splitEvery: 2, name: "total") { $0.reduce(0, +) }
        let report = graph.task("report", after: total) { "total \($0)" }

        let run = try await pipeline.run(graph)
        #expect(run[report] == "total 200")
        let again = try pipeline.execute(graph)
        #expect(again[report] == "total 200")
        let summary = try #require(pipeline.report())
        #expect(summary.tasks.count == 8 && summary.succeeded == 8)
        #expect(summary.description.hasPrefix("pipeline 'logs' graph 'logs': 8/8 tasks succeeded"))
        pipeline.shutdown()
    }

    struct DecodeError: Error { let file: String; init(_ file: String) { self.file = file } }

    @Test func runtimeFirstExample() async throws {
        let runtime = try Runtime(threads: 4, ioThreads: 2, name: "thumbs", defaultTaskTimeout: .seconds(30))
        let failures = Collector<String>()
        runtime.onError { failed in failures.append(failed.name) }

        let files = ["a.png", "b.png", "broken.png"]
        let sizes = files.map { file in
            runtime.submit(name: file) { () throws -> Int in
                guard !file.hasPrefix("broken") else { throw DecodeError(file) }
                return file.count * 1_000
            }
        }
        _ = runtime.submit(name: "upload", blocking: true) { () async throws in
            try await Task.sleep(for: .milliseconds(10))
        }
        do {
            try await runtime.waitAll(throwOnError: true)
            Issue.record("expected TaskFailures")
        } catch {
            #expect(error.description == #"1 task(s) failed: 'broken.png' (#3): DecodeError(file: "broken.png")"#)
        }
        #expect(try sizes[0].get() == 5_000)
        #expect(sizes[2].error != nil)
        #expect(runtime.failed.map(\.name) == ["broken.png"])
        #expect(failures.values == ["broken.png"])
        #expect(runtime.progress().description == "4/4 done (1 failed), 0 running, 0 queued")
        runtime.shutdown()
    }

    @Test func memoryBudgetExample() throws {
        let memory = try MemoryBudget.detect()
        let capacity = memory.channelCapacity(elementSize: 4_096, channels: 3)
        let channel = try Channel<[UInt8]>(capacity: capacity)
        #expect(capacity >= 1)
        _ = channel.close()
    }
}
