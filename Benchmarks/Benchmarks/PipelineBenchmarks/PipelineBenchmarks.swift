import Benchmark
import FlowPipeline

let benchmarks: @Sendable () -> Void = {
}
