extension TaskGraph {
    /// Adds `count` independent nodes; node `i` runs `body(i)`. Named
    /// `name[i]` when `name` is given.
    ///
    /// ```swift
    /// let parts = graph.parallel(files.count, name: "parse") { i in parse(files[i]) }
    /// ```
    @inlinable
    public func parallel<Output: Sendable>(
        _ count: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Int) throws -> Output
    ) -> [Node<Output>] {
        addParallel(count, name: name, options: options, output: Output.self,
                    store: ParallelBodies(invoke: ParallelBodies.invoke(body)))
    }

    @usableFromInline
    func addParallel<Output: Sendable>(
        _ count: Int, name: String?, options: NodeOptions, output: Output.Type, store: ParallelBodies
    ) -> [Node<Output>] {
        guard count >= 0 else {
            problem(.invalid("count", count, "of parallel(_:name:) '\(name ?? "unnamed")' must be at least 0"))
            return []
        }
        let first = addFamily(count, name: name, options: options, output: Output.self,
                              store: addStore(store), input: .none)
        return nodes(first: first, count: count, output: Output.self)
    }

    /// Adds `count` nodes after `source`; node `i` runs `body(value, i)`
    /// with `source`'s value (1 → N). Named `name[i]` when `name` is given.
    @inlinable
    public func fanOut<Input: Sendable, Output: Sendable>(
        from source: Node<Input>,
        count: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Input, Int) throws -> Output
    ) -> [Node<Output>] {
        addFanOut(from: source, count: count, name: name, options: options, output: Output.self,
                  store: FanOutBodies(invoke: FanOutBodies.invoke(body)))
    }

    @usableFromInline
    func addFanOut<Input: Sendable, Output: Sendable>(
        from source: Node<Input>, count: Int, name: String?, options: NodeOptions, output: Output.Type,
        store: FanOutBodies
    ) -> [Node<Output>] {
        check(source, "fanOut(from:count:)")
        guard count >= 0 else {
            problem(.invalid("count", count, "of fanOut(from:count:) '\(name ?? "unnamed")' must be at least 0"))
            return []
        }
        let source = source.index
        let first = addFamily(count, name: name, options: options, output: Output.self,
                              store: addStore(store), input: .same(source))
        return nodes(first: first, count: count, output: Output.self)
    }

    /// Adds one node after all of `inputs`; its body gets their values in
    /// the order of `inputs` (N → 1).
    @discardableResult @inlinable
    public func fanIn<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>],
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable ([Input]) throws -> Output
    ) -> Node<Output> {
        addFanIn(inputs, name: name, options: options, output: Output.self,
                 store: FanInBodies(invoke: FanInBodies.invoke(body)))
    }

    @usableFromInline
    func addFanIn<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>], name: String?, options: NodeOptions, output: Output.Type, store: FanInBodies
    ) -> Node<Output> {
        addFanIn(inputs[...], name: name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self,
                 store: addFanInStore(store))
    }

    /// Adds one node per input, each after its input (1 → 1), in the order
    /// of `inputs`. Named `name[i]` when `name` is given.
    @inlinable
    public func map<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>],
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Input) throws -> Output
    ) -> [Node<Output>] {
        addMap(inputs, name: name, options: options, output: Output.self, store: MapBodies(invoke: MapBodies.invoke(body)))
    }

    @usableFromInline
    func addMap<Input: Sendable, Output: Sendable>(
        _ inputs: [Node<Input>], name: String?, options: NodeOptions, output: Output.Type, store: MapBodies
    ) -> [Node<Output>] {
        for input in inputs { check(input, "map") }
        let first = addFamily(inputs.count, name: name, options: options, output: Output.self,
                              store: addStore(store), input: .each { inputs[$0].index })
        return nodes(first: first, count: inputs.count, output: Output.self)
    }

    /// A fan-in node running `store`'s body (`reduce` shares one store
    /// among all its nodes).
    func addFanIn<Input: Sendable, Output: Sendable>(
        _ inputs: ArraySlice<Node<Input>>, name: NodeName, options: NodeOptions, output: Output.Type, store: FanInBodies
    ) -> Node<Output> {
        TaskGraph.reserve(&preds, inputs.count)
        inputs.withUnsafeBufferPointer { inputs in
            // By index: a generic buffer iterator looks up metadata per element.
            guard let base = inputs.baseAddress else { return }
            for k in 0..<inputs.count {
                let input = base[k]
                precondition(input.graph == id && input.index < info.count,
                             "TaskGraph.fanIn: node #\(input.index) belongs to another graph than '\(name)'")
                recordInput(at: input.index)
            }
        }
        return addNode(name, options: options, output: Output.self, store: store.index, position: 0)
    }
}
