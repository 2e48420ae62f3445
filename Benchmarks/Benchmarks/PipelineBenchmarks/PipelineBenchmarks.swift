import Benchmark
import FlowPipeline

// What running a graph through `Pipeline` costs over running it directly.
//   "pipeline-overhead-vs-direct:flow"      Pipeline.run(plan): the pipeline's
//                                           executor with its observer (counting
//                                           work for stall detection), the
//                                           watchdog, the run's bookkeeping
//                                           task; progress and timings off
//   "pipeline-overhead-vs-direct:baseline"  plan.run(on:) on a plain Executor
// Same work per iteration on both sides: one run of a frozen fan-out/fan-in
// graph, 1 → 10^4 → 1, with trivial bodies. The ratio should be ≥ 0.91.
let fanWidth = 10_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 2,
        maxDuration: .seconds(3),
        maxIterations: 100)

    let workers = Executor.availableCPUs()

    Benchmark("pipeline-overhead-vs-direct:flow") { benchmark in
        let pipeline = try Pipeline(PipelineConfig().name("bench").computeThreads(workers).ioThreads(0))
        let (plan, sum) = try fanPlan()
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations {
            let run = try await pipeline.run(plan)
            blackHole(run[sum])
        }
        benchmark.stopMeasurement()
        pipeline.shutdown()
    }

    Benchmark("pipeline-overhead-vs-direct:baseline") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        let (plan, sum) = try fanPlan()
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations {
            let run = try await plan.run(on: executor)
            blackHole(run[sum])
        }
        benchmark.stopMeasurement()
        await executor.shutdown()
    }

    registerStageBenchmarks()
}

/// root → `fanWidth` nodes → sum, frozen once.
func fanPlan() throws -> (GraphPlan, Node<Int>) {
    let graph = TaskGraph("fan")
    let root = graph.task("root") { 1 }
    let leaves = graph.fanOut(from: root, count: fanWidth, name: "leaf") { x, i in x &+ i }
    let sum = graph.fanIn(leaves, name: "sum") { $0.reduce(0, &+) }
    return (try graph.freeze(), sum)
}
