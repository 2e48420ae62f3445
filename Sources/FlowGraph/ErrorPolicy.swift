/// What a run does when a node throws.
public enum ErrorPolicy: Sendable, Equatable {
    /// The first failure cancels every node not started yet; the run throws
    /// a `GraphError` whose first failure is that one. The default.
    case failFast
    /// Every node not downstream of a failure still runs; the run throws a
    /// `GraphError` listing every failure (the partial results are in its `run`).
    case `continue`
}
