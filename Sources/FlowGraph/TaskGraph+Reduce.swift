extension TaskGraph {
    /// Reduces `inputs` with a tree of nodes, each combining at most
    /// `splitEvery` values: with 8 inputs and `splitEvery: 2`, 4 + 2 + 1
    /// nodes. `body` must be associative (the tree regroups, never
    /// reorders: values reach it in input order).
    ///
    /// ```swift
    /// let sums = graph.parallel(1000) { i in i * i }
    /// let total = graph.reduce(sums, splitEvery: 10, name: "sum") { $0.reduce(0, +) }
    /// ```
    ///
    /// The last node is named `name`; inner levels are `name.0[i]`,
    /// `name.1[i]`, … A `splitEvery` below 2 is reported by `validate()`.
    /// With no inputs, one node runs `body([])`.
    @discardableResult @inlinable
    public func reduce<Value: Sendable>(
        _ inputs: [Node<Value>],
        splitEvery: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable ([Value]) throws -> Value
    ) -> Node<Value> {
        addReduce(inputs, splitEvery: splitEvery, name: name, options: options,
                  store: FanInBodies(invoke: FanInBodies.invoke(body)))
    }

    @usableFromInline
    func addReduce<Value: Sendable>(
        _ inputs: [Node<Value>], splitEvery: Int, name: String?, options: NodeOptions, store: FanInBodies
    ) -> Node<Value> {
        var k = splitEvery
        if k < 2 {
            problem(.invalid("splitEvery", splitEvery, "of reduce '\(name ?? "unnamed")' must be at least 2"))
            k = 2
        }
        let store = addFanInStore(store)
        var level = inputs
        var depth = 0
        while level.count > k {
            let nameOf = family(name.map { "\($0).\(depth)" })
            var next: [Node<Value>] = []
            next.reserveCapacity((level.count + k - 1) / k)
            for (i, lo) in stride(from: 0, to: level.count, by: k).enumerated() {
                next.append(addFanIn(level[lo..<min(lo + k, level.count)], name: nameOf(i), options: options, output: Value.self, store: store))
            }
            level = next
            depth += 1
        }
        return addFanIn(level[...], name: name.map(NodeName.named) ?? .anonymous, options: options, output: Value.self, store: store)
    }
}
