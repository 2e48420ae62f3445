import AsyncAlgorithms
import Benchmark
import BenchmarkSupport
import FlowChannels

// Pairs "<ratio-name>:flow" / "<ratio-name>:baseline"; see Scripts/ratios.py.
// Both sides of a pair move the same number of items per iteration.
// Work is written in nonisolated functions (Workloads.swift, Baselines.swift):
// code in the benchmark closures themselves would otherwise run on the
// main actor for async variants.
let items = 100_000          // Ints per iteration
let spawns = 100_000         // scope children per iteration

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 2,
        maxDuration: .seconds(3),
        maxIterations: 30)

    // 1. SPSC: one producer task, one consumer, capacity 1024.
    Benchmark("channels-spsc-vs-asyncstream:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-asyncstream:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncStreamSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-asyncchannel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-asyncchannel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncChannelSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-mpsc-channel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-mpsc-channel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await mpscChannelSPSC(items)) }
    }
    // The condvar baseline moves items between two plain threads; the Flow
    // side does the same with the blocking endpoints.
    Benchmark("channels-spsc-vs-condvar-queue:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(flowBlockingSPSC(items)) }
    }
    Benchmark("channels-spsc-vs-condvar-queue:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(condvarSPSC(items)) }
    }

    // 2. MPMC: 4 producer tasks, 4 consumer tasks, 10^5 items in all.
    Benchmark("channels-mpmc-4x4-vs-asyncchannel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowMPMC(items, producers: 4, consumers: 4)) }
    }
    Benchmark("channels-mpmc-4x4-vs-asyncchannel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncChannelMPMC(items, producers: 4, consumers: 4)) }
    }

    // 3. A 3-stage pipeline: source -> map (x * 2) -> filter (x % 3 == 0) -> sum.
    Benchmark("channels-pipeline-3stage-vs-asyncstream:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowPipeline(items)) }
    }
    Benchmark("channels-pipeline-3stage-vs-asyncstream:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncStreamPipeline(items)) }
    }
    Benchmark("channels-pipeline-3stage-vs-asyncchannel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowPipeline(items)) }
    }
    Benchmark("channels-pipeline-3stage-vs-asyncchannel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncChannelPipeline(items)) }
    }

    // 4. Spawn and join 10^5 children: a scope on Flow's executor vs a task group.
    Benchmark("channels-scope-spawn-vs-taskgroup:flow") { benchmark in
        let executor = try Executor(workers: Executor.availableCPUs(), name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { blackHole(try await scopeSpawn(spawns, on: executor)) }
        benchmark.stopMeasurement()
        await executor.shutdown()
    }
    Benchmark("channels-scope-spawn-vs-taskgroup:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await taskGroupSpawn(spawns)) }
    }

    // 5. Memory: 10^7 items through a capacity-1024 channel to a slow
    //    consumer. Peak resident memory stays flat (bounded by capacity).
    Benchmark(
        "channels-memory-10m-slow-consumer",
        configuration: .init(
            metrics: [.wallClock, .peakMemoryResident],
            timeUnits: .milliseconds, warmupIterations: 0, maxDuration: .seconds(30), maxIterations: 2)
    ) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await flowSlowConsumer(10_000_000, capacity: 1024)) }
    }
}
