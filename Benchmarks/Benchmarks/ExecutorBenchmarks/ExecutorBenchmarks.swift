#if canImport(Glibc)
import Glibc
#endif
import Benchmark
import BenchmarkSupport
import Dispatch
import FlowExecutor
import Synchronization

// Pairs "<ratio-name>:flow" / "<ratio-name>:baseline"; see Scripts/ratios.py.
// Work is written in nonisolated functions: code in the benchmark closures
// themselves would otherwise run on the main actor for async variants.
let units = 100_000          // closures per iteration (10^6 per 10 iterations)
let tasks = 100_000          // Swift tasks per iteration

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 2,
        maxDuration: .seconds(3),
        maxIterations: 30)

    let workers = Executor.availableCPUs()

    // 1. Empty closures submitted from an outside thread.
    Benchmark("executor-external-vs-dispatchgroup:flow") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowExternal(executor, units) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    Benchmark("executor-external-vs-dispatchgroup:baseline") { benchmark in
        for _ in benchmark.scaledIterations { dispatchExternal(units) }
    }
    Benchmark("executor-external-vs-taskgroup:flow") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowExternal(executor, units) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    Benchmark("executor-external-vs-taskgroup:baseline") { benchmark in
        for _ in benchmark.scaledIterations { await discardingTaskGroup(units) }
    }

    // 2. Closures submitted from inside workers: a recursive fan-out.
    Benchmark("executor-internal-vs-discarding-taskgroup:flow") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowFanOut(executor, units) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    Benchmark("executor-internal-vs-discarding-taskgroup:baseline") { benchmark in
        for _ in benchmark.scaledIterations { await taskGroupFanOut(units) }
    }
    Benchmark("executor-internal-vs-dispatch:flow") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowFanOut(executor, units) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    // The same tree with function jobs (`submit(context:argument:_:)`): no
    // closure context to allocate per job.
    Benchmark("executor-internal-vs-dispatch:flow-function") { benchmark in
        let executor = try Executor(workers: workers, name: "bench")
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowFunctionFanOut(executor, units) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    Benchmark("executor-internal-vs-dispatch:baseline") { benchmark in
        for _ in benchmark.scaledIterations { dispatchFanOut(units) }
    }

    // 3. Swift tasks with Flow's executor preference vs the default executor.
    Benchmark("executor-swift-tasks-vs-default:flow", configuration: .init(metrics: [.wallClock])) { benchmark in
        // One pool for the process, like the default executor's: see
        // `taskPool`.
        let executor = taskPool
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations { await swiftTasks(tasks, on: executor) }
        benchmark.stopMeasurement()
    }
    Benchmark("executor-swift-tasks-vs-default:baseline", configuration: .init(metrics: [.wallClock])) { benchmark in
        for _ in benchmark.scaledIterations { await swiftTasks(tasks, on: nil) }
    }

    // 4. Wake-up latency: an outside thread hands one closure to a parked
    //    worker and waits for it, vs handing a flag to a thread parked on a
    //    pthread condition variable.
    Benchmark("executor-wake-latency-vs-condvar:flow", configuration: .init(timeUnits: .microseconds)) { benchmark in
        let executor = try Executor(.init(workers: workers, name: "bench", spinBudget: 0))
        benchmark.startMeasurement()  // the pool is set up outside the measurement
        for _ in benchmark.scaledIterations { flowPingPong(executor, rounds: 200) }
        benchmark.stopMeasurement()
        executor.shutdown()
    }
    Benchmark("executor-wake-latency-vs-condvar:baseline", configuration: .init(timeUnits: .microseconds)) { benchmark in
        let peer = CondvarPeer()
        for _ in benchmark.scaledIterations { peer.pingPong(rounds: 200) }
        peer.stop()
    }
}

/// The pool of the Swift-task benchmark, made once and kept for the life
/// of the process, as the default executor's pool is. package-benchmark
/// calls a benchmark's closure once per sample: a pool made in the closure
/// would start cold threads every sample, and their first 14 MB of task
/// objects (new pages in fresh malloc arenas) cost some 3000 page faults,
/// which the baseline's long-lived pool does not pay.
let taskPool: Executor = try! Executor(workers: Executor.availableCPUs(), name: "bench-tasks")

// MARK: - Workloads

nonisolated func flowExternal(_ executor: Executor, _ n: Int) {
    let countdown = Countdown(n)
    for _ in 0..<n { try! executor.submit { countdown.done() } }
    countdown.wait()
}

nonisolated func dispatchExternal(_ n: Int) {
    let group = DispatchGroup()
    let queue = DispatchQueue.global()
    for _ in 0..<n { queue.async(group: group) { blackHole(0) } }
    group.wait()
}

nonisolated func discardingTaskGroup(_ n: Int) async {
    await withDiscardingTaskGroup { group in
        for _ in 0..<n { group.addTask { blackHole(0) } }
    }
}

