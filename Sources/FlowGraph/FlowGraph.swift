// FlowGraph builds typed task graphs and runs them on a FlowExecutor
// `Executor` (see docs/Graphs.md):
//
// - `TaskGraph`, a non-Sendable builder: `task(_:after:options:body:)` with
//   typed inputs through parameter packs, `order(_:before:)`, `parallel`,
//   `fanOut`, `fanIn`, `map`, `reduce(_:splitEvery:)`, scoped nodes
//   (`scopedTask`: a `Scope` for sub-work), token nodes
//   (`task(_:runs:after:…)`), `validate()`, `dot()` / `mermaid()`.
// - `GraphPlan`, the frozen, immutable, `Sendable` form a graph is run
//   from (`TaskGraph.freeze()`), runnable many times.
// - `Node<Output>` handles, `NodeOptions` (priority, affinity, timeout,
//   maxConcurrency),
//   `ErrorPolicy`, and `GraphRun` (typed results, node states, timings,
//   critical path) / `GraphError`.
// - The scheduler (`GraphExecution`): atomic in-degrees, ready successors
//   pushed on the current worker's deque, one kept to run on the same thread.
//
// It stands on FlowChannels and re-exports it.
@_exported import FlowChannels
