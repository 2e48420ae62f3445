/// A handle to one node of a `TaskGraph`, typed by the value its body
/// produces.
///
/// Pass it to `after:` of later nodes to receive that value, to
/// `order(_:before:)` for an ordering without data, and to `GraphRun`'s
/// subscript to read the value after a run. A handle belongs to the graph
/// that made it: using it with another graph is a precondition failure.
public struct Node<Output: Sendable>: Sendable, Hashable {
    /// The node's position in its graph, in the order nodes were added.
    public let index: Int
    @usableFromInline let graph: UInt64

    @usableFromInline init(index: Int, graph: UInt64) {
        self.index = index
        self.graph = graph
    }
}
