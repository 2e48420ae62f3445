import Synchronization

// GraphMonitor — a live view of one run, readable from any thread while
// the run goes on.
//
// Algorithm: one atomic word per node holds its phase (waiting, running,
// succeeded, failed, skipped, cancelled) and, while running, the worker
// that runs it; two more words hold its start and end (monotonic ns). The
// scheduler writes them only where it already reads the clock for a node
// (so a run without a monitor pays nothing new on its hot path: the
// "timed" branch it already takes decides), plus on the cold paths (a
// failure, a skipped or cancelled node, async nodes). A snapshot makes
// ONE pass over the phase words: every node is read exactly once and lands
// in exactly one bucket, so
//     waiting + ready + running + succeeded + failed + skipped + cancelled == nodeCount
// holds at every sample, whatever the writers do meanwhile. No counter is
// shared between workers (no contended cache line, no torn sum).
// "Ready" is derived in the same pass: a waiting node whose predecessors
// were all read as finished (roots always), and its ready time is the
// latest end among them (the run's start for roots); the scheduler does
// not write anything when a node becomes ready.
//
// Ordering: a writer stores the timestamps (relaxed), then the phase word
// with release; the reader loads the phase with acquire, then the
// timestamps, so it sees at least the timestamps that go with the phase it
// read. Phases only move forward (waiting → running → finished, or waiting
// → skipped/cancelled), so a node read as finished stays finished. Every
// phase store of a node precedes (in its thread) the in-degree RMW that
// makes its successors ready, or the job's `remainingSinks` RMW; the run's
// waiter loads `remainingSinks` with acquire, so once `run` returned a
// snapshot sees every node's final phase and times.

/// A live view of one run of a `GraphPlan`: per node its state, the worker
/// running it, when it started and finished; counts that always add up.
///
/// Create one per run and pass it to `GraphPlan.run(on:errorPolicy:recordsTimings:monitor:)`
/// (or `runBlocking`); read `snapshot()` or `counts()` from any thread,
/// during the run or after it:
///
/// ```swift
/// let plan = try graph.freeze()
/// let monitor = GraphMonitor(plan: plan)
/// let run = Task { try await plan.run(on: executor, monitor: monitor) }
/// print(monitor.counts())            // e.g. 12 waiting, 3 ready, 2 running, 47 succeeded
/// _ = try await run.value
/// ```
///
/// Cost: a monitored run reads the clock twice per node and makes four
/// stores to the node's own three words; a run without a monitor pays nothing for it.
public final class GraphMonitor: @unchecked Sendable {  // words are atomics, allocated in init and freed in deinit
    /// What a node is doing, as a monitor sees it.
    public enum Phase: UInt8, Sendable, Equatable, CustomStringConvertible {
        /// Waiting for a predecessor to finish.
        case waiting
        /// Every predecessor finished; not started yet (queued or about to be).
        case ready
        /// Its body is running (or suspended, for an `async` node).
        case running
        /// It returned a value.
        case succeeded
        /// It threw or timed out.
        case failed
        /// Not run: a predecessor failed or was not run.
        case skipped
        /// Not run (or cancelled while running): the run was cancelled.
        case cancelled

        /// True for succeeded, failed, skipped and cancelled.
        public var isFinished: Bool { rawValue >= Phase.succeeded.rawValue }

        public var description: String {
            switch self {
            case .waiting: "waiting"
            case .ready: "ready"
            case .running: "running"
            case .succeeded: "succeeded"
            case .failed: "failed"
            case .skipped: "skipped"
            case .cancelled: "cancelled"
            }
        }
    }

    /// How many nodes are in each phase. From one pass over the nodes:
    /// the fields always add up to `total`.
    public struct Counts: Sendable, Equatable, CustomStringConvertible {
        public var waiting = 0
        public var ready = 0
        public var running = 0
        public var succeeded = 0
        public var failed = 0
        public var skipped = 0
        public var cancelled = 0

        /// Counts with the given values (zero by default).
        public init(waiting: Int = 0, ready: Int = 0, running: Int = 0, succeeded: Int = 0, failed: Int = 0,
                    skipped: Int = 0, cancelled: Int = 0) {
            self.waiting = waiting
            self.ready = ready
            self.running = running
            self.succeeded = succeeded
            self.failed = failed
            self.skipped = skipped
            self.cancelled = cancelled
        }

