import FlowGraph
import Testing

@Suite("FlowGraph module")
struct GraphSmokeTests {
    @Test func reExportsTheLowerLayers() throws {
        let executor = try Executor(workers: 1, name: "smoke")
        executor.shutdown()
        #expect(executor.isShutDown)
    }
}
