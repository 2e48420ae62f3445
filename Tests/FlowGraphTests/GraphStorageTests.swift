@testable import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

// Graphs hand their large buffers to the next graph (GraphStorage.swift).
// A buffer must never be shared by two live owners: a plan that outlives
// its builder keeps its tables while new graphs reuse storage, and graphs
// built and run on many threads at once never see each other's values.
@Suite("Graph storage reuse", .serialized, .timeLimit(.minutes(2)))
struct GraphStorageTests {
    /// A chain of `length` Int nodes, node i = node i-1 + step; returns the graph and its last node.
    static func chain(_ length: Int, step: Int) -> (TaskGraph, Node<Int>) {
        let graph = TaskGraph("chain")
        graph.reserveCapacity(nodes: length, inputs: length)
        var last = graph.task { 0 }
        for _ in 1..<length { last = graph.task(after: last) { $0 + step } }
        return (graph, last)
    }

    @Test func aPlanKeepsItsTablesWhileLaterGraphsReuseStorage() async throws {
        let executor = try Executor(workers: 2, name: "g-storage")
        let length = 20_000   // tables well over GraphStorage's 64 KiB minimum
        var plan: GraphPlan?
        var last: Node<Int>?
        do {
            let (graph, end) = Self.chain(length, step: 1)
            plan = try graph.freeze()
            last = end
        }   // the builder is gone: its tables are offered to the next graphs
        for round in 0..<4 {
            let (graph, end) = Self.chain(length, step: 3 + round)
            let run = try await graph.run(on: executor)
            #expect(run[end] == (length - 1) * (3 + round))
            // The plan whose builder is gone still computes its own values.
            let again = try await plan!.run(on: executor)
            #expect(again[last!] == length - 1)
        }
        await executor.shutdown()
    }

    @Test func graphsBuiltAndRunOnManyThreadsNeverShareBuffers() throws {
        let executor = try Executor(workers: 2, name: "g-storage-stress")
        let rounds = StressScale.scaled(24, minimum: 3)
        let wrong = Atomic<Int>(0)
        try Stress.run(threads: 4, timeout: .seconds(90)) { thread in
            for round in 0..<rounds {
                // Sizes from below to well above the 64 KiB minimum, so
                // buffers of every size change hands between threads.
                let length = [500, 3_000, 9_000, 17_000][(thread + round) % 4]
                let step = thread * 1_000 + round + 1
                let (graph, end) = Self.chain(length, step: step)
                do {
                    let run = try graph.freeze().runBlocking(on: executor)
                    if run[end] != (length - 1) * step { wrong.wrappingAdd(1, ordering: .relaxed) }
                } catch {
                    wrong.wrappingAdd(1, ordering: .relaxed)
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
        executor.shutdown()
    }

    /// A plain-value array kept by the cache (of a type only this test uses).
    struct Pair { var a = 0, b = 0 }

    /// Makes an array of `count` pairs, hands it to the cache and returns
    /// its storage's address; no reference to it is left outside the cache.
    static func recycledPairs(_ count: Int) -> UInt {
        let pairs = [Pair](repeating: Pair(a: 1, b: 2), count: count)
        let address = pairs.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        GraphStorage.recycle(pairs)
        return address
    }

    /// The cache gives back the same storage, not a copy: a kept array is
    /// reused in place (its pages already faulted in). A copy (the cache's
    /// own reference still held while the array is emptied) would defeat
    /// the cache for every array it keeps.
    @Test func aKeptArrayIsReusedInPlace() {
        let address = Self.recycledPairs(100_000)   // 1.6 MB: kept
        let reused = GraphStorage.array(of: Pair.self, minimumCapacity: 50_000)
        #expect(reused != nil)
        #expect(reused?.isEmpty == true && (reused?.capacity ?? 0) >= 100_000)
        #expect(reused?.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } == address)
        #expect(GraphStorage.array(of: Pair.self, minimumCapacity: 50_000) == nil)   // taken: nothing left
    }

    /// The node record the scheduler reads per node stays at 28 bytes
    /// (no out-degree, a 16-bit destroyer index); order-only edges are
    /// still counted as successors when the graph is frozen.
    @Test func nodeRecordsStaySmallAndOrderEdgesAreCounted() async throws {
        #expect(MemoryLayout<NodeInfo>.stride == 28)
        let executor = try Executor(workers: 2, name: "g-storage-order")
        let graph = TaskGraph("order")
        let a = graph.task("a") { 1 }
        let b = graph.task("b") { 2 }
        let c = graph.task("c", after: a) { $0 + 1 }
        graph.order(b, before: c)   // b has no data reader: without the edge it would be a sink
        graph.order(c, before: a)   // a cycle through an order-only edge
        #expect(throws: FlowError.self) { try graph.validate() }
        let ok = TaskGraph("order-ok")
        let x = ok.task("x") { 1 }
        let y = ok.task("y") { 2 }
        let z = ok.task("z", after: x) { $0 + 10 }
        ok.order(y, before: z)
        let plan = try ok.freeze()
        #expect(plan.sinkCount == 1)   // only z: x and y have successors
        let run = try await plan.run(on: executor)
        #expect(run[z] == 11)
        await executor.shutdown()
    }

    @Test func aLimitOfZeroKeepsNothingAndANegativeLimitIsRefused() async throws {
        let saved = TaskGraph.storageCacheLimit
        defer { try? TaskGraph.setStorageCacheLimit(bytes: saved) }
        try TaskGraph.setStorageCacheLimit(bytes: 0)
        #expect(TaskGraph.storageCacheLimit == 0)
        #expect(TaskGraph.cachedStorageBytes == 0)
        let executor = try Executor(workers: 2, name: "g-storage-zero")
        do {
            let (graph, end) = Self.chain(20_000, step: 2)
            let run = try await graph.run(on: executor)
            #expect(run[end] == 19_999 * 2)
        }
        #expect(TaskGraph.cachedStorageBytes == 0)
        #expect(throws: FlowError.invalidArgument(parameter: "bytes", value: "-1",
                                                   reason: "the storage cache limit must be >= 0")) {
            try TaskGraph.setStorageCacheLimit(bytes: -1)
        }
        await executor.shutdown()
    }
}
