import Benchmark
import Dispatch
import FlowGraph
import Synchronization

// Taskflow's graph shapes, built and run once per iteration (per node =
// build + run + teardown), with empty node bodies. Each comparison has a
// Flow variant and two baselines in the same process; the ratio script
// takes the faster baseline:
//   "<name>:flow"                  TaskGraph on a Flow Executor, built the
//                                  way Flow offers for the shape: `task`
//                                  per node for the chain and the tree,
//                                  the families for the others (`fanOut`
//                                  and `fanIn`, `parallel`, `wavefront`)
//   "<wavefront>:flow-tasks"       the wavefront built from one `task` per
//                                  cell, as Taskflow's suite builds it;
//                                  each closure captures its cell's index
//                                  (one allocation per node)
//   "<name>:baseline-taskgroup"    child tasks of (discarding) task groups
//                                  where the shape is structured (tree,
//                                  fan, independent), else unstructured
//                                  tasks with atomic in-degree counters
//   "<name>:baseline-dispatch"     DispatchQueue.global().async per node,
//                                  atomic in-degree counters, async when ready
// Sizes, as the issue gives Taskflow's: chain 10^5, binary tree depth 18
// (262,143 nodes), wavefront 512×512, fan 1→10^5→1, independent 10^6.
let chainLength = 100_000
let treeDepth = 18
let waveSide = 512
let fanWidth = 100_000
let independentCount = 1_000_000

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 2,
        maxDuration: .seconds(3),
        maxIterations: 30)

    for shape in Shape.allCases {
        Benchmark("\(shape.ratioName):flow") { benchmark in
            let executor = pool
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { try await flowRun(shape, on: executor) }
            benchmark.stopMeasurement()
        }
        if shape == .wavefront {
            Benchmark("\(shape.ratioName):flow-tasks") { benchmark in
                let executor = pool
                benchmark.startMeasurement()
                for _ in benchmark.scaledIterations { try await flowRun(shape, on: executor, perNodeTasks: true) }
                benchmark.stopMeasurement()
            }
        }
        Benchmark("\(shape.ratioName):baseline-taskgroup") { benchmark in
            for _ in benchmark.scaledIterations { await taskRun(shape) }
        }
        Benchmark("\(shape.ratioName):baseline-dispatch") { benchmark in
            for _ in benchmark.scaledIterations { dispatchRun(shape) }
        }
    }
}

/// The Flow variants' pool: made once and kept for the life of the
/// process, as the baselines' pools (Dispatch's, the default executor's)
/// are. package-benchmark calls a benchmark's closure once per sample, so
/// a pool made in the closure would start new, cold threads every sample.
let pool: Executor = try! Executor(workers: Executor.availableCPUs(), name: "bench")

enum Shape: CaseIterable {
    case chain, tree, wavefront, fan, independent

    var ratioName: String {
        switch self {
        case .chain: "graph-chain-vs-best-baseline"
        case .tree: "graph-tree-vs-best-baseline"
        case .wavefront: "graph-wavefront-vs-best-baseline"
        case .fan: "graph-fan-vs-best-baseline"
        case .independent: "graph-independent-vs-best-baseline"
        }
    }
}

// MARK: - Flow

nonisolated func flowRun(_ shape: Shape, on executor: Executor, perNodeTasks: Bool = false) async throws {
    let graph = TaskGraph("bench")
    switch shape {  // sizes are known, as in the baselines' edge arrays
    case .chain: graph.reserveCapacity(nodes: chainLength, inputs: chainLength)
    case .tree: graph.reserveCapacity(nodes: 1 << treeDepth, inputs: 1 << treeDepth)
    case .wavefront where perNodeTasks:
        graph.reserveCapacity(nodes: waveSide * waveSide, inputs: 2 * waveSide * waveSide)
    case .wavefront, .fan, .independent: break  // the families reserve for themselves
    }
    switch shape {
    case .chain:
        var last = graph.task { blackHole(0) }
        for _ in 1..<chainLength { last = graph.task(after: last) { _ in blackHole(1) } }
    case .tree:
        var level = [graph.task { blackHole(0) }]
        for _ in 1..<treeDepth {
            var next: [Node<Void>] = []
            next.reserveCapacity(level.count * 2)
            for node in level {
                next.append(graph.task(after: node) { _ in blackHole(1) })
                next.append(graph.task(after: node) { _ in blackHole(2) })
            }
            level = next
        }
    case .wavefront where !perNodeTasks:
        _ = graph.wavefront(rows: waveSide, columns: waveSide) { (row, column, _: Void?, _: Void?) in
            blackHole(row * waveSide + column)
        }
    case .wavefront:
        var grid: [Node<Void>] = []
        grid.reserveCapacity(waveSide * waveSide)
        for i in 0..<waveSide {
            for j in 0..<waveSide {
                let id = i * waveSide + j
                switch (i, j) {
                case (0, 0): grid.append(graph.task { blackHole(id) })
                case (0, _): grid.append(graph.task(after: grid[id - 1]) { _ in blackHole(id) })
                case (_, 0): grid.append(graph.task(after: grid[id - waveSide]) { _ in blackHole(id) })
                default: grid.append(graph.task(after: grid[id - waveSide], grid[id - 1]) { _, _ in blackHole(id) })
                }
            }
        }
    case .fan:
        let source = graph.task { blackHole(0) }
        let wide = graph.fanOut(from: source, count: fanWidth) { _, i in blackHole(i) }
        graph.fanIn(wide) { blackHole($0.count) }
    case .independent:
        _ = graph.parallel(independentCount) { blackHole($0) }
    }
    _ = try await graph.run(on: executor)
}

