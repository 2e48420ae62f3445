/// A validated, frozen `TaskGraph`: immutable and `Sendable`, so it can run
/// many times, from any thread, even concurrently. Each run starts from
/// fresh state (in-degrees, values, timings).
///
/// Make one with `TaskGraph.freeze()`; `TaskGraph.run(on:)` does it for you.
public final class GraphPlan: Sendable {

    /// The graph's name.
    public let name: String
    /// The number of nodes.
    public let nodeCount: Int
    let graphID: UInt64

    // Read by the scheduler on every node. Swift arrays shared with the
    // builder (copy-on-write: freezing copies nothing).
    let info: [NodeInfo]
    let preds: [Int32]          // data inputs, CSR by NodeInfo.predEnd
    let succStart: PlanTable<Int32>   // nodeCount + 1
    let succ: PlanTable<Int32>        // successors (data and order-only)
    let roots: PlanTable<Int32>   // nodes with no predecessor
    let stores: [BodyStore]     // snapshots: later builder changes do not reach a plan
    let sinkCount: Int
    /// Where node i's counters are in a run's counter buffer: its in-degree
    /// counter (only when it has more than one predecessor), then its
    /// readers counter (only when more than one node reads a value with
    /// something to release). Other nodes need none. `counterStart` holds
    /// the counters' initial values.
    let counterOf: PlanTable<Int32>
    let counterStart: PlanTable<Int32>

    let names: NodeNames
    let options: [Int32: NodeOptions]
    let destroyers: [Destroyer]
    let orderEdges: [OrderEdge]
    let slotBytes: Int
    let slotAlignment: Int
    /// A topological order, or nil when index order is one (no order-only
    /// edge points backwards).
    let topologicalOrder: [Int32]?

    init(_ graph: TaskGraph) throws(FlowError) {
        graph.countInputs()
        let n = graph.info.count
        name = graph.name
        nodeCount = n
        graphID = graph.id
        names = graph.names
        options = graph.options
        destroyers = graph.destroyers
        orderEdges = graph.orderEdges
        slotBytes = graph.slotBytes
        slotAlignment = graph.slotAlignment

        let info = graph.info
        self.info = info
        preds = graph.preds
        stores = graph.stores.map { $0.snapshot() }

        // One pass over the nodes: where each node's successors start (CSR:
        // data readers in node order, then order-only edges), sinks, and
        // which nodes need counters; a second fills the roots and the
        // counters' initial values into tables sized by the first (grown
        // arrays would cost a large malloc and free per plan).
        let succStart = PlanTable(repeating: Int32(0), count: n + 1)
        let counterOf = PlanTable(repeating: Int32(-1), count: n)
        // A node's successors: its data readers and its order-only edges,
        // counted here into succStart first.
        for edge in graph.orderEdges { succStart[Int(edge.from)] &+= 1 }
        var total: Int32 = 0
        var sinks = 0, rootCount = 0, counterCount: Int32 = 0
        for i in 0..<n {
            let node = info[i]
            let outDegree = node.readers &+ succStart[i]
            succStart[i] = total
            total &+= outDegree
            if node.inDegree == 0 { rootCount += 1 }
            if outDegree == 0 { sinks += 1 }
            let pending = node.inDegree > 1, shared = node.readers > 1 && node.destroyer >= 0
            if pending || shared {
                counterOf[i] = counterCount
                counterCount &+= (pending ? 1 : 0) &+ (shared ? 1 : 0)
            }
        }
        succStart[n] = total
        sinkCount = sinks
        let roots = PlanTable(repeating: Int32(0), count: rootCount)
        let counterStart = PlanTable(repeating: Int32(0), count: Int(counterCount))
        var r = 0, filled = 0
        for i in 0..<n where r < rootCount || filled < Int(counterCount) {   // a chain or a tree stops at its root
            let node = info[i]
            if node.inDegree == 0 { roots[r] = Int32(truncatingIfNeeded: i); r += 1 }
            var k = Int(counterOf[i])
            if k < 0 { continue }
            if node.inDegree > 1 { counterStart[k] = node.inDegree; k += 1; filled += 1 }
            if node.readers > 1 && node.destroyer >= 0 { counterStart[k] = node.readers; filled += 1 }
        }
        self.counterOf = counterOf
        self.counterStart = counterStart
        let succ = PlanTable(repeating: Int32(0), count: Int(total))
        let cursor = PlanTable(repeating: Int32(0), count: n + 1)
        cursor.base.update(from: succStart.base, count: n + 1)
        defer { cursor.free() }
        var start = 0
        for j in 0..<n {
            let end = Int(info[j].predEnd)
            for k in start..<end {
                let p = Int(preds[k])
                succ[Int(cursor[p])] = Int32(j)
                cursor[p] &+= 1
            }
            start = end
        }
        var backwards = false
        for edge in graph.orderEdges {
            succ[Int(cursor[Int(edge.from)])] = edge.to
            cursor[Int(edge.from)] &+= 1
            if edge.from >= edge.to { backwards = true }
        }
        self.roots = roots
        self.succStart = succStart
        self.succ = succ
        topologicalOrder = backwards
            ? try GraphPlan.topologicalSort(n: n, info: info, succStart: succStart, succ: succ,
                                            name: { graph.names[$0] })
            : nil
    }

    deinit {
        succStart.free()
        succ.free()
        counterOf.free()
        counterStart.free()
        roots.free()
    }

    /// The options node `index` was added with (`NodeOptions()` when none).
    public func options(ofNodeAt index: Int) -> NodeOptions {
        options[Int32(index)] ?? NodeOptions()
    }

    /// The name node `index` is shown with.
    func displayName(_ index: Int) -> String {
        names[index]
    }

    @inline(__always)
    func predRange(_ node: Int) -> Range<Int> {
        (node == 0 ? 0 : Int(info[node - 1].predEnd)) ..< Int(info[node].predEnd)
    }

    /// Kahn's algorithm; on a cycle, walks predecessors among the nodes
    /// left over until one repeats, and throws the cycle's names in order.
    static func topologicalSort(
        n: Int, info: [NodeInfo], succStart: PlanTable<Int32>, succ: PlanTable<Int32>, name: (Int) -> String
    ) throws(FlowError) -> [Int32] {
        var indegree = (0..<n).map { info[$0].inDegree }
        var order: [Int32] = []
        order.reserveCapacity(n)
        for i in 0..<n where indegree[i] == 0 { order.append(Int32(i)) }
        var head = 0
        while head < order.count {
            let v = Int(order[head])
            head += 1
            for k in Int(succStart[v])..<Int(succStart[v + 1]) {
                let s = Int(succ[k])
                indegree[s] -= 1
                if indegree[s] == 0 { order.append(Int32(s)) }
            }
        }
        if order.count == n { return order }
        // Every node left has a predecessor that is left too: walk back.
        var left = [[Int]](repeating: [], count: n)
        for v in 0..<n where indegree[v] > 0 {
            for k in Int(succStart[v])..<Int(succStart[v + 1]) where indegree[Int(succ[k])] > 0 {
                left[Int(succ[k])].append(v)
            }
        }
        var position = [Int](repeating: -1, count: n)
        var walk: [Int] = []
        var v = (0..<n).first { indegree[$0] > 0 }!
        while position[v] < 0 {
            position[v] = walk.count
            walk.append(v)
            v = left[v][0]
        }
        let cycle = walk[position[v]...].reversed().map(name)
        throw .cycle(Array(cycle))
    }
}
