import FlowAtomics

/// The shape of a stage pipeline, for the constraint tools: named stages,
/// each with a way to read its ``StageStats``, and the directed edges
/// between them (optionally with a consumption ratio).
///
/// A topology does not own or start stages; it only describes them. Build it
/// with ``addStage(_:stats:)`` / ``addStage(_:_:)`` and ``addEdge(from:to:ratio:)``,
/// then ``freeze()`` it into a validated, immutable ``FrozenTopology`` that the
/// ``ConstraintAnalyzer``, ``RopeController`` and ``ConstraintReporter`` read.
///
/// ```swift
/// var topology = PipelineTopology()
/// topology.addStage("read", reader)
/// topology.addStage("parse", parser)
/// topology.addEdge(from: "read", to: "parse")
/// let frozen = try topology.freeze()
/// ```
///
/// Adding never fails: every mistake (an empty or duplicate name, an edge to
/// an unknown stage, a duplicate edge, a self-loop, a ratio below 1, a cycle)
/// is reported by ``freeze()`` as a ``FlowError`` that names it.
public struct PipelineTopology: Sendable {
    struct StageEntry: Sendable {
        let name: String
        let stats: @Sendable () -> StageStats
    }

    struct EdgeEntry: Sendable, Equatable {
        let from: String
        let to: String
        let ratio: Int
    }

    var stageEntries: [StageEntry] = []
    var edgeEntries: [EdgeEntry] = []

    /// An empty topology.
    public init() {}

    /// Registers a stage under `name`; `stats` is called (from the analysing
    /// task, at every interval) to read its counters. It must be quick and
    /// must not block. Names may not be empty or contain whitespace or `=`
    /// (they appear in the ``ConstraintReporter``'s key=value lines).
    public mutating func addStage(_ name: String, stats: @escaping @Sendable () -> StageStats) {
        stageEntries.append(StageEntry(name: name, stats: stats))
    }

    /// Registers a ``Stage`` under `name`, reading its ``Stage/stats``.
    public mutating func addStage<Input, Output>(_ name: String, _ stage: Stage<Input, Output>) {
        addStage(name, stats: { stage.stats })
    }

    /// Adds the edge `from → to`: `to` consumes what `from` produces.
    /// `ratio` is how many items of `from` make one item of `to` (the bill of
    /// materials at a join; 1 by default, must be ≥ 1).
    public mutating func addEdge(from: String, to: String, ratio: Int = 1) {
        edgeEntries.append(EdgeEntry(from: from, to: to, ratio: ratio))
    }

    /// Validates the topology and returns its immutable, queryable form.
    ///
    /// Throws ``FlowError/invalidArgument(parameter:value:reason:)`` for no
    /// stages, an empty or malformed name, a duplicate stage, an edge naming
    /// an unknown stage, a duplicate edge, a self-loop or a ratio below 1;
    /// and ``FlowError/cycle(_:)`` with the stage names on a cycle, in order.
    public func freeze() throws(FlowError) -> FrozenTopology {
        guard !stageEntries.isEmpty else {
            throw .invalid("stages", 0, "a topology needs at least one stage (call addStage first)")
        }
        var index: [String: Int] = [:]
        for (i, stage) in stageEntries.enumerated() {
            let name = stage.name
            if name.isEmpty { throw .invalid("name", "\"\"", "a stage name must not be empty") }
            if name.contains(where: { $0.isWhitespace || $0 == "=" }) {
                throw .invalid("name", "\"\(name)\"", "a stage name must not contain whitespace or '='")
            }
            if index[name] != nil { throw .invalid("name", name, "duplicate stage name") }
            index[name] = i
        }
        var predecessors = Array(repeating: [Int](), count: stageEntries.count)
        var successors = Array(repeating: [Int](), count: stageEntries.count)
        var ratios: [EdgeKey: Int] = [:]
        for edge in edgeEntries {
            let label = "\(edge.from) -> \(edge.to)"
            guard let from = index[edge.from] else {
                throw .invalid("from", edge.from, "unknown stage in edge \(label) (add the stage first)")
            }
            guard let to = index[edge.to] else {
                throw .invalid("to", edge.to, "unknown stage in edge \(label) (add the stage first)")
            }
            if from == to { throw .invalid("edge", label, "self-loop: a stage cannot feed itself") }
            if edge.ratio < 1 { throw .invalid("ratio", edge.ratio, "must be ≥ 1 (edge \(label))") }
            let key = EdgeKey(from: from, to: to)
            if ratios[key] != nil { throw .invalid("edge", label, "duplicate edge") }
            ratios[key] = edge.ratio
            predecessors[to].append(from)
            successors[from].append(to)
        }
        if let cycle = Self.findCycle(successors) {
            throw .cycle(cycle.map { stageEntries[$0].name })
        }
        return FrozenTopology(names: stageEntries.map(\.name), accessors: stageEntries.map(\.stats), index: index,
                              predecessors: predecessors, successors: successors, ratios: ratios)
    }

    /// A cycle as node indices in edge order (depth-first search, iterative), or nil.
    static func findCycle(_ successors: [[Int]]) -> [Int]? {
        enum Mark { case unvisited, onPath, done }
        var mark = Array(repeating: Mark.unvisited, count: successors.count)
        for root in successors.indices where mark[root] == .unvisited {
            // Each frame: a node and the position of its next successor to visit.
            var stack: [(node: Int, next: Int)] = [(root, 0)]
            mark[root] = .onPath
            while let top = stack.last {
                if top.next < successors[top.node].count {
                    stack[stack.count - 1].next += 1
                    let child = successors[top.node][top.next]
                    switch mark[child] {
                    case .unvisited:
                        mark[child] = .onPath
                        stack.append((child, 0))
                    case .onPath:
                        let path = stack.map(\.node)
                        return Array(path[path.firstIndex(of: child)!...])
                    case .done:
                        break
                    }
                } else {
                    mark[top.node] = .done
                    stack.removeLast()
                }
            }
        }
        return nil
    }
}