// MARK: - Baselines: a DAG with atomic in-degree counters

/// Successor lists in CSR form plus in-degree counters, for the baselines
/// that schedule "async when ready".
final class CounterDAG: @unchecked Sendable {
    // Safe to share: the arrays are immutable after init; the counters are atomics.
    let count: Int
    let succStart: [Int32]
    let succ: [Int32]
    let roots: [Int32]
    let pending: UnsafeMutablePointer<Atomic<Int>>
    let remaining: Atomic<Int>

    init(count: Int, edges: [(Int32, Int32)]) {
        self.count = count
        var out = [Int32](repeating: 0, count: count + 1)
        var indegree = [Int](repeating: 0, count: count)
        for (a, b) in edges { out[Int(a) + 1] += 1; indegree[Int(b)] += 1 }
        for i in 0..<count { out[i + 1] += out[i] }
        var cursor = out
        var succ = [Int32](repeating: 0, count: edges.count)
        for (a, b) in edges { succ[Int(cursor[Int(a)])] = b; cursor[Int(a)] += 1 }
        succStart = out
        self.succ = succ
        roots = (0..<count).filter { indegree[$0] == 0 }.map { Int32($0) }
        pending = .allocate(capacity: count)
        for i in 0..<count { (pending + i).initialize(to: Atomic(indegree[i])) }
        remaining = Atomic(count)
    }

    deinit {
        pending.deinitialize(count: count)
        pending.deallocate()
    }

    /// Runs node `i`'s (empty) body, then hands each successor that became
    /// ready to `spawn`. Returns true when it was the last node.
    @inline(__always)
    func finish(_ i: Int32, spawn: (Int32) -> Void) -> Bool {
        blackHole(i)
        for k in Int(succStart[Int(i)])..<Int(succStart[Int(i) + 1]) {
            let s = succ[k]
            if (pending + Int(s)).pointee.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { spawn(s) }
        }
        return remaining.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }

    static func make(_ shape: Shape) -> CounterDAG {
        var edges: [(Int32, Int32)] = []
        let count: Int
        switch shape {
        case .chain:
            count = chainLength
            for i in 1..<count { edges.append((Int32(i - 1), Int32(i))) }
        case .tree:
            count = (1 << treeDepth) - 1
            for i in 1..<count { edges.append((Int32((i - 1) / 2), Int32(i))) }
        case .wavefront:
            count = waveSide * waveSide
            for i in 0..<waveSide {
                for j in 0..<waveSide {
                    let id = Int32(i * waveSide + j)
                    if i > 0 { edges.append((id - Int32(waveSide), id)) }
                    if j > 0 { edges.append((id - 1, id)) }
                }
            }
        case .fan:
            count = fanWidth + 2
            for i in 1...fanWidth {
                edges.append((0, Int32(i)))
                edges.append((Int32(i), Int32(fanWidth + 1)))
            }
        case .independent:
            count = independentCount
        }
        return CounterDAG(count: count, edges: edges)
    }
}

nonisolated func dispatchRun(_ shape: Shape) {
    let dag = CounterDAG.make(shape)
    let queue = DispatchQueue.global()
    let done = DispatchSemaphore(value: 0)
    @Sendable func run(_ i: Int32) {
        if dag.finish(i, spawn: { s in queue.async { run(s) } }) { done.signal() }
    }
    for r in dag.roots { queue.async { run(r) } }
    done.wait()
}

nonisolated func taskRun(_ shape: Shape) async {
    switch shape {
    case .tree:
        // The natural structured form: each node adds its children.
        @Sendable func node(_ i: Int, _ count: Int) async {
            blackHole(i)
            let left = 2 * i + 1, right = 2 * i + 2
            if left >= count { return }
            await withDiscardingTaskGroup { group in
                group.addTask { await node(left, count) }
                if right < count { group.addTask { await node(right, count) } }
            }
        }
        await node(0, (1 << treeDepth) - 1)
    case .fan:
        blackHole(0)
        await withDiscardingTaskGroup { group in
            for i in 1...fanWidth { group.addTask { blackHole(i) } }
        }
        blackHole(fanWidth + 1)
    case .independent:
        await withDiscardingTaskGroup { group in
            for i in 0..<independentCount { group.addTask { blackHole(i) } }
        }
    case .chain, .wavefront:
        // No structured form: unstructured tasks, spawned when ready.
        let dag = CounterDAG.make(shape)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            @Sendable func run(_ i: Int32) {
                if dag.finish(i, spawn: { s in Task { run(s) } }) { continuation.resume() }
            }
            for r in dag.roots { Task { run(r) } }
        }
    }
}
