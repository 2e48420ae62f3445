/// What an observer learns about one unit of work.
public struct ExecutorJobInfo: Sendable, Hashable {
    /// Unique within the executor: the worker index in the top 16 bits, a
    /// per-worker sequence number below.
    public let id: UInt64
    /// The name given to `submit(name:…)`; nil for unnamed closures and Swift jobs.
    public let name: String?
    /// The worker running it.
    public let worker: Int
    /// True for a Swift task's job, false for a submitted closure.
    public let isSwiftJob: Bool
}

/// Watches every unit of work an executor runs: the hook that the
/// watchdog, progress and tracing of the layers above hang on.
///
/// Both calls happen on the worker thread, right before and right after the
/// work, so they must be quick and must not block. With no observer set the
/// executor pays one relaxed load and a branch per unit of work.
public protocol ExecutorObserver: AnyObject, Sendable {
    func willRun(_ job: ExecutorJobInfo)
    func didRun(_ job: ExecutorJobInfo)
}
