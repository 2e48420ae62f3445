import FlowAtomics
@testable import FlowPipeline
import FlowTestSupport
import Testing

/// Stats a test writes by hand, read by a topology's accessor.
final class StatsBox: Sendable {
    let value = Locked(StageStats())
    var stats: StageStats { value.withLock { $0 } }
    func update(_ body: (inout StageStats) -> Void) { value.withLock { body(&$0) } }
}

/// A topology over boxes named `names`, with the edges given as (from, to).
func boxedTopology(_ names: [String], edges: [(String, String)]) throws -> (FrozenTopology, [String: StatsBox]) {
    var topology = PipelineTopology()
    var boxes: [String: StatsBox] = [:]
    for name in names {
        let box = StatsBox()
        boxes[name] = box
        topology.addStage(name, stats: { box.stats })
    }
    for (from, to) in edges { topology.addEdge(from: from, to: to) }
    return (try topology.freeze(), boxes)
}

/// Builds a stats value from the fields the constraint tests use.
func stageStats(submitted: Int64 = 0, completed: Int64 = 0, failed: Int64 = 0, service: Duration = .zero,
                idle: Duration = .zero, blocked: Duration = .zero, wipWait: Duration = .zero,
                depth: Int = 0, capacity: Int = 0, workers: Int = 1, admitted: Int = 0, maxWIP: Int = 1,
                waiters: Int = 0) -> StageStats {
    var s = StageStats()
    s.submitted = submitted
    s.completed = completed
    s.failed = failed
    s.serviceTime = service
    s.idleTime = idle
    s.outputBlockedTime = blocked
    s.wipWaitTime = wipWait
    s.bufferedDepth = depth
    s.queueCapacity = capacity
    s.targetWorkers = workers
    s.activeWorkers = workers
    s.admitted = admitted
    s.maxWIP = maxWIP
    s.waiters = waiters
    return s
}

/// A real chain of four stages s0 → s1 → s2 → s3 (s0 fed by a producer
/// task, the others piped), each sleeping `fast` per item except the one
/// whose index is in `slowIndex`, which sleeps `slow`. Moving `slowIndex`
/// moves the constraint.
final class SlowChain: Sendable {
    static let names = ["s0", "s1", "s2", "s3"]
    let slowIndex: Locked<Int>
    let stopping = Locked(false)
    let head: Stage<Int, Int>
    let piped: [Stage<Int, Int>]
    let producer: Task<Void, Never>
    let consumer: Task<Int, Never>

    init(slow: Int, fast: Duration = .milliseconds(1), slowDuration: Duration = .milliseconds(10),
         capacity: Int = 4) throws {
        let slowIndex = Locked(slow)
        self.slowIndex = slowIndex
        @Sendable func work(_ index: Int) async throws {
            // Workload, not synchronisation: the slow stage sleeps 10x longer.
            try await Task.sleep(for: slowIndex.withLock { $0 } == index ? slowDuration : fast)
        }
        let head = try Stage<Int, Int>(options: StageOptions(capacity: capacity)) { x in
            try await work(0)
            return x
        }
        var piped: [Stage<Int, Int>] = []
        var upstream = head.results
        for i in 1...3 {
            let stage = try pipe(from: upstream, options: StageOptions(capacity: capacity)) { (x: Int) in
                try await work(i)
                return x
            }
            piped.append(stage)
            upstream = stage.results
        }
        self.head = head
        self.piped = piped
        let stopping = self.stopping
        producer = Task {
            var x = 0
            while !stopping.withLock({ $0 }) {
                do { try await head.submit(x) } catch { break }
                x += 1
            }
            head.closeInput()
        }
        let tail = piped[2]
        consumer = Task {
            var n = 0
            for await _ in tail.results { n += 1 }
            return n
        }
    }

    var stages: [Stage<Int, Int>] { [head] + piped }

    func stage(_ index: Int) -> Stage<Int, Int> { stages[index] }

    func topology() throws -> FrozenTopology {
        var topology = PipelineTopology()
        for (name, stage) in zip(Self.names, stages) { topology.addStage(name, stage) }
        for i in 0..<3 { topology.addEdge(from: Self.names[i], to: Self.names[i + 1]) }
        return try topology.freeze()
    }

    func moveSlowness(to index: Int) { slowIndex.withLock { $0 = index } }

    /// Waits (with a deadline) until stage `index` completed `more` items more than now.
    func progress(of index: Int, by more: Int64, timeout: Duration = .seconds(20)) async -> Bool {
        let target = stage(index).stats.completed + more
        let stage = stage(index)
        return await waitUntil(timeout: timeout) { stage.stats.completed >= target }
    }

    /// Stops the producer, drains and waits for every stage; returns the items delivered.
    func shutdown() async -> Int {
        stopping.withLock { $0 = true }
        await producer.value
        let delivered = await consumer.value
        for stage in stages.reversed() { _ = await stage.wait() }
        return delivered
    }
}

/// The most frequent non-nil value.
func mostCommon(_ values: [String?]) -> String? {
    var counts: [String: Int] = [:]
    for case let v? in values { counts[v, default: 0] += 1 }
    return counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
}
