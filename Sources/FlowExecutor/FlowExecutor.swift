// FlowExecutor: the work-stealing pool (Executor) and its observer hook.
@_exported import FlowAtomics
