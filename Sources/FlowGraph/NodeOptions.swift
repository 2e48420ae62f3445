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
/// ```
public struct NodeOptions: Sendable, Equatable {
    /// The executor priority the node is submitted with.
    public var priority: Priority
    /// Runs the node on this worker of the executor (0..<workerCount).
    public var affinity: Int?
    /// The longest the body may take. An `async` body is cancelled at the
    /// deadline and the node fails with `FlowError.timedOut` once it
    /// returns; a synchronous body cannot be interrupted, so it fails with
    /// `FlowError.timedOut` when it returns late (its value is discarded).
    public var timeout: Duration?

    /// Options with the given fields; the defaults are those of a plain node.
    public init(priority: Priority = .normal, affinity: Int? = nil, timeout: Duration? = nil) {
        self.priority = priority
        self.affinity = affinity
        self.timeout = timeout
    }

    /// True for options that need the executor's submit path.
    var needsSubmit: Bool { priority != .normal || affinity != nil }

    /// Throws a `FlowError` naming the first invalid field; `node` names the node.
    func validate(node: String) throws(FlowError) {
        if let affinity, affinity < 0 {
            throw .invalid("affinity", affinity, "of node '\(node)' must be a worker index >= 0")
        }
        if let timeout, timeout <= .zero {
            throw .invalid("timeout", timeout, "of node '\(node)' must be positive")
        }
    }
}
