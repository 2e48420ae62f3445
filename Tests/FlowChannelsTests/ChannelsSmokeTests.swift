import FlowChannels
import Testing

@Suite("FlowChannels module")
struct ChannelsSmokeTests {
    @Test func reExportsTheLowerLayers() throws {
        // FlowChannels re-exports FlowExecutor and FlowWatchdog (and FlowAtomics).
        let executor = try Executor(workers: 1, name: "smoke")
        executor.shutdown()
        #expect(executor.isShutDown)
    }
}