        /// Nodes in the graph: the sum of the phases.
        public var total: Int { waiting + ready + running + succeeded + failed + skipped + cancelled }
        /// Nodes that finished, whatever the outcome.
        public var finished: Int { succeeded + failed + skipped + cancelled }

        public var description: String {
            "\(waiting) waiting, \(ready) ready, \(running) running, \(succeeded) succeeded, \(failed) failed, "
                + "\(skipped) skipped, \(cancelled) cancelled"
        }

        mutating func add(_ phase: Phase) {
            switch phase {
            case .waiting: waiting += 1
            case .ready: ready += 1
            case .running: running += 1
            case .succeeded: succeeded += 1
            case .failed: failed += 1
            case .skipped: skipped += 1
            case .cancelled: cancelled += 1
            }
        }
    }

    /// One node in a snapshot.
    public struct NodeSnapshot: Sendable, Equatable {
        /// Its name (`#index` when unnamed).
        public let name: String
        /// Its index in the graph.
        public let index: Int
        /// Its phase.
        public let phase: Phase
        /// The executor worker running it (synchronous nodes while running;
        /// nil otherwise).
        public let worker: Int?
        /// How long it was ready before it started (so far, while ready);
        /// nil while waiting or when it was not run.
        public let queued: Duration?
        /// How long its body ran (so far, while running); nil when it did not start.
        public let running: Duration?
    }

    /// A consistent view of the run: counts and one entry per node.
    public struct Snapshot: Sendable {
        /// Counts per phase (they add up to `nodes.count`).
        public let counts: Counts
        /// One entry per node, in index order.
        public let nodes: [NodeSnapshot]
        /// Time since the run started (to its end, once it finished); zero before it started.
        public let elapsed: Duration
        /// True once the run finished (every sink finished, or it was refused).
        public let isFinished: Bool
    }

    /// The plan this monitor watches.
    public let plan: GraphPlan
    private let n: Int
    // Per node: [phase | (worker + 1) << 8, start ns, end ns].
    private let words: UnsafeMutablePointer<Atomic<UInt64>>
    private let attached = Atomic<Bool>(false)
    private let startNanos = Atomic<UInt64>(0)
    private let endNanos = Atomic<UInt64>(0)

    /// A monitor for one run of `plan`.
    public init(plan: GraphPlan) {
        self.plan = plan
        n = plan.nodeCount
        words = .allocate(capacity: max(1, 3 * n))
        for k in 0..<(3 * n) { (words + k).initialize(to: Atomic(0)) }
    }

    deinit {
        words.deinitialize(count: 3 * n)
        words.deallocate()
    }

    // MARK: - Reading

    /// Counts per phase, from one pass over the nodes (O(nodes + edges)).
    public func counts() -> Counts {
        var counts = Counts()
        pass { _, phase, _, _, _, _ in counts.add(phase) }
        return counts
    }

    /// Counts and one entry per node, with durations up to now.
    public func snapshot() -> Snapshot {
        let now = GraphExecution.now()
        var counts = Counts()
        var nodes: [NodeSnapshot] = []
        nodes.reserveCapacity(n)
        let started = startNanos.load(ordering: .acquiring)
        pass { i, phase, word, start, end, readyAt in
            counts.add(phase)
            var queued: Duration? = nil
            var running: Duration? = nil
            switch phase {
            case .waiting: break
            case .ready: queued = GraphMonitor.span(readyAt, now)
            case .running:
                queued = GraphMonitor.span(readyAt, start)
                running = GraphMonitor.span(start, now)
            case .succeeded, .failed, .skipped, .cancelled:
                if start != 0 {
                    queued = GraphMonitor.span(readyAt, start)
                    running = GraphMonitor.span(start, end)
                }
            }
            let worker = phase == .running && word >> 8 != 0 ? Int(word >> 8) - 1 : nil
            nodes.append(NodeSnapshot(name: plan.displayName(i), index: i, phase: phase, worker: worker,
                                      queued: queued, running: running))
        }
        let end = endNanos.load(ordering: .acquiring)
        let elapsed = started == 0 ? Duration.zero : GraphMonitor.span(started, end != 0 ? end : now)
        return Snapshot(counts: counts, nodes: nodes, elapsed: elapsed, isFinished: end != 0)
    }

