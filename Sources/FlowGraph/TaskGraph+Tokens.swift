extension TaskGraph {
    /// Adds a token node: one node whose body runs `count` times ("tokens"),
    /// each with its token (0..<count) and the values of `inputs`; the node's
    /// value is the outputs in token order.
    ///
    /// ```swift
    /// let images = graph.task("list") { loadImageList() }
    /// let thumbnails = graph.task("resize", runs: 64, after: images, options: .init(maxConcurrency: 4)) { token, images in
    ///     resize(images[token])
    /// }
    /// ```
    ///
    /// - Successors run after every token finished.
    /// - `NodeOptions.maxConcurrency`: at most that many tokens run at once
    ///   (default: as many as the executor has workers). The tokens are
    ///   spread over the workers by runners that claim them from a shared
    ///   counter: no Swift task and no allocation per token.
    /// - A token that throws fails the node (a `NodeFailure` per failing
    ///   token, its error as thrown); under `.failFast` the tokens not
    ///   started yet do not run, under `.continue` they still do. Cancelling
    ///   the run stops the tokens not started; the node is then `.cancelled`.
    /// - `timeout` counts from the first token to the last.
    /// - `count` below 0 is reported by `validate()`; 0 gives `[]`.
    ///
    /// Renderings show the node as `name ×count`. For a different body per
    /// item with a node each (own state, timings, successors), use
    /// `parallel`; a token node is one node, with one state and one timing.
    @discardableResult
    public func task<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        runs count: Int,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ token: Int, repeat each Input) throws -> Output
    ) -> Node<[Output]> {
        for input in repeat each inputs { recordInput(input) }
        return addTokens(name, count, options) { run, t0 in
            let values = (repeat run.take(each inputs))
            return TypedTokenBatch(count: count, t0: t0, body: .sync { token in try body(token, repeat each values) })
        }
    }

    /// `task(_:runs:after:options:body:)` with an `async` body: the tokens
    /// run in Swift tasks on the executor (at most `maxConcurrency` tasks,
    /// each running tokens in turn; with no limit, one per token), and the
    /// node's timeout (or the run's `asyncTimeout`) cancels them at the
    /// deadline.
    @discardableResult
    public func task<each Input: Sendable, Output: Sendable>(
        _ name: String? = nil,
        runs count: Int,
        after inputs: repeat Node<each Input>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ token: Int, repeat each Input) async throws -> Output
    ) -> Node<[Output]> {
        for input in repeat each inputs { recordInput(input) }
        return addTokens(name, count, options) { run, t0 in
            let values = (repeat run.take(each inputs))
            return TypedTokenBatch(count: count, t0: t0, body: .async { token in try await body(token, repeat each values) })
        }
    }

    // Fixed-arity forms of the synchronous token `task`, as for `task`.

    /// `task(_:runs:after:options:body:)` with no inputs.
    @discardableResult
    public func task<Output: Sendable>(
        _ name: String? = nil,
        runs count: Int,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ token: Int) throws -> Output
    ) -> Node<[Output]> {
        addTokens(name, count, options) { _, t0 in
            TypedTokenBatch(count: count, t0: t0, body: .sync(body))
        }
    }

    /// `task(_:runs:after:options:body:)` with one input.
    @discardableResult
    public func task<A: Sendable, Output: Sendable>(
        _ name: String? = nil,
        runs count: Int,
        after a: Node<A>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ token: Int, A) throws -> Output
    ) -> Node<[Output]> {
        recordInput(a)
        return addTokens(name, count, options) { run, t0 in
            let x = run.take(a)
            return TypedTokenBatch(count: count, t0: t0, body: .sync { token in try body(token, x) })
        }
    }

    /// `task(_:runs:after:options:body:)` with two inputs.
    @discardableResult
    public func task<A: Sendable, B: Sendable, Output: Sendable>(
        _ name: String? = nil,
        runs count: Int,
        after a: Node<A>, _ b: Node<B>,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ token: Int, A, B) throws -> Output
    ) -> Node<[Output]> {
        recordInput(a)
        recordInput(b)
        return addTokens(name, count, options) { run, t0 in
            let x = run.take(a), y = run.take(b)
            return TypedTokenBatch(count: count, t0: t0, body: .sync { token in try body(token, x, y) })
        }
    }

    private func addTokens<Output: Sendable>(
        _ name: String?, _ count: Int, _ options: NodeOptions,
        make: @escaping @Sendable (GraphExecution, UInt64) -> TypedTokenBatch<Output>
    ) -> Node<[Output]> {
        let nodeName = name.map(NodeName.named) ?? .anonymous
        if count < 0 {
            let shown = names.display(nodeName, index: nodeCount)
            problem(.invalid("runs", count, "of node '\(shown)' must be at least 0"))
        }
        let tokens = max(0, count)
        return addExtended(nodeName, options: options, output: [Output].self,
                           ExtendedNode(.tokens(count: tokens, make: make), options: options))
    }
}
