/// The unbounded FIFO behind a full ring (the executor's overflow lists):
/// a growable circular buffer that moves jobs in and out — no copy, so no
/// retain or release of a closure's context, and no copy-on-write check.
/// Not thread-safe: it lives inside a `Locked`. A class, so the lock's
/// `inout` access never copies the buffer.
final class JobFIFO {
    private var slots: UnsafeMutablePointer<QueuedJob>
    private var capacity: Int      // a power of two
    private var head = 0           // index of the oldest job
    private(set) var count = 0

    init() {
        capacity = 64
        slots = .allocate(capacity: capacity)
    }

    deinit {
        for i in 0..<count { (slots + ((head + i) & (capacity - 1))).deinitialize(count: 1) }
        slots.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    func append(_ job: consuming QueuedJob) {
        if count == capacity { grow() }
        (slots + ((head + count) & (capacity - 1))).initialize(to: job)
        count += 1
    }

    func popFirst() -> QueuedJob? {
        if count == 0 { return nil }
        let job = (slots + head).move()
        head = (head + 1) & (capacity - 1)
        count -= 1
        return job
    }

    private func grow() {
        let bigger = UnsafeMutablePointer<QueuedJob>.allocate(capacity: capacity * 2)
        let firstRun = min(count, capacity - head)           // head..<end, then 0..<rest
        bigger.moveInitialize(from: slots + head, count: firstRun)
        (bigger + firstRun).moveInitialize(from: slots, count: count - firstRun)
        slots.deallocate()
        slots = bigger
        capacity *= 2
        head = 0
    }
}
