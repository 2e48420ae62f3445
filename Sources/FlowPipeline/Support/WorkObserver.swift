/// The executor-observer half of the executor ↔ watchdog wiring: with a
/// timeout, watches each unit of work with a `WatchToken` from `willRun` to
/// `didRun`; with tracing, records each unit's start and end per worker.
///
/// Both calls happen on the worker thread that runs the unit, and a worker
/// runs one unit at a time, so each worker's token slot is written and read
/// by that worker only.
final class WorkObserver: ExecutorObserver {
    private let watchdog: Watchdog?
    private let timeout: Duration?
    private let executorName: String
    // One slot per worker, touched only by that worker (the lock is uncontended).
    private let slots: [Locked<WatchToken?>]
    /// With tracing: each worker's units of work, in order. Appended by
    /// that worker only, taken by the pipeline after a run.
    private let slices: [Locked<[WorkSlice]>]?
    // Worker-only: the start of the unit running on each worker.
    private let starts: [Locked<UInt64>]

    init(executor: Executor, watchdog: Watchdog?, timeout: Duration?, recordsSlices: Bool = false) {
        self.watchdog = timeout == nil ? nil : watchdog
        self.timeout = timeout
        executorName = executor.name
        slots = (0..<executor.workerCount).map { _ in Locked(nil) }
        slices = recordsSlices ? (0..<executor.workerCount).map { _ in Locked([]) } : nil
        starts = (0..<(recordsSlices ? executor.workerCount : 0)).map { _ in Locked(0) }
    }

    /// Takes the units of work recorded so far, per worker.
    func takeSlices() -> [[WorkSlice]] {
        slices?.map { slot in slot.withLock { s in defer { s = [] }; return s } } ?? []
    }

    func willRun(_ job: ExecutorJobInfo) {
        if slices != nil, job.worker < starts.count {
            let now = monotonicNanoseconds()
            starts[job.worker].withLock { $0 = now }
        }
        guard let watchdog, let timeout, job.worker < slots.count else { return }
        let name = job.name ?? "work #\(job.id & 0xFFFF_FFFF_FFFF) on \(executorName)-\(job.worker)"
        let token = try? watchdog.watch(name: name, timeout: timeout)
        slots[job.worker].withLock { $0 = token }
    }

    func didRun(_ job: ExecutorJobInfo) {
        if watchdog != nil, job.worker < slots.count {
            let token = slots[job.worker].withLock { slot -> WatchToken? in
                defer { slot = nil }
                return slot
            }
            _ = token?.finish()
        }
        if let slices, job.worker < slices.count {
            let end = monotonicNanoseconds()
            let start = starts[job.worker].withLock { $0 }
            slices[job.worker].withLock { $0.append(WorkSlice(start: start, end: end, name: job.name)) }
        }
    }
}

/// One unit of work a worker ran (monotonic nanoseconds).
struct WorkSlice: Sendable {
    let start: UInt64
    let end: UInt64
    let name: String?
}
