/// How the scheduler treats one node.
///
/// The defaults cost nothing: a node with default options may run on the
/// thread that finished its last predecessor, without a queue round trip.
/// A node with a priority other than `.normal` or an affinity is always
/// submitted to the executor with them.
///
/// ```swift
/// let flush = graph.task("flush", after: merged,
///                        options: .init(priority: .high, affinity: 0, timeout: .seconds(5))) { write($0) }
/// let resized = graph.task("resize", runs: images.count, options: .init(maxConcurrency: 4)) { i in resize(images[i]) }
/// ```
public struct NodeOptions: Sendable, Equatable {
    /// The executor priority the node is submitted with (a token node:
    /// each of its runners).
    public var priority: Priority
    /// Runs the node on this worker of the executor (0..<workerCount). A
    /// token node with an affinity runs its tokens one at a time, there.
    public var affinity: Int?
    /// The longest the body may take. An `async` body is cancelled at the
    /// deadline and the node fails with `FlowError.timedOut` once it
    /// returns; a synchronous body cannot be interrupted, so it fails with
    /// `FlowError.timedOut` when it returns late (its value is discarded).
    /// For a scoped node the time includes its children; for a token node,
    /// all its tokens.
    public var timeout: Duration?
    /// How many runs of the node may go on at once; nil (the default): no
    /// limit of its own.
    ///
    /// - A token node (`task(_:runs:…)`): at most this many of its tokens
    ///   run at the same time (and never more than the executor has
    ///   workers, for synchronous bodies).
    /// - A scoped node (`scopedTask`): at most this many children of its
    ///   `Scope` run their body at the same time (the scope's
    ///   `maxConcurrency`); the others wait for a slot.
    /// - Any other node runs once per run, so a limit means nothing there:
    ///   `validate()` reports it, naming the node, rather than ignore it.
    ///
    /// Below 1 is an error (`FlowError.invalidArgument` naming `maxConcurrency`).
    public var maxConcurrency: Int?

    /// Options with the given fields; the defaults are those of a plain node.
    public init(priority: Priority = .normal, affinity: Int? = nil, timeout: Duration? = nil,
                maxConcurrency: Int? = nil) {
        self.priority = priority
        self.affinity = affinity
        self.timeout = timeout
        self.maxConcurrency = maxConcurrency
    }

    /// True for options that need the executor's submit path.
    var needsSubmit: Bool { priority != .normal || affinity != nil }

    /// Whether these are the default options (checked per node added:
    /// cheaper than comparing with `NodeOptions()`).
    @inlinable
    var isDefault: Bool { priority == .normal && affinity == nil && timeout == nil && maxConcurrency == nil }

    /// Throws a `FlowError` naming the first invalid field; `node` names
    /// the node. For the options of a node that runs once (`addNode`):
    /// token and scoped nodes check `maxConcurrency` themselves and pass
    /// the rest here (TaskGraph.addExtended).
    func validate(node: String) throws(FlowError) {
        if let affinity, affinity < 0 {
            throw .invalid("affinity", affinity, "of node '\(node)' must be a worker index >= 0")
        }
        if let timeout, timeout <= .zero {
            throw .invalid("timeout", timeout, "of node '\(node)' must be positive")
        }
        if let maxConcurrency {
            try NodeOptions.checkLimit(maxConcurrency, node: node)
            throw .invalid("maxConcurrency", maxConcurrency,
                           "of node '\(node)' needs a node that runs many times: a token node (task(_:runs:…)) or a scoped node (scopedTask); this node runs once")
        }
    }

    /// Throws unless `maxConcurrency` is at least 1.
    static func checkLimit(_ maxConcurrency: Int, node: String) throws(FlowError) {
        if maxConcurrency < 1 {
            throw .invalid("maxConcurrency", maxConcurrency, "of node '\(node)' must be at least 1 (nil for no limit)")
        }
    }
}
