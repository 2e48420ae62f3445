import Benchmark
import FlowAtomics
import Synchronization

// Each comparison is a pair "<ratio-name>:flow" / "<ratio-name>:baseline"
// run in the same process; Scripts/ratios.py prints baseline p50 / flow p50.
// Every iteration moves `batch` items so the pair's timings compare directly.
let batch = 10_000
let transfer = 100_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 3,
        maxDuration: .seconds(2),
        maxIterations: 200)

    // Owner push + pop (the executor's local fast path).
    Benchmark("atomics-deque-vs-mutex:flow") { benchmark in
        let deque = try WorkStealingDeque<Int>(initialCapacity: 64)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for i in 0..<batch {
                deque.push(i)
                blackHole(deque.pop())
            }
        }
    }
    Benchmark("atomics-deque-vs-mutex:baseline") { benchmark in
        let deque = MutexDeque()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for i in 0..<batch {
                deque.push(i)
                blackHole(deque.pop())
            }
        }
    }

    // Owner pushes bursts and pops while one thief steals all the time.
    Benchmark("atomics-deque-with-thief-vs-mutex:flow") { benchmark in
        let deque = try WorkStealingDeque<Int>(initialCapacity: 64)
        let stealer = deque.makeStealer()
        let thief = Spinner { _ = stealer.steal() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for i in 0..<batch / 8 {
                for j in 0..<8 { deque.push(i &* 8 &+ j) }
                while let x = deque.pop() { blackHole(x) }
            }
        }
        benchmark.stopMeasurement()
        thief.stop()
    }
    Benchmark("atomics-deque-with-thief-vs-mutex:baseline") { benchmark in
        let deque = MutexDeque()
        let thief = Spinner { _ = deque.stealFront() }
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for i in 0..<batch / 8 {
                for j in 0..<8 { deque.push(i &* 8 &+ j) }
                while let x = deque.pop() { blackHole(x) }
            }
        }
        benchmark.stopMeasurement()
        thief.stop()
    }

    for (producers, consumers) in [(1, 1), (2, 2)] {
        let name = "atomics-mpmc-\(producers)p\(consumers)c-vs-mutex"
        Benchmark("\(name):flow", configuration: .init(maxIterations: 50)) { benchmark in
            let queue = try MPMCQueue<Int>(capacity: 1024)
            for _ in benchmark.scaledIterations {
                runTransfer(producers: producers, consumers: consumers, items: transfer,
                            enqueue: { x in if case .enqueued = queue.tryEnqueue(x) { return true }; return false },
                            dequeue: { queue.tryDequeue() })
            }
        }
        Benchmark("\(name):baseline", configuration: .init(maxIterations: 50)) { benchmark in
            let queue = MutexRing(capacity: 1024)
            for _ in benchmark.scaledIterations {
                runTransfer(producers: producers, consumers: consumers, items: transfer,
                            enqueue: { queue.tryEnqueue($0) }, dequeue: { queue.tryDequeue() })
            }
        }
    }

    Benchmark("atomics-spsc-vs-mutex:flow", configuration: .init(maxIterations: 50)) { benchmark in
        let queue = try SPSCQueue<Int>(capacity: 1024)
        for _ in benchmark.scaledIterations {
            runTransfer(producers: 1, consumers: 1, items: transfer,
                        enqueue: { x in if case .enqueued = queue.tryEnqueue(x) { return true }; return false },
                        dequeue: { queue.tryDequeue() })
        }
    }
    Benchmark("atomics-spsc-vs-mutex:baseline", configuration: .init(maxIterations: 50)) { benchmark in
        let queue = MutexRing(capacity: 1024)
        for _ in benchmark.scaledIterations {
            runTransfer(producers: 1, consumers: 1, items: transfer,
                        enqueue: { queue.tryEnqueue($0) }, dequeue: { queue.tryDequeue() })
        }
    }

    // Steady-state allocations: a single-threaded round trip through each
    // container, after warm-up; the malloc counter should read 0.
    Benchmark("atomics-steady-state-mallocs", configuration: .init(metrics: [.mallocCountTotal])) { benchmark in
        let deque = try WorkStealingDeque<Int>(initialCapacity: 64)
        let mpmc = try MPMCQueue<Int>(capacity: 64)
        let spsc = try SPSCQueue<Int>(capacity: 64)
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            for i in 0..<batch {
                deque.push(i); blackHole(deque.pop())
                _ = mpmc.tryEnqueue(i); blackHole(mpmc.tryDequeue())
                _ = spsc.tryEnqueue(i); blackHole(spsc.tryDequeue())
            }
        }
    }
}
