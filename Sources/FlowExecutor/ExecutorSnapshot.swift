/// A point-in-time view of an executor: totals and one entry per worker.
/// Counters are read without stopping the workers, so totals taken while
/// work runs are approximate; once the executor is quiet they are exact.
public struct ExecutorSnapshot: Sendable, CustomStringConvertible {
    /// What a worker is doing.
    public enum WorkerState: String, Sendable {
        /// Running work or about to.
        case running
        /// Out of work, spinning through the queues before it parks.
        case searching
        /// Asleep, waiting for work.
        case parked
    }

    public struct Worker: Sendable {
        public let index: Int
        public let state: WorkerState
        public var isIdle: Bool { state != .running }
        /// Work waiting in this worker's own deque and affinity inbox.
        public let queueDepth: Int
        public let executed: Int
        /// Units of work this worker took from other workers' deques.
        public let stolen: Int
        /// The name of the closure it is running, when the closure has one
        /// and an observer or tracking asked for names (nil otherwise).
        public let currentTaskName: String?
    }

    public let name: String
    public let workers: [Worker]
    /// Units of work accepted so far (closures and Swift jobs).
    public let submitted: Int
    public let executed: Int
    public let stolen: Int
    /// Accepted but not yet finished.
    public let queued: Int
    public let parkedWorkers: Int
    public let isShutDown: Bool

    public var description: String {
        var lines = ["executor \(name): submitted \(submitted), executed \(executed), stolen \(stolen), queued \(queued), parked \(parkedWorkers)/\(workers.count)"]
        for w in workers {
            lines.append("  worker \(w.index): \(w.state.rawValue), depth \(w.queueDepth), executed \(w.executed), stolen \(w.stolen)"
                         + (w.currentTaskName.map { ", running \($0)" } ?? ""))
        }
        return lines.joined(separator: "\n")
    }
}
