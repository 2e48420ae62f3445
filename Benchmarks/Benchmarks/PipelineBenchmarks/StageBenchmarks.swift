import AsyncAlgorithms
import Benchmark
import FlowPipeline

// Streaming-stage pairs "<ratio-name>:flow" / "<ratio-name>:baseline" (see
// Scripts/ratios.py). Both sides move the same items through the same work
// per iteration. Workloads are nonisolated functions so that async variants
// do not run on the main actor.
let stageItems = 100_000

/// Registers the stage benchmarks; called from the `benchmarks` closure.
func registerStageBenchmarks() {
    Benchmark("stages-1worker-vs-asyncchannel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await flowStage(stageItems, workers: 1)) }
    }
    Benchmark("stages-1worker-vs-asyncchannel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncChannelStage(stageItems, workers: 1)) }
    }
    Benchmark("stages-2workers-vs-asyncchannel:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await flowStage(stageItems, workers: 2)) }
    }
    Benchmark("stages-2workers-vs-asyncchannel:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncChannelStage(stageItems, workers: 2)) }
    }
    Benchmark("stages-4stage-vs-asyncstream:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await flowFourStage(stageItems)) }
    }
    Benchmark("stages-4stage-vs-asyncstream:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(await asyncStreamFourStage(stageItems)) }
    }
    // Per-item overhead of the service-time histogram: on (flow) vs off (baseline).
    Benchmark("stages-servicetime-distribution-on-vs-off:flow") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await flowStage(stageItems, workers: 1, distribution: true)) }
    }
    Benchmark("stages-servicetime-distribution-on-vs-off:baseline") { benchmark in
        for _ in benchmark.scaledIterations { blackHole(try await flowStage(stageItems, workers: 1)) }
    }
}

/// n items through one stage (x * 2 + 1), summed by the consumer.
nonisolated func flowStage(_ n: Int, workers: Int, distribution: Bool = false) async throws -> Int {
    let options = StageOptions<Int>(
        capacity: 256, workers: workers, tracksServiceTimeDistribution: distribution, outputCapacity: 256)
    let stage = try Stage<Int, Int>(options: options) { x in x &* 2 &+ 1 }
    let producer = Task {
        for i in 0..<n { try await stage.submit(i) }
        stage.closeInput()
    }
    var sum = 0
    for await result in stage.results { if case let .success(x) = result { sum &+= x } }
    try await producer.value
    _ = await stage.wait()
    return sum
}

/// The hand-written equivalent: an input AsyncChannel, `workers` tasks
/// applying the same body, an output AsyncChannel of Results.
nonisolated func asyncChannelStage(_ n: Int, workers: Int) async -> Int {
    let input = AsyncChannel<Int>()
    let output = AsyncChannel<Result<Int, any Error>>()
    let producer = Task {
        for i in 0..<n { await input.send(i) }
        input.finish()
    }
    let pool = Task {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    for await x in input {
                        let r: Result<Int, any Error> = .success(x &* 2 &+ 1)
                        await output.send(r)
                    }
                }
            }
        }
        output.finish()
    }
    var sum = 0
    for await result in output { if case let .success(x) = result { sum &+= x } }
    await producer.value
    await pool.value
    return sum
}

/// Stage (x + 1) → batch(16) → pipe (sum of the batch) → pipe (* 2).
nonisolated func flowFourStage(_ n: Int) async throws -> Int {
    let head = try Stage<Int, Int>(options: StageOptions(capacity: 256, outputCapacity: 256)) { x in x &+ 1 }
    let batched = try batch(from: head.results, size: 16, outputCapacity: 16)
    let summed = try pipe(from: batched.results, options: StageOptions(capacity: 16, outputCapacity: 16)) { (b: [Int]) in
        b.reduce(0, &+)
    }
    let doubled = try pipe(from: summed.results, options: StageOptions(capacity: 16, outputCapacity: 16)) { (x: Int) in
        x &* 2
    }
    let producer = Task {
        for i in 0..<n { try await head.submit(i) }
        head.closeInput()
    }
    var total = 0
    for await result in doubled.results { if case let .success(x) = result { total &+= x } }
    try await producer.value
    _ = await doubled.wait()
    return total
}

/// The same four steps, each a task between AsyncStreams of Results.
nonisolated func asyncStreamFourStage(_ n: Int) async -> Int {
    let (s1, c1) = AsyncStream<Result<Int, any Error>>.makeStream()
    let (s2, c2) = AsyncStream<Result<[Int], any Error>>.makeStream()
    let (s3, c3) = AsyncStream<Result<Int, any Error>>.makeStream()
    let (s4, c4) = AsyncStream<Result<Int, any Error>>.makeStream()
    let tasks = [
        Task {
            for i in 0..<n { c1.yield(.success(i &+ 1)) }
            c1.finish()
        },
        Task {
            var batch: [Int] = []
            for await r in s1 {
                switch r {
                case let .success(x):
                    batch.append(x)
                    if batch.count == 16 { c2.yield(.success(batch)); batch = [] }
                case let .failure(e):
                    if !batch.isEmpty { c2.yield(.success(batch)); batch = [] }
                    c2.yield(.failure(e))
                }
            }
            if !batch.isEmpty { c2.yield(.success(batch)) }
            c2.finish()
        },
        Task {
            for await r in s2 { c3.yield(r.map { $0.reduce(0, &+) }) }
            c3.finish()
        },
        Task {
            for await r in s3 { c4.yield(r.map { $0 &* 2 }) }
            c4.finish()
        },
    ]
    var total = 0
    for await r in s4 { if case let .success(x) = r { total &+= x } }
    for t in tasks { await t.value }
    return total
}
