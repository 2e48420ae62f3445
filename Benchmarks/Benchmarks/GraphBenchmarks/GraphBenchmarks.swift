import Benchmark
import FlowGraph

let benchmarks: @Sendable () -> Void = {
}