struct EdgeKey: Hashable, Sendable {
    let from: Int
    let to: Int
}

/// One incoming edge of a stage: the stage feeding it and the consumption
/// ratio (items of `from` per item produced by the receiving stage).
public struct IncomingEdge: Sendable, Equatable, CustomStringConvertible {
    /// The predecessor's name.
    public let from: String
    /// Items of `from` consumed per unit of output (≥ 1).
    public let ratio: Int

    /// An edge from `from` with `ratio`.
    public init(from: String, ratio: Int) {
        self.from = from
        self.ratio = ratio
    }

    public var description: String { ratio == 1 ? from : "\(from)×\(ratio)" }
}

/// A validated, immutable ``PipelineTopology``: an acyclic graph of named
/// stages. Safe to share between tasks.
///
/// Every query taking a stage name throws ``FlowError/invalidArgument(parameter:value:reason:)``
/// for a name that is not in the topology.
public struct FrozenTopology: Sendable {
    /// Stage names in registration order.
    public let stages: [String]
    let accessors: [@Sendable () -> StageStats]
    let index: [String: Int]
    let predecessorIndices: [[Int]]
    let successorIndices: [[Int]]
    let ratios: [EdgeKey: Int]

    init(names: [String], accessors: [@Sendable () -> StageStats], index: [String: Int],
         predecessors: [[Int]], successors: [[Int]], ratios: [EdgeKey: Int]) {
        stages = names
        self.accessors = accessors
        self.index = index
        predecessorIndices = predecessors
        successorIndices = successors
        self.ratios = ratios
    }

    /// Stages nothing feeds (the entry points), in registration order.
    public var heads: [String] {
        stages.indices.filter { predecessorIndices[$0].isEmpty }.map { stages[$0] }
    }

    /// Stages that feed nothing (the exits), in registration order.
    public var tails: [String] {
        stages.indices.filter { successorIndices[$0].isEmpty }.map { stages[$0] }
    }

    /// Whether `name` is a stage of this topology.
    public func contains(_ name: String) -> Bool { index[name] != nil }

    func position(_ name: String, _ parameter: String = "stage") throws(FlowError) -> Int {
        guard let i = index[name] else {
            throw .invalid(parameter, name, "unknown stage (known: \(stages.joined(separator: ", ")))")
        }
        return i
    }

    /// The stages that feed `name` directly, in the order their edges were added.
    public func predecessors(of name: String) throws(FlowError) -> [String] {
        try predecessorIndices[position(name)].map { stages[$0] }
    }

    /// The stages `name` feeds directly, in the order their edges were added.
    public func successors(of name: String) throws(FlowError) -> [String] {
        try successorIndices[position(name)].map { stages[$0] }
    }

    /// The incoming edges of `name`, with their consumption ratios.
    public func incoming(to name: String) throws(FlowError) -> [IncomingEdge] {
        let to = try position(name)
        return predecessorIndices[to].map { IncomingEdge(from: stages[$0], ratio: ratios[EdgeKey(from: $0, to: to)]!) }
    }

    /// The consumption ratio of the edge `from → to`; throws when there is no such edge.
    public func ratio(from: String, to: String) throws(FlowError) -> Int {
        let key = EdgeKey(from: try position(from, "from"), to: try position(to, "to"))
        guard let ratio = ratios[key] else { throw .invalid("edge", "\(from) -> \(to)", "no such edge") }
        return ratio
    }

    /// Every stage upstream of `name` (transitively), closest first
    /// (breadth-first; at equal distance, in edge order). Excludes `name`.
    public func ancestors(of name: String) throws(FlowError) -> [String] {
        let start = try position(name)
        var seen: Set<Int> = [start]
        var order: [Int] = []
        var frontier = [start]
        while !frontier.isEmpty {
            var next: [Int] = []
            for node in frontier {
                for p in predecessorIndices[node] where seen.insert(p).inserted {
                    order.append(p)
                    next.append(p)
                }
            }
            frontier = next
        }
        return order.map { stages[$0] }
    }

    /// The heads from which `target` can be reached, in registration order
    /// (`target` itself when it is a head).
    public func heads(feeding target: String) throws(FlowError) -> [String] {
        let t = try position(target, "target")
        var upstream = Set(try ancestors(of: target).map { index[$0]! })
        upstream.insert(t)
        return stages.indices.filter { upstream.contains($0) && predecessorIndices[$0].isEmpty }.map { stages[$0] }
    }

    /// Whether a directed path leads from `from` to `to` (a stage reaches itself).
    public func hasPath(from: String, to: String) throws(FlowError) -> Bool {
        let source = try position(from, "from")
        let target = try position(to, "to")
        if source == target { return true }
        var seen: Set<Int> = [source]
        var stack = [source]
        while let node = stack.popLast() {
            for s in successorIndices[node] {
                if s == target { return true }
                if seen.insert(s).inserted { stack.append(s) }
            }
        }
        return false
    }

    /// Reads the stats of `name` now.
    public func stats(of name: String) throws(FlowError) -> StageStats {
        try accessors[position(name)]()
    }

    /// Reads the stats of every stage now, in ``stages`` order.
    public func snapshot() -> [StageStats] { accessors.map { $0() } }
}
