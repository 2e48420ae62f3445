// Note for this module's code: use FlowAtomics' `Locked<Value>` (a pthread
// mutex) rather than `Synchronization.Mutex` for anything lock-protected:
// Mutex is futex-based on Linux and ThreadSanitizer cannot see it, so every
// value it guards is reported as a race under `make tsan`.
@_exported import FlowAtomics
