extension TaskGraph {
    /// Adds a node that runs `body` after `inputs`, with their values.
    ///
    /// ```swift
    /// let a = graph.task("a") { 20 }
    /// let b = graph.task("b") { "x" }
    /// let c = graph.task("c", after: a, b) { (n: Int, s: String) in String(repeating: s, count: n) }
    /// ```
    ///
    /// The body is synchronous: it runs on an executor worker with no Swift
    /// task, often on the thread that finished its last input. It may throw
    /// (see `ErrorPolicy`). Listing a node twice passes its value twice.
    @discardableResult
    public func task<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (repeat each Input) throws -> Output
    ) -> Node<Output> {
        for input in repeat each inputs { recordInput(input) }
        let index = nodeCount
        return addNode(name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self, body: .sync { run in
            let value = try body(repeat run.take(each inputs))
            run.put(value, at: index)
        })
    }

    /// Adds a node whose body is `async`: it runs as a Swift task that
    /// prefers the executor (`Task(executorPreference:)`), so it may await;
    /// `options.timeout` cancels it at the deadline.
    @discardableResult
    public func task<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (repeat each Input) async throws -> Output
    ) -> Node<Output> {
        for input in repeat each inputs { recordInput(input) }
        let index = nodeCount
        return addNode(name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self, body: .async { run in
            let value = try await body(repeat run.take(each inputs))
            run.put(value, at: index)
        })
    }

    // Fixed-arity forms of the synchronous `task`: Swift prefers them to
    // the parameter-pack form, and they avoid the run-time metadata of
    // packs on the per-node path and the wrapper closure per node (their
    // bodies go to typed stores, BodyStores.swift). They behave exactly
    // like it.

    /// `task(_:after:options:body:)` with no inputs.
    @discardableResult @inlinable
    public func task<Output: Sendable>(
        _ name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: consuming @escaping @Sendable () throws -> Output
    ) -> Node<Output> {
        let (store, index) = store(Bodies0<Output>.self) { Bodies0(invoke: Bodies0<Output>.typedInvoke, bodies: Bodies0<Output>.typedList()) }
        let position = Bodies0<Output>.append(body, to: store)
        if name == nil && options.isDefault { return addPlainNode(output: Output.self, store: index, position: position) }
        return addNode(name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self,
                       store: index, position: position)
    }

    /// `task(_:after:options:body:)` with one input.
    @discardableResult @inlinable
    public func task<A: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after a: Node<A>,
        options: NodeOptions = NodeOptions(),
        body: consuming @escaping @Sendable (A) throws -> Output
    ) -> Node<Output> {
        recordInput(a)
        let (store, index) = store(Bodies1<A, Output>.self) { Bodies1(invoke: Bodies1<A, Output>.typedInvoke, bodies: Bodies1<A, Output>.typedList()) }
        let position = Bodies1<A, Output>.append(body, to: store)
        if name == nil && options.isDefault { return addPlainNode(output: Output.self, store: index, position: position) }
        return addNode(name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self,
                       store: index, position: position)
    }

    /// `task(_:after:options:body:)` with two inputs.
    @discardableResult @inlinable
    public func task<A: Sendable, B: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after a: Node<A>, _ b: Node<B>,
        options: NodeOptions = NodeOptions(),
        body: consuming @escaping @Sendable (A, B) throws -> Output
    ) -> Node<Output> {
        recordInput(a)
        recordInput(b)
        let (store, index) = store(Bodies2<A, B, Output>.self) { Bodies2(invoke: Bodies2<A, B, Output>.typedInvoke, bodies: Bodies2<A, B, Output>.typedList()) }
        let position = Bodies2<A, B, Output>.append(body, to: store)
        if name == nil && options.isDefault { return addPlainNode(output: Output.self, store: index, position: position) }
        return addNode(name.map(NodeName.named) ?? .anonymous, options: options, output: Output.self,
                       store: index, position: position)
    }
}