/// A binary tree of closures with `n` nodes in all, each submitting its children.
nonisolated func flowFanOut(_ executor: Executor, _ n: Int) {
    let countdown = Countdown(n)
    @Sendable func node(_ i: Int) {
        let left = 2 * i + 1, right = 2 * i + 2
        if left < n { try! executor.submit { node(left) } }
        if right < n { try! executor.submit { node(right) } }
        countdown.done()
    }
    try! executor.submit { node(0) }
    countdown.wait()
}

/// `flowFanOut` with function jobs: the tree's state is the jobs' context,
/// a node's index their argument.
final class FunctionFanOut: Sendable {
    let executor: Executor
    let n: Int
    let countdown: Countdown

    init(_ executor: Executor, _ n: Int) {
        self.executor = executor
        self.n = n
        countdown = Countdown(n)
    }

    /// Submits node `i` (the caller keeps `self` alive until the countdown ends).
    func submit(_ i: Int) {
        try! executor.submit(context: Unmanaged.passUnretained(self).toOpaque(), argument: UInt(i)) { context, i in
            Unmanaged<FunctionFanOut>.fromOpaque(context!)._withUnsafeGuaranteedRef { tree in
                let left = 2 * Int(i) + 1, right = 2 * Int(i) + 2
                if left < tree.n { tree.submit(left) }
                if right < tree.n { tree.submit(right) }
                tree.countdown.done()
            }
        }
    }
}

nonisolated func flowFunctionFanOut(_ executor: Executor, _ n: Int) {
    let tree = FunctionFanOut(executor, n)
    tree.submit(0)
    tree.countdown.wait()
}

nonisolated func dispatchFanOut(_ n: Int) {
    let group = DispatchGroup()
    let queue = DispatchQueue.global()
    @Sendable func node(_ i: Int) {
        let left = 2 * i + 1, right = 2 * i + 2
        if left < n { queue.async(group: group) { node(left) } }
        if right < n { queue.async(group: group) { node(right) } }
    }
    queue.async(group: group) { node(0) }
    group.wait()
}

/// The same tree as child tasks of discarding task groups.
nonisolated func taskGroupFanOut(_ n: Int) async {
    @Sendable func node(_ i: Int) async {
        let left = 2 * i + 1, right = 2 * i + 2
        if left >= n { return }
        await withDiscardingTaskGroup { group in
            group.addTask { await node(left) }
            if right < n { group.addTask { await node(right) } }
        }
    }
    await node(0)
}

/// A parent task making `n` child tasks and summing their results, all on
/// `executor` (parent and children prefer it) or all on the default executor.
nonisolated func swiftTasks(_ n: Int, on executor: Executor?) async {
    @Sendable func parent() async -> Int {
        await withTaskGroup(of: Int.self) { group in
            for i in 0..<n { group.addTask { i &* 2 } }
            var sum = 0
            for await x in group { sum &+= x }
            return sum
        }
    }
    if let executor {
        blackHole(await Task(executorPreference: executor) { await parent() }.value)
    } else {
        blackHole(await Task { await parent() }.value)
    }
}

nonisolated func flowPingPong(_ executor: Executor, rounds: Int) {
    let parker = Parker()
    let turn = Atomic<Int>(0)
    for r in 1...rounds {
        try! executor.submit { turn.store(r, ordering: .releasing); parker.unpark() }
        while turn.load(ordering: .acquiring) != r { parker.park() }
        // Let the worker park again so the next round measures a real wake-up.
        while executor.parkedWorkerCount < executor.workerCount { sched_yield() }
    }
}

/// A thread parked on a condition variable; `pingPong` wakes it and waits
/// for its answer, like the Flow variant.
final class CondvarPeer: @unchecked Sendable {
    // Safe: `request` and `running` are guarded by `mutex`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var request = 0
    private var running = true
    private let answer = Atomic<Int>(0)
    private let asleep = Atomic<Bool>(false)
    private let parker = Parker()

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        let me = Unmanaged.passRetained(self)
        spawnThread { me.takeRetainedValue().loop() }
    }

    private func loop() {
        var served = 0
        pthread_mutex_lock(mutex)
        while running {
            if request > served {
                served = request
                pthread_mutex_unlock(mutex)
                answer.store(served, ordering: .releasing)
                parker.unpark()
                pthread_mutex_lock(mutex)
                continue
            }
            asleep.store(true, ordering: .releasing)
            pthread_cond_wait(cond, mutex)
            asleep.store(false, ordering: .releasing)
        }
        pthread_mutex_unlock(mutex)
    }

    func pingPong(rounds: Int) {
        for _ in 0..<rounds {
            while !asleep.load(ordering: .acquiring) { sched_yield() }
            pthread_mutex_lock(mutex)
            request += 1
            let r = request
            pthread_mutex_unlock(mutex)
            pthread_cond_signal(cond)
            while answer.load(ordering: .acquiring) != r { parker.park() }
        }
    }

    func stop() {
        pthread_mutex_lock(mutex)
        running = false
        pthread_mutex_unlock(mutex)
        pthread_cond_signal(cond)
    }
}
