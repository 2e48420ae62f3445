// FlowPipeline is the facade most users touch first (issues "FlowPipeline:
// Pipeline with fluent PipelineConfig, Runtime, progress, traces", "Streaming
// stages" and "Constraint analytics"). Folders:
//
// - Pipeline/: `PipelineConfig` (fluent value type), `Pipeline` (runs a
//   TaskGraph on executors it owns, with the watchdog wired to them),
//   `PipelineReport`. docs/Pipeline.md.
// - Runtime/: `Runtime` (submit / TaskHandle / waitAll / failed / onError /
//   progress / timeouts / shutdown / shared). docs/Runtime.md.
// - Support/: the executor observer that feeds the watchdog and the trace.
// - Trace/: Chrome trace-event JSON of a run, one track per worker.
// - Memory/: `MemoryBudget`.
// - Stages/: streaming stages (`Stage`, pipe, batch, tee, merge, join).
//
// It stands on FlowGraph and re-exports it.
@_exported import FlowGraph
