import FlowPipeline
import Testing

@Suite("FlowPipeline module")
struct PipelineSmokeTests {
    @Test func reExportsTheLowerLayers() throws {
        let executor = try Executor(workers: 1, name: "smoke")
        let graph = TaskGraph("smoke")
        _ = graph.task("one") { 1 }
        #expect(graph.nodeCount == 1)
        executor.shutdown()
    }
}
