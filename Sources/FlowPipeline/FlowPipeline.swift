// FlowPipeline is the facade most users touch first (issues "FlowPipeline:
// Pipeline with fluent PipelineConfig, Runtime, progress, traces", "Streaming
// stages" and "Constraint analytics"). It will hold:
//
// - `PipelineConfig` (fluent value type) and `Pipeline` (`run`/`execute` a
//   TaskGraph with the executor and the watchdog wired together).
// - `Runtime` (submit / TaskHandle / waitAll / failed / onError / progress).
// - Streaming stages (`Stage`, pipe, batch, tee, merge, join) with exact
//   stats, topology, bottleneck analysis, rope control and reports.
//
// It stands on FlowGraph and re-exports it.
@_exported import FlowGraph
