/// A snapshot of a `Runtime`: counts, workers, unfinished tasks. The counts
/// come from one instant, so `completed + running + queued + failed == total`.
public struct RuntimeProgress: Sendable, CustomStringConvertible {
    /// One unfinished task.
    public struct TaskSnapshot: Sendable {
        /// Its name.
        public let name: String
        /// Its id.
        public let id: UInt64
        /// True once its body started.
        public let isRunning: Bool
        /// How long it waited (so far, when still queued) before it started.
        public let queued: Duration
        /// How long it has been running (zero while queued).
        public let running: Duration
    }

    /// Tasks submitted since the runtime was created.
    public let total: Int
    /// Tasks that succeeded.
    public let completed: Int
    /// Tasks whose body is running.
    public let running: Int
    /// Tasks submitted and not started.
    public let queued: Int
    /// Tasks that failed (including any cleared from `Runtime.failed`).
    public let failed: Int
    /// The compute executor's workers: index, idle, current task name, queue depth.
    public let workers: [ExecutorSnapshot.Worker]
    /// The unfinished tasks, oldest first.
    public let tasks: [TaskSnapshot]

    /// Finished tasks as a percentage of all (100 when none were submitted).
    public var percent: Double { total == 0 ? 100 : Double(completed + failed) * 100 / Double(total) }

    /// `12/40 done (1 failed), 3 running, 24 queued`.
    public var description: String {
        "\(completed + failed)/\(total) done (\(failed) failed), \(running) running, \(queued) queued"
    }
}
