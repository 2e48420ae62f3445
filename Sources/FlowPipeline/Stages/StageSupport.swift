#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a stage's task: on `executor` when one is given, else a plain
/// task. `Task(executorPreference: nil)` is not the same as `Task {}`: the
/// task then carries an (empty) executor-preference record, and every hop
/// back to the generic executor (several per item in a stage's loops) takes
/// the task's status-record lock to look it up (measured: about a tenth of
/// the 4-stage pipeline's time).
@inlinable
@discardableResult
func startTask(_ executor: Executor?, _ operation: sending @escaping @isolated(any) () async -> Void) -> Task<Void, Never> {
    if let executor { return Task(executorPreference: executor, operation: operation) }
    return Task(operation: operation)
}

/// Monotonic nanoseconds for the stage timers (cheaper than building a
/// `ContinuousClock.Instant` on the per-item path).
@inlinable @inline(__always)
func stageNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

@inlinable @inline(__always)
func stageElapsed(since start: UInt64) -> UInt64 {
    let now = stageNow()
    return now > start ? now - start : 0
}

extension Duration {
    @inlinable @inline(__always)
    static func stageNanoseconds(_ ns: UInt64) -> Duration { .nanoseconds(Int64(clamping: ns)) }
}

