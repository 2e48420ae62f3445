import Benchmark
import FlowChannels

let benchmarks: @Sendable () -> Void = {
}
