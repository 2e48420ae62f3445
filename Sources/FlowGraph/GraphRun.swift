/// The outcome of one run: typed values, node states, timings, the
/// critical path. `Sendable`: it only reads what the finished run left.
///
/// Values: a node's value is released once every node that reads it ran
/// (or was skipped), so `run[node]` gives the values of terminal nodes (no
/// reader) that succeeded, and nil for the others.
public struct GraphRun: Sendable {
    let execution: GraphExecution

    init(execution: GraphExecution) { self.execution = execution }

    private var plan: GraphPlan { execution.plan }

    /// The graph's name.
    public var graphName: String { plan.name }

    /// The value of `node`: present for a terminal node (one no node reads
    /// with `after:`) that succeeded, nil otherwise.
    public subscript<T>(node: Node<T>) -> T? {
        check(node)
        return execution.value(node.index, as: T.self)
    }

    /// What happened to `node`.
    public func state<T>(of node: Node<T>) -> NodeState {
        check(node)
        return NodeState(code: execution.states[node.index])
    }

    /// How long `node`'s body ran; nil when timings were not recorded or it did not run.
    public func duration<T>(of node: Node<T>) -> Duration? {
        check(node)
        return duration(node.index)
    }

    /// Wall time from the start of the run to the end of its last node.
    public var elapsed: Duration {
        let start = execution.startNanos.load(ordering: .relaxed), end = execution.endNanos.load(ordering: .relaxed)
        return .nanoseconds(Int64(end &- min(start, end)))
    }

    /// Every failure of the run, first one first.
    public var failures: [NodeFailure] { execution.failures.withLock { $0 } }

    /// One report per node, in index order.
    public var nodes: [NodeReport] {
        (0..<plan.nodeCount).map { i in
            let start = execution.times.flatMap { t -> Duration? in
                t[2 * i + 1] == 0 ? nil : .nanoseconds(Int64(t[2 * i] &- execution.startNanos.load(ordering: .relaxed)))
            }
            return NodeReport(name: plan.displayName(i), index: i, state: NodeState(code: execution.states[i]),
                              started: start, duration: duration(i))
        }
    }

    /// The longest path through the graph, weighted by node durations when
    /// timings were recorded, else by node count.
    public var criticalPath: CriticalPath {
        let n = plan.nodeCount
        var weight = [UInt64](repeating: 1, count: n)
        if let t = execution.times {
            for i in 0..<n { weight[i] = t[2 * i + 1] &- t[2 * i] }
        }
        var best = weight
        var parent = [Int](repeating: -1, count: n)
        let order = plan.topologicalOrder.map { $0.map(Int.init) } ?? Array(0..<n)
        for v in order {
            for k in Int(plan.succStart[v])..<Int(plan.succStart[v + 1]) {
                let s = Int(plan.succ[k])
                if best[v] &+ weight[s] > best[s] {
                    best[s] = best[v] &+ weight[s]
                    parent[s] = v
                }
            }
        }
        var end = 0
        for i in 0..<n where best[i] > best[end] { end = i }
        var path: [Int] = []
        var v = end
        while v >= 0 {
            path.append(v)
            v = parent[v]
        }
        path.reverse()
        return CriticalPath(nodes: path.map(plan.displayName), indices: path,
                            duration: execution.times == nil ? nil : .nanoseconds(Int64(best[end])))
    }

    /// The graph in Graphviz DOT, each node labelled with its duration
    /// when timings were recorded.
    public func dot() -> String { rendering.dot() }

    /// The graph as a Mermaid flowchart, with durations when recorded.
    public func mermaid() -> String { rendering.mermaid() }

    private var rendering: GraphRendering {
        GraphRendering(plan: plan, durations: (0..<plan.nodeCount).map(duration))
    }

    private func duration(_ i: Int) -> Duration? {
        guard let t = execution.times, t[2 * i + 1] != 0 else { return nil }
        return .nanoseconds(Int64(t[2 * i + 1] &- t[2 * i]))
    }

    private func check<T>(_ node: Node<T>) {
        precondition(node.graph == plan.graphID && node.index < plan.nodeCount,
                     "GraphRun: node #\(node.index) belongs to another graph than '\(plan.name)'")
    }
}

/// One node of a finished run.
public struct NodeReport: Sendable, Equatable {
    /// The node's name (`#index` when unnamed).
    public let name: String
    /// The node's index in its graph.
    public let index: Int
    /// What happened to it.
    public let state: NodeState
    /// When the body started, from the start of the run (with timings).
    public let started: Duration?
    /// How long the body ran (with timings).
    public let duration: Duration?
}

/// The longest dependency path of a run.
public struct CriticalPath: Sendable, Equatable {
    /// Node names, first to last.
    public let nodes: [String]
    /// Node indices, first to last.
    public let indices: [Int]
    /// The sum of their durations (nil without timings).
    public let duration: Duration?
}
