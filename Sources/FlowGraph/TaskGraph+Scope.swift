extension TaskGraph {
    /// Adds a node whose body also gets a `Scope` for spawning sub-work;
    /// the node finishes only when every child it spawned has ended.
    ///
    /// ```swift
    /// let found = Collector()
    /// let crawl = graph.scopedTask("crawl", after: urls) { scope, urls in
    ///     for url in urls { scope.spawn { found.add(try await fetch(url)) } }
    ///     return urls.count
    /// }
    /// let report = graph.task("report", after: crawl) { n in "\(n) pages, \(found.count) found" }
    /// ```
    ///
    /// - The children run on the run's executor. The node's successors
    ///   start after the body returned **and** every child ended, so they
    ///   see all the children's effects.
    /// - A child that throws cancels the other children and fails the node
    ///   with that error, under its name, like a body error (under either
    ///   `ErrorPolicy`); `CancellationError`s are how cancelled children end
    ///   and are not failures.
    /// - Cancelling the run (its caller, or fail-fast after a failure
    ///   elsewhere) cancels the children; the node is then `.cancelled`.
    /// - `NodeOptions.maxConcurrency` bounds how many children run at once.
    /// - A synchronous body runs like any node, on a worker with no Swift
    ///   task; if it returns while children still run, the node finishes
    ///   when the last one ends (that child hands the successors to a job).
    ///   It cannot await its children: do not block on them either (they
    ///   may need the worker it holds). `timeout` fails the node when body
    ///   and children end late; an `async` body is cancelled at the deadline.
    ///
    /// Why a name of its own rather than a `task` overload: `task` already
    /// has synchronous and `async` forms, each with a parameter pack and
    /// fixed arities; a form whose body takes the scope first would make
    /// `{ a, b in }` mean "two inputs" or "a scope and one input" by arity
    /// alone, so the type checker would weigh every form against every
    /// closure, and a mistake would produce an error about the wrong
    /// overload. `scopedTask` says at the call site that the node has
    /// children, and its closures infer the same way `task`'s do. Only
    /// nodes made with it pay for a scope.
    @discardableResult
    public func scopedTask<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Scope, repeat each Input) throws -> Output
    ) -> Node<Output> {
        for input in repeat each inputs { recordInput(input) }
        let index = nodeCount
        return addScoped(name, options, Output.self, .scoped { run, scope in
            let value = try body(scope, repeat run.take(each inputs))
            run.put(value, at: index)
        })
    }

    /// `scopedTask(_:after:options:body:)` with an `async` body: it runs
    /// as a Swift task on the executor and may await its children
    /// (`try await handle.value`); the node still ends only once every
    /// child ended.
    @discardableResult
    public func scopedTask<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Scope, repeat each Input) async throws -> Output
    ) -> Node<Output> {
        for input in repeat each inputs { recordInput(input) }
        let index = nodeCount
        return addScoped(name, options, Output.self, .scopedAsync { run, scope in
            let value = try await body(scope, repeat run.take(each inputs))
            run.put(value, at: index)
        })
    }

    // Fixed-arity forms of the synchronous `scopedTask`, as for `task`:
    // preferred to the pack form, without pack metadata at run time.

    /// `scopedTask(_:after:options:body:)` with no inputs.
    @discardableResult
    public func scopedTask<Output: Sendable>(
        _ name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Scope) throws -> Output
    ) -> Node<Output> {
        let index = nodeCount
        return addScoped(name, options, Output.self, .scoped { run, scope in
            run.put(try body(scope), at: index)
        })
    }

    /// `scopedTask(_:after:options:body:)` with one input.
    @discardableResult
    public func scopedTask<A: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after a: Node<A>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Scope, A) throws -> Output
    ) -> Node<Output> {
        recordInput(a)
        let index = nodeCount
        return addScoped(name, options, Output.self, .scoped { run, scope in
            run.put(try body(scope, run.take(a)), at: index)
        })
    }

    /// `scopedTask(_:after:options:body:)` with two inputs.
    @discardableResult
    public func scopedTask<A: Sendable, B: Sendable, Output: Sendable>(
        _ name: String? = nil,
        after a: Node<A>, _ b: Node<B>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (Scope, A, B) throws -> Output
    ) -> Node<Output> {
        recordInput(a)
        recordInput(b)
        let index = nodeCount
        return addScoped(name, options, Output.self, .scoped { run, scope in
            let x = run.take(a)
            run.put(try body(scope, x, run.take(b)), at: index)
        })
    }

    private func addScoped<Output: Sendable>(
        _ name: String?, _ options: NodeOptions, _ output: Output.Type, _ kind: ExtendedNode.Kind
    ) -> Node<Output> {
        addExtended(name.map(NodeName.named) ?? .anonymous, options: options, output: output,
                    ExtendedNode(kind, options: options))
    }
}
