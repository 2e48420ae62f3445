import FlowPipeline
import Testing

@Suite("PipelineConfig")
struct PipelineConfigTests {
    @Test func everyFieldRoundTrips() throws {
        let config = PipelineConfig()
            .name("etl").computeThreads(3).ioThreads(0).watchdog(false)
            .globalTimeout(.seconds(60)).taskTimeout(.seconds(5))
            .idleTimeout(.seconds(7)).deadlockTimeout(.seconds(9))
            .errorPolicy(.continue).timings(true)
        #expect(config.name == "etl")
        #expect(config.computeThreads == 3)
        #expect(config.ioThreads == 0)
        #expect(config.watchdog == false)
        #expect(config.globalTimeout == .seconds(60))
        #expect(config.taskTimeout == .seconds(5))
        #expect(config.idleTimeout == .seconds(7))
        #expect(config.deadlockTimeout == .seconds(9))
        #expect(config.errorPolicy == .continue)
        #expect(config.timings == true)
        try config.validate()
        #expect(config.globalTimeout(nil).globalTimeout == nil)
        #expect(config.taskTimeout(nil).taskTimeout == nil)
    }

    @Test func defaults() {
        let config = PipelineConfig()
        #expect(config.name == "pipeline")
        #expect(config.computeThreads == Executor.availableCPUs())
        #expect(config.watchdog)
        #expect(config.globalTimeout == nil && config.taskTimeout == nil)
        #expect(config.idleTimeout == .seconds(300))
        #expect(config.deadlockTimeout == .seconds(600))
        #expect(config.errorPolicy == .failFast)
        #expect(!config.timings)
    }

    @Test func copiesAreIndependent() {
        let base = PipelineConfig().name("base")
        let other = base.name("other")
        #expect(base.name == "base" && other.name == "other")
    }

    @Test(arguments: [
        (PipelineConfig().name(""), "name"),
        (PipelineConfig().computeThreads(0), "computeThreads"),
        (PipelineConfig().computeThreads(2000), "computeThreads"),
        (PipelineConfig().ioThreads(-1), "ioThreads"),
        (PipelineConfig().globalTimeout(.zero), "globalTimeout"),
        (PipelineConfig().taskTimeout(.seconds(-1)), "taskTimeout"),
        (PipelineConfig().idleTimeout(.zero).deadlockTimeout(.zero), "idleTimeout"),
        (PipelineConfig().idleTimeout(.seconds(10)).deadlockTimeout(.seconds(5)), "deadlockTimeout"),
    ])
    func invalidValuesNameTheField(config: PipelineConfig, field: String) {
        #expect {
            _ = try Pipeline(config)
        } throws: { error in
            guard case .invalidArgument(let parameter, let value, _) = error as? FlowError else { return false }
            return parameter == field && !value.isEmpty
        }
    }

    @Test func errorMessageShowsTheValue() {
        #expect(throws: FlowError.invalid("computeThreads", 0, "must be in 1...1024")) {
            try PipelineConfig().computeThreads(0).validate()
        }
    }
}
