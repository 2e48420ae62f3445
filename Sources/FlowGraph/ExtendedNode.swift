// Nodes that do not fit the one-call path of GraphExecution.execute:
// scoped nodes (a body with a `Scope`: the node ends when its children
// ended) and token nodes (a body run `count` times). Their bodies live in
// one `ExtendedBodies` store per graph (BodyStores.swift) and they carry
// `NodeInfo.isExtended` and `isAsync`: the chain loop's one test that
// sends async nodes off the fast path sends them to `launchAsync`, which
// hands them here (`launchExtended`). The scheduler looks at them nowhere
// else, so plain nodes pay nothing for them — not even in code layout:
// see `launchExtended` and `continueAfterExtended` for what changed the
// compiled chain loop, measured, and was avoided.
//
// Whoever finishes such a node — the starting thread (a scoped node whose
// children are done, a token node whose last runner it was), the job
// submitted when a scope's last child ended, the last token runner, an
// async scoped node's task — goes on with its successors through
// `continueAfterExtended`.

/// What a scoped or token node runs, with the options it needs at run
/// time. One per node, made when the node is added; immutable.
final class ExtendedNode: Sendable {
    enum Kind: Sendable {
        /// A synchronous body with a scope (TaskGraph+Scope.swift).
        case scoped(ScopedBody)
        /// An async body with a scope.
        case scopedAsync(AsyncScopedBody)
        /// `count` runs of a body (TaskGraph+Tokens.swift); `make` takes the
        /// node's inputs and allocates the batch that runs them.
        case tokens(count: Int, make: TokenMaker)
    }

    let kind: Kind
    let priority: Priority
    let affinity: Int?
    let timeout: Duration?
    let maxConcurrency: Int?

    init(_ kind: Kind, options: NodeOptions) {
        self.kind = kind
        priority = options.priority
        affinity = options.affinity
        timeout = options.timeout
        maxConcurrency = options.maxConcurrency
    }

    /// The number of tokens of a token node, nil for a scoped node.
    var tokenCount: Int? {
        if case .tokens(let count, _) = kind { return count }
        return nil
    }

    /// The Swift task priority of the node's tasks (async bodies).
    var taskPriority: TaskPriority? {
        switch priority {
        case .high: .high
        case .low: .low
        case .normal: nil
        }
    }
}

/// A scoped node's body with its inputs and output erased (it takes its
/// inputs from the run and puts its output there).
typealias ScopedBody = @Sendable (GraphExecution, Scope) throws -> Void
typealias AsyncScopedBody = @Sendable (GraphExecution, Scope) async throws -> Void
/// Takes a token node's inputs from the run and makes the batch of its
/// tokens; the second argument is the node's start time (0 when untimed).
typealias TokenMaker = @Sendable (GraphExecution, UInt64) -> TokenBatch

/// The bodies of a graph's scoped and token nodes, by position. Never run
/// through `run`/`runAsync`: the scheduler sends these nodes to `runExtended`.
final class ExtendedBodies: BodyStore, @unchecked Sendable {  // see BodyStore: appended by the builder only, plans hold snapshots
    var nodes: [ExtendedNode] = []

    override init() {}

    override func snapshot() -> BodyStore {
        let copy = ExtendedBodies()
        copy.nodes = nodes   // copy on write: later appends do not reach the plan
        return copy
    }
}

extension TaskGraph {
    /// Adds a scoped or token node (every builder of those ends here): its
    /// body goes in the graph's `ExtendedBodies`, the node through
    /// `addNode` with the other options (which it checks), and
    /// `maxConcurrency`, which only these nodes take, is checked here.
    func addExtended<Output: Sendable>(
        _ name: NodeName, options: NodeOptions, output: Output.Type, _ extended: ExtendedNode
    ) -> Node<Output> {
        let (unmanaged, storeIndex) = store(ExtendedBodies.self) { ExtendedBodies() }
        let store = unmanaged.takeUnretainedValue()
        store.nodes.append(extended)
        var once = options
        once.maxConcurrency = nil
        let node: Node<Output> = addNode(name, options: once, output: output, store: storeIndex,
                                         position: Int32(truncatingIfNeeded: store.nodes.count - 1), isAsync: true)
        info[node.index].flags |= NodeInfo.isExtended   // with isAsync: off the fast path (NodeRecords.swift)
        if let limit = options.maxConcurrency {
            self.options[Int32(node.index)] = options
            do { try NodeOptions.checkLimit(limit, node: names[node.index]) } catch { problem(error) }
        }
        return node
    }
}

extension GraphExecution {
    /// Starts scoped or token node `node` (not poisoned, run not cancelled;
    /// called by `launchAsync`, from the chain loop). When it finished here,
    /// a job of its own goes on with its successors. Continuing the chain
    /// from here would nest one chain loop per such node on this stack;
    /// handing the node back to the loop (a branch there that goes on with
    /// its successor) made the compiler inline `advance` into `runChain`
    /// (400 → 2,400 instructions): plain trees ran 6% and fan-outs 4% slower
    /// (chains 5% faster), release build, medians of 24 runs beside main.
    @inline(never)
    func launchExtended(_ node: Int32) {
        guard let poison = startExtended(node) else { return }   // it finishes later, elsewhere
        submitExtendedJob(priority: .normal, affinity: nil) { self.continueAfterExtended(node, poison: poison) }
    }

    /// Starts scoped or token node `node` (not poisoned, run not
    /// cancelled). Returns whether its successors are poisoned when it
    /// finished on this thread, nil when it finishes later elsewhere.
    private func startExtended(_ node: Int32) -> Bool? {
        let i = Int(node)
        guard let store = stores[Int(info[i].store)].takeUnretainedValue() as? ExtendedBodies else {
            preconditionFailure("FlowGraph: node #\(node) of graph '\(plan.name)' has the extended flag but a plain body")
        }
        let extended = store.nodes[Int(info[i].position)]
        switch extended.kind {
        case .scoped(let body):
            return runScoped(node, extended, body)
        case .scopedAsync(let body):
            launchScopedAsync(node, extended, body)
            return nil
        case .tokens(let count, let make):
            return runTokens(node, extended, count: count, make: make)
        }
    }

    /// Goes on after extended node `node` finished on this thread of a
    /// job or task of its own: its successors, the chain, the sinks.
    ///
    /// Through `spread` (and `flush` for a sink), like the fan-out of a
    /// node with many successors, rather than `advance`: a new caller of
    /// `advance` changed how the compiler inlines the loop into
    /// `submitNode`, and plain graphs ran 5–18% slower (release build,
    /// medians of 12 runs beside main; with `spread`, within ±2%).
    func continueAfterExtended(_ node: Int32, poison: Bool) {
        let lo = Int(succStart[Int(node)]), hi = Int(succStart[Int(node) + 1])
        if lo == hi {
            flush(1)   // a sink
            return
        }
        spread(lo, hi, leaf: max(1, min(GraphExecution.maxLeaf, (hi - lo) / (executor.workerCount * 16))), poison: poison)
    }

    /// Whether a node that started at `t0` and ended at `t1` ran past its timeout.
    @inline(__always)
    static func late(_ t0: UInt64, _ t1: UInt64, _ timeout: Duration?) -> Bool {
        guard let timeout else { return false }
        return Duration.nanoseconds(Int64(bitPattern: t1 &- t0)) > timeout
    }
}
