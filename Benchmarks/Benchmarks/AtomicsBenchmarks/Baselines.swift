#if canImport(Glibc)
import Glibc
#endif
import Benchmark
import BenchmarkSupport
import FlowAtomics
import Synchronization

/// The baseline deque: a `Mutex`-protected array used as a deque (owner
/// pushes and pops at the back, thieves take from the front).
final class MutexDeque: Sendable {
    private let storage = Mutex<(items: [Int], head: Int)>(([], 0))
    init() { storage.withLock { $0.items.reserveCapacity(1024) } }

    func push(_ x: Int) { storage.withLock { $0.items.append(x) } }

    func pop() -> Int? {
        storage.withLock { s in
            guard s.items.count > s.head else { return nil }
            let x = s.items.removeLast()
            if s.items.count == s.head { s.items.removeAll(keepingCapacity: true); s.head = 0 }
            return x
        }
    }

    func stealFront() -> Int? {
        storage.withLock { s in
            guard s.items.count > s.head else { return nil }
            let x = s.items[s.head]
            s.head += 1
            if s.items.count == s.head { s.items.removeAll(keepingCapacity: true); s.head = 0 }
            return x
        }
    }
}

/// The baseline queue: a bounded ring behind a `Mutex`.
final class MutexRing: Sendable {
    private struct State {
        var slots: [Int]
        var head = 0
        var count = 0
    }
    private let state: Mutex<State>
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        state = Mutex(State(slots: Array(repeating: 0, count: capacity)))
    }

    func tryEnqueue(_ x: Int) -> Bool {
        state.withLock { s in
            guard s.count < capacity else { return false }
            s.slots[(s.head + s.count) % capacity] = x
            s.count += 1
            return true
        }
    }

    func tryDequeue() -> Int? {
        state.withLock { s in
            guard s.count > 0 else { return nil }
            let x = s.slots[s.head]
            s.head = (s.head + 1) % capacity
            s.count -= 1
            return x
        }
    }
}

/// Runs `body` in a loop on its own thread until `stop()`.
final class Spinner: Sendable {
    private let running = Atomic<Bool>(true)
    private let finished = Atomic<Bool>(false)
    init(_ body: @escaping @Sendable () -> Void) {
        let me = Unmanaged.passUnretained(self)
        spawnThread { [body] in
            let spinner = me.takeUnretainedValue()
            while spinner.running.load(ordering: .relaxed) { body() }
            spinner.finished.store(true, ordering: .releasing)
        }
    }
    func stop() {
        running.store(false, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { sched_yield() }
    }
}

/// Moves `items` integers from `producers` threads to `consumers` threads.
/// The last producer to finish enqueues one sentinel (-1) per consumer;
/// every real item precedes the sentinels, so a consumer that takes one can
/// stop. Full/empty retries spin briefly, then yield (2 shared cores).
func runTransfer(
    producers: Int, consumers: Int, items: Int,
    enqueue: @escaping @Sendable (Int) -> Bool,
    dequeue: @escaping @Sendable () -> Int?
) {
    let producing = Atomic<Int>(producers)
    let done = Atomic<Int>(0)
    let finished = Parker()   // the measuring thread blocks, not spins: only 2 cores
    let perProducer = items / producers
    for _ in 0..<producers {
        spawnThread {
            for i in 0..<perProducer { while !enqueue(i) { waitAWhile() } }
            if producing.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
                for _ in 0..<consumers { while !enqueue(-1) { waitAWhile() } }
            }
            if done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == producers + consumers { finished.unpark() }
        }
    }
    for _ in 0..<consumers {
        spawnThread {
            var sum = 0
            while true {
                if let x = dequeue() {
                    if x < 0 { break }
                    sum &+= x
                } else {
                    waitAWhile()
                }
            }
            blackHole(sum)
            if done.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue == producers + consumers { finished.unpark() }
        }
    }
    while done.load(ordering: .acquiring) < producers + consumers { finished.park() }
}

@inline(never)
func waitAWhile() {
    Backoff.relax(1024)
    sched_yield()
}
