extension TaskGraph {
    /// Adds `count` independent nodes; node `i` runs `body(i)`. Named
    /// `name[i]` when `name` is given.
    ///
    /// ```swift
    /// let parts = graph.parallel(files.count, name: "parse") { i in parse(files[i]) }
    /// ```
    public func parallel<Output: Sendable>(
        _ count: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Int) throws -> Output
    ) -> [Node<Output>] {
        guard count >= 0 else {
            problem(.invalid("count", count, "of parallel(_:name:) '\(name ?? "unnamed")' must be at least 0"))
            return []
        }
        let nameOf = family(name)
        reserveCapacity(nodes: count)
        var nodes: [Node<Output>] = []
        nodes.reserveCapacity(count)
        let store = addStore(ParallelBodies(body))
        for i in 0..<count {
            nodes.append(addNode(nameOf(i), options: options, output: Output.self,
                                 store: store, position: Int32(truncatingIfNeeded: i)))
        }
        return nodes
    }

    /// Adds `count` nodes after `source`; node `i` runs `body(value, i)`
    /// with `source`'s value (1 → N). Named `name[i]` when `name` is given.
    public func fanOut<Input: Sendable, Output: Sendable>(
        from source: Node<Input>,
        count: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Input, Int) throws -> Output
    ) -> [Node<Output>] {
        check(source, "fanOut(from:count:)")
        guard count >= 0 else {
            problem(.invalid("count", count, "of fanOut(from:count:) '\(name ?? "unnamed")' must be at least 0"))
            return []
        }
        let nameOf = family(name)
        reserveCapacity(nodes: count, inputs: count)
        var nodes: [Node<Output>] = []
        nodes.reserveCapacity(count)
        let store = addStore(FanOutBodies(body))
        for i in 0..<count {
            recordInput(source)
            nodes.append(addNode(nameOf(i), options: options, output: Output.self,
                                 store: store, position: Int32(truncatingIfNeeded: i)))
        }
        return nodes
    }

    /// Adds one node after all of `inputs`; its body gets their values in
    /// the order of `inputs` (N → 1).
    @discardableResult
    public func fanIn<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>],
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable ([Input]) throws -> Output
    ) -> Node<Output> {
        addFanIn(inputs[...], name: name.map(NodeName.named) ?? .anonymous, options: options, body: body)
    }

    /// Adds one node per input, each after its input (1 → 1), in the order
    /// of `inputs`. Named `name[i]` when `name` is given.
    public func map<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>],
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Input) throws -> Output
    ) -> [Node<Output>] {
        let nameOf = family(name)
        reserveCapacity(nodes: inputs.count, inputs: inputs.count)
        var nodes: [Node<Output>] = []
        nodes.reserveCapacity(inputs.count)
        let store = addStore(MapBodies(body))
        for (i, input) in inputs.enumerated() {
            recordInput(input)
            nodes.append(addNode(nameOf(i), options: options, output: Output.self,
                                 store: store, position: Int32(truncatingIfNeeded: i)))
        }
        return nodes
    }

    func addFanIn<Input: Sendable, Output: Sendable>(
        _ inputs: ArraySlice<Node<Input>>,
        name: NodeName,
        options: NodeOptions,
        body: @escaping @Sendable ([Input]) throws -> Output
    ) -> Node<Output> {
        TaskGraph.reserve(&preds, inputs.count)
        for input in inputs { recordInput(input) }
        let index = nodeCount
        let inputs = Array(inputs)
        return addNode(name, options: options, output: Output.self, body: .sync { run in
            var values: [Input] = []
            values.reserveCapacity(inputs.count)
            for input in inputs { values.append(run.take(input)) }
            run.put(try body(values), at: index)
        })
    }
}