    /// True once the run finished.
    public var isFinished: Bool { endNanos.load(ordering: .acquiring) != 0 }

    /// The phase of node `index`.
    public func phase(of index: Int) -> Phase {
        precondition(index >= 0 && index < n, "GraphMonitor: no node #\(index) in graph '\(plan.name)'")
        return Phase(rawValue: UInt8(truncatingIfNeeded: (words + 3 * index).pointee.load(ordering: .acquiring))) ?? .waiting
    }

    /// The phase of `node`.
    public func phase<T>(of node: Node<T>) -> Phase {
        precondition(node.graph == plan.graphID, "GraphMonitor: node #\(node.index) belongs to another graph than '\(plan.name)'")
        return phase(of: node.index)
    }

    /// One pass: loads every phase word once (acquire) in index order, then
    /// derives "ready" and the ready time from the predecessors' phases
    /// read in this same pass. `body(index, phase, word, start, end, readyAt)`.
    private func pass(_ body: (Int, Phase, UInt64, UInt64, UInt64, UInt64) -> Void) {
        guard n > 0 else { return }
        var phase = [UInt64](repeating: 0, count: n)
        for i in 0..<n { phase[i] = (words + 3 * i).pointee.load(ordering: .acquiring) }
        let runStart = startNanos.load(ordering: .acquiring)
        // Finished predecessors per node and the latest end among them.
        var finishedPreds = [Int32](repeating: 0, count: n)
        var readyAt = [UInt64](repeating: runStart, count: n)
        for u in 0..<n where UInt8(truncatingIfNeeded: phase[u]) >= Phase.succeeded.rawValue {
            let end = (words + 3 * u + 2).pointee.load(ordering: .relaxed)
            for k in Int(plan.succStart[u])..<Int(plan.succStart[u + 1]) {
                let s = Int(plan.succ[k])
                finishedPreds[s] += 1
                if end > readyAt[s] { readyAt[s] = end }
            }
        }
        for i in 0..<n {
            var p = Phase(rawValue: UInt8(truncatingIfNeeded: phase[i])) ?? .waiting
            if p == .waiting && runStart != 0 && finishedPreds[i] == plan.info[i].inDegree { p = .ready }
            let start = (words + 3 * i + 1).pointee.load(ordering: .relaxed)
            let end = (words + 3 * i + 2).pointee.load(ordering: .relaxed)
            body(i, p, phase[i], start, end, readyAt[i])
        }
    }

    private static func span(_ from: UInt64, _ to: UInt64) -> Duration {
        .nanoseconds(Int64(bitPattern: to &- min(from, to)))
    }

    // MARK: - Writing (the run's threads)

    /// Binds the monitor to a run; a monitor serves one run only.
    func attach(to plan: GraphPlan) {
        precondition(plan === self.plan,
                     "GraphMonitor: made for a plan of graph '\(self.plan.name)', passed to a run of '\(plan.name)'")
        precondition(!attached.exchange(true, ordering: .relaxed),
                     "GraphMonitor: a monitor watches one run; make a new one for each run of '\(plan.name)'")
    }

    func runStarted(_ t: UInt64) { startNanos.store(max(t, 1), ordering: .releasing) }

    func runFinished(_ t: UInt64) { endNanos.store(max(t, 1), ordering: .releasing) }

    /// Node `i` starts on `worker` (nil: not a worker thread, or an async node).
    @inline(__always)
    func started(_ i: Int, at t: UInt64, worker: Int?) {
        (words + 3 * i + 1).pointee.store(t, ordering: .relaxed)
        let w = UInt64(worker.map { $0 + 1 } ?? 0)
        (words + 3 * i).pointee.store(UInt64(Phase.running.rawValue) | w << 8, ordering: .releasing)
    }

    /// Node `i` finished (or was not run: `t` is then when it was skipped).
    @inline(__always)
    func finished(_ i: Int, _ phase: Phase, at t: UInt64) {
        (words + 3 * i + 2).pointee.store(t, ordering: .relaxed)
        (words + 3 * i).pointee.store(UInt64(phase.rawValue), ordering: .releasing)
    }
}
