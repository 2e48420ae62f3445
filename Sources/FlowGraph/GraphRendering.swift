/// Renders a graph's nodes and edges as Graphviz DOT or a Mermaid
/// flowchart. Data edges are solid, order-only edges dashed; a token node
/// is labelled `name ×count`.
struct GraphRendering {
    let name: String
    let labels: [String]
    let dataEdges: [(Int, Int)]
    let orderEdges: [(Int, Int)]

    init(name: String, names: NodeNames, info: some RandomAccessCollection<NodeInfo>, stores: [BodyStore],
         preds: some RandomAccessCollection<Int32>, orderEdges: [OrderEdge], durations: [Duration?]) {
        self.name = name
        var labels: [String] = []
        var data: [(Int, Int)] = []
        var start = 0
        for (j, node) in info.enumerated() {
            var label = names[j]
            if node.flags & NodeInfo.isExtended != 0, let extended = stores[Int(node.store)] as? ExtendedBodies,
               let count = extended.nodes[Int(node.position)].tokenCount {
                label += " ×\(count)"
            }
            if j < durations.count, let d = durations[j] { label += " (\(GraphRendering.format(d)))" }
            labels.append(label)
            let end = Int(node.predEnd)
            for k in start..<end { data.append((Int(preds[preds.index(preds.startIndex, offsetBy: k)]), j)) }
            start = end
        }
        self.labels = labels
        dataEdges = data
        self.orderEdges = orderEdges.map { (Int($0.from), Int($0.to)) }
    }

    init(plan: GraphPlan, durations: [Duration?]) {
        self.init(name: plan.name, names: plan.names, info: plan.info, stores: plan.stores,
                  preds: plan.preds, orderEdges: plan.orderEdges, durations: durations)
    }

    func dot() -> String {
        var out = "digraph \(GraphRendering.quoted(name)) {\n"
        for (i, label) in labels.enumerated() { out += "  n\(i) [label=\(GraphRendering.quoted(label))];\n" }
        for (a, b) in dataEdges { out += "  n\(a) -> n\(b);\n" }
        for (a, b) in orderEdges { out += "  n\(a) -> n\(b) [style=dashed];\n" }
        return out + "}\n"
    }

    func mermaid() -> String {
        var out = "flowchart TD\n"
        for (i, label) in labels.enumerated() {
            let text = label.replacingAll("\"", with: "#quot;")
            out += "  n\(i)[\"\(text)\"]\n"
        }
        for (a, b) in dataEdges { out += "  n\(a) --> n\(b)\n" }
        for (a, b) in orderEdges { out += "  n\(a) -.-> n\(b)\n" }
        return out
    }

    static func quoted(_ text: String) -> String {
        "\"" + text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"") + "\""
    }

    /// A short duration: 512ns, 3.2µs, 14.1ms, 2.5s.
    static func format(_ d: Duration) -> String {
        let (seconds, attos) = d.components
        let ns = Double(seconds) * 1e9 + Double(attos) / 1e9
        func one(_ x: Double) -> String {
            let tenths = Int((x * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        if ns < 1_000 { return "\(Int(ns))ns" }
        if ns < 1_000_000 { return one(ns / 1e3) + "µs" }
        if ns < 1_000_000_000 { return one(ns / 1e6) + "ms" }
        return one(ns / 1e9) + "s"
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

extension TaskGraph {
    /// The graph in Graphviz DOT (`dot -Tsvg`): one box per node, data
    /// edges solid, order-only edges dashed. Works on graphs that do not
    /// validate, so a cycle can be looked at. `GraphRun.dot()` adds durations.
    public func dot() -> String { rendering.dot() }

    /// The graph as a Mermaid flowchart (renders in GitHub Markdown).
    public func mermaid() -> String { rendering.mermaid() }

    private var rendering: GraphRendering {
        GraphRendering(name: name, names: names, info: info, stores: stores, preds: preds,
                       orderEdges: orderEdges, durations: [])
    }
}
