import Benchmark
import FlowWatchdog
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// Pairs "<ratio-name>:flow" / "<ratio-name>:baseline"; see Scripts/ratios.py.
//
// watch + finish: every iteration does `batch` pairs per thread. The
// baseline does the same bookkeeping the obvious way: a Mutex-protected
// dictionary id -> deadline (insert on watch, remove on finish), with the
// deadline read from the precise monotonic clock. Note: Flow's real-clock
// watchdog reads the coarse monotonic clock (one kernel tick of
// resolution), which is part of why its pair is cheaper.
//
// watchdog-idle-monitor-cpu: 10^4 activities with hour-long timeouts are
// watched, then the process sleeps ~10 s; the monitor thread should sleep
// too. Prints `watchdog-idle-monitor-cpu-percent: <x>` (percent of one core).
let batch = 10_000
let longTimeout = Duration.seconds(60)

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 3,
        maxDuration: .seconds(3),
        maxIterations: 1_000)

    // One watchdog and one helper thread for all iterations, as in real use.
    let watchdog = try! Watchdog()
    let table = MutexDictionary()
    let pair = PairRunner()

    Benchmark("watchdog-watch-finish-vs-mutex-dict:flow") { benchmark in
        for _ in benchmark.scaledIterations {
            flowBatch(watchdog)
        }
    }
    Benchmark("watchdog-watch-finish-vs-mutex-dict:baseline") { benchmark in
        for _ in benchmark.scaledIterations {
            baselineBatch(table)
        }
    }

    // The same from two threads at once (the caller and one helper): the
    // watchdog's sharded lock-free inbox against one contended mutex.
    Benchmark("watchdog-watch-finish-2threads-vs-mutex-dict:flow") { benchmark in
        for _ in benchmark.scaledIterations {
            pair.run { _ in flowBatch(watchdog) }
        }
    }
    Benchmark("watchdog-watch-finish-2threads-vs-mutex-dict:baseline") { benchmark in
        for _ in benchmark.scaledIterations {
            pair.run { _ in baselineBatch(table) }
        }
    }

    Benchmark(
        "watchdog-idle-monitor-cpu",
        configuration: .init(
            metrics: [.wallClock, .custom("monitor CPU (milli-percent of a core)", polarity: .prefersSmaller, useScalingFactor: false)],
            timeUnits: .milliseconds,
            warmupIterations: 0,
            maxDuration: .seconds(60),
            maxIterations: 1)
    ) { benchmark in
        let idle = try Watchdog()
        var tokens: [WatchToken] = []
        tokens.reserveCapacity(10_000)
        for i in 0..<10_000 {
            tokens.append(try idle.watch(name: "idle-\(i % 64)", timeout: .seconds(3_600)))
        }
        let cpuBefore = idle.monitorThreadCPUTime ?? .zero
        let start = ContinuousClock.now
        sleepSeconds(10)
        let cpu = (idle.monitorThreadCPUTime ?? .zero) - cpuBefore
        let wall = ContinuousClock.now - start
        let milliPercent = Int((cpu / wall * 100_000).rounded())
        print("watchdog-idle-monitor-cpu-percent: \(milliPercent / 1_000).\(threeDigits(milliPercent % 1_000))")
        fflush(nil)  // all streams: `stdout` itself is not concurrency-safe to name in Swift 6
        benchmark.measurement(
            .custom("monitor CPU (milli-percent of a core)", polarity: .prefersSmaller, useScalingFactor: false),
            milliPercent)
        benchmark.stopMeasurement()
        for token in tokens { token.finish() }
        idle.stop()
    }
}

/// `batch` watch + finish pairs on the Flow watchdog.
@inline(never)
func flowBatch(_ watchdog: Watchdog) {
    for _ in 0..<batch {
        let token = try! watchdog.watch(name: "task", timeout: longTimeout)
        blackHole(token.finish())
    }
}

/// `batch` insert + remove pairs on the mutex-dictionary baseline.
@inline(never)
func baselineBatch(_ table: MutexDictionary) {
    let timeout = longTimeout.components.seconds * 1_000_000_000
    for _ in 0..<batch {
        let id = table.watch(deadline: monotonicNanoseconds() &+ UInt64(timeout))
        blackHole(table.finish(id))
    }
}

/// The baseline: the bookkeeping a watchdog needs, behind one lock.
final class MutexDictionary: Sendable {
    private struct State {
        var nextID = 0
        var deadlines: [Int: UInt64] = [:]
    }

    private let state = Mutex(State())

    func watch(deadline: UInt64) -> Int {
        state.withLock { state in
            state.nextID += 1
            state.deadlines[state.nextID] = deadline
            return state.nextID
        }
    }

    func finish(_ id: Int) -> Bool {
        state.withLock { $0.deadlines.removeValue(forKey: id) != nil }
    }
}

/// Runs a body on the calling thread and, at the same time, on one
/// persistent helper thread; returns when both are done.
final class PairRunner: @unchecked Sendable {
    // Safe: `job`, `posted` and `done` are read and written only under
    // `mutex`; the pthread objects live at stable heap addresses.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var job: (@Sendable (Int) -> Void)?
    private var posted = 0
    private var done = 0

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        let unmanaged = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            #if canImport(Darwin)
            let runner = Unmanaged<PairRunner>.fromOpaque(raw).takeRetainedValue()
            #else
            let runner = Unmanaged<PairRunner>.fromOpaque(raw!).takeRetainedValue()
            #endif
            runner.helperLoop()
            return nil
        }, unmanaged)
        precondition(rc == 0, "PairRunner: pthread_create failed with \(rc)")
        pthread_detach(thread)  // lives as long as the benchmark process
    }

    func run(_ body: @escaping @Sendable (Int) -> Void) {
        pthread_mutex_lock(mutex)
        job = body
        posted += 1
        let ticket = posted
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)

        body(0)

        pthread_mutex_lock(mutex)
        while done < ticket { pthread_cond_wait(cond, mutex) }
        pthread_mutex_unlock(mutex)
    }

    private func helperLoop() {
        var seen = 0
        while true {
            pthread_mutex_lock(mutex)
            while posted == seen { pthread_cond_wait(cond, mutex) }
            seen = posted
            let body = job!
            pthread_mutex_unlock(mutex)

            body(1)

            pthread_mutex_lock(mutex)
            done = seen
            pthread_cond_broadcast(cond)
            pthread_mutex_unlock(mutex)
        }
    }
}

func sleepSeconds(_ seconds: Int) {
    var request = timespec(tv_sec: seconds, tv_nsec: 0)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 { request = remaining }
}

func threeDigits(_ n: Int) -> String {
    n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)"
}
