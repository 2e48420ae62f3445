// FlowGraph builds and runs typed task graphs (issue "FlowGraph: typed task
// graphs, run on the work-stealing executor"). It will hold:
//
// - `TaskGraph`, a non-Sendable builder: `task(_:after:body:)` with typed
//   inputs through parameter packs, `order(_:before:)`, `parallel`, `fanOut`,
//   `fanIn`, `map`, `reduce(splitEvery:)`, `validate()`, `dot()`/`mermaid()`.
// - `Node<Output>`, `NodeOptions` (max concurrency, priority, affinity,
//   timeout) and `GraphRun` (typed results, per-node timings, critical path).
// - The scheduler that freezes a graph into an immutable plan and runs it on
//   a FlowExecutor `Executor`.
//
// It stands on FlowChannels and re-exports it.
@_exported import FlowChannels
