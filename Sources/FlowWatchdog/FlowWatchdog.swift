// Note for this module's code: use FlowAtomics' `Locked<Value>` (a pthread
// mutex) rather than `Synchronization.Mutex` for anything lock-protected:
// Mutex is futex-based on Linux and ThreadSanitizer cannot see it, so every
// value it guards is reported as a race under `make tsan`.
//
// FlowWatchdog: deadlines, timeouts, stalls and responsiveness (see
// docs/Watchdog.md). Files: Watchdog (the public facade), WatchdogCore and
// WatchdogCore+Monitor (the engine and its monitor thread), WatchToken,
// WatchLane (each thread's slots: the lock-free hand-off from `watch` to the
// monitor), WatchThreadCache (per-thread state of `watch`), DeadlineHeap,
// ProgressWatch (stall/deadlock state machine), WatchdogEvent, WatchdogClock
// and ManualClock, and the monitor thread (FlowAtomics' OSThread).
@_exported import FlowAtomics
