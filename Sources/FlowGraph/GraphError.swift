/// One node's failure: its name and what it threw.
public struct NodeFailure: Sendable, CustomStringConvertible {
    /// The failed node's name (`#index` for unnamed nodes).
    public let node: String
    /// The node's index in its graph.
    public let index: Int
    /// What the body threw (`FlowError.timedOut` for a node past its timeout).
    public let error: any Error

    public var description: String { "node '\(node)' failed: \(error)" }
}

/// A run in which at least one node failed.
///
/// Under `.failFast` the first entry of `failures` is the failure that
/// stopped the run (nodes already running when it happened may add more);
/// under `.continue` it lists every failure. `run` holds what did complete:
/// states, timings and the values of terminal nodes that succeeded.
public struct GraphError: Error, CustomStringConvertible {
    /// The graph's name.
    public let graph: String
    /// The failures, first one first.
    public let failures: [NodeFailure]
    /// The partial run.
    public let run: GraphRun

    /// The name of the node whose failure is reported first.
    public var node: String { failures[0].node }
    /// What that node threw.
    public var underlying: any Error { failures[0].error }

    public var description: String {
        let more = failures.count > 1 ? " (and \(failures.count - 1) more)" : ""
        return "graph '\(graph)': \(failures[0])\(more)"
    }
}
