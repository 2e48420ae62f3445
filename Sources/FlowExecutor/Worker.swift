#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// One worker's queues and counters.
///
/// Ownership: the deque's owner handle and the fields marked "owner" are
/// used only by this worker's thread; the stealer, the inbox and the atomic
/// counters are shared. Counters are written only by the owner (plain load +
/// store, no locked instruction) and read by snapshots and the shutdown check.
final class Worker: @unchecked Sendable {  // owner-only fields used by its thread alone (below)
    // Safe to share: `deque` (the owner handle) and the owner-only words are
    // touched only by the worker thread; every other field is immutable, an
    // atomic, a lock-free queue or `Locked`.
    let index: Int
    let homeShard: Int                              // the central shard it takes from first
    let deque: WorkStealingDeque<UInt>              // owner thread only
    let stealer: WorkStealingDeque<UInt>.Stealer
    let inbox: MPMCQueue<QueuedJob>                 // affinity: only this worker takes from it
    let inboxOverflow = Locked(JobFIFO())           // when the inbox ring is full
    let inboxOverflowCount = Atomic<Int>(0)
    let currentName = Locked<String?>(nil)          // set only for named closures
    let parker = Parker()                           // parks this worker; anyone may unpark it
    private let block: UnsafeMutableRawPointer      // 128-byte aligned, this worker's line

    // Layout of `block`, one cache line written only by the owner:
    private static let executedOffset = 0, stolenOffset = 8, submittedOffset = 16, stateOffset = 24
    private static let rngOffset = 32, tickOffset = 40, sequenceOffset = 48, freeCountOffset = 56
    static let freeListCapacity = 512
    private let freeList: UnsafeMutablePointer<UInt>  // owner thread only: recycled ClosureBox words
    /// Owner-only scratch for a batch taken from a ring (uninitialized
    /// between uses), `ExecutorCore.batchLimit` jobs.
    let batch: UnsafeMutablePointer<QueuedJob>

    static let running = 0, searching = 1, parked = 2

    init(index: Int, homeShard: Int, inboxCapacity: Int) throws(FlowError) {
        self.index = index
        self.homeShard = homeShard
        deque = try WorkStealingDeque<UInt>(initialCapacity: 256)
        stealer = deque.makeStealer()
        inbox = try MPMCQueue<QueuedJob>(capacity: inboxCapacity)
        block = UnsafeMutableRawPointer.allocate(byteCount: cacheLineStride, alignment: cacheLineStride)
        for offset in stride(from: 0, to: 32, by: 8) {
            (block + offset).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
        (block + Self.rngOffset).bindMemory(to: UInt64.self, capacity: 1)
            .initialize(to: 0x9E37_79B9_7F4A_7C15 &* UInt64(index + 1))
        (block + Self.tickOffset).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)
        (block + Self.sequenceOffset).bindMemory(to: UInt64.self, capacity: 1).initialize(to: 0)
        (block + Self.freeCountOffset).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)
        freeList = .allocate(capacity: Self.freeListCapacity)
        batch = .allocate(capacity: ExecutorCore.batchLimit)
    }

    deinit {
        let free = freeCount.pointee
        for i in 0..<free { JobWord.free(freeList[i]) }
        freeList.deallocate()
        batch.deallocate()
        for offset in stride(from: 0, to: 32, by: 8) { atomic(offset).deinitialize(count: 1) }
        block.deallocate()
    }

    @inline(__always)
    private func atomic(_ offset: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (block + offset).assumingMemoryBound(to: Atomic<Int>.self)
    }

    // MARK: counters (owner writes, anyone reads)

    @inline(__always) func countExecuted() {
        let p = atomic(Self.executedOffset)
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ 1, ordering: .releasing)  // after the job's own submits
    }
    @inline(__always) func countStolen() {
        let p = atomic(Self.stolenOffset)
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }
    @inline(__always) func countSubmitted() {
        let p = atomic(Self.submittedOffset)
        p.pointee.store(p.pointee.load(ordering: .relaxed) &+ 1, ordering: .releasing)  // before the push
    }
    var executed: Int { atomic(Self.executedOffset).pointee.load(ordering: .acquiring) }
    var stolen: Int { atomic(Self.stolenOffset).pointee.load(ordering: .relaxed) }
    var submitted: Int { atomic(Self.submittedOffset).pointee.load(ordering: .acquiring) }

    // For snapshots only (the parking protocol does not read it): a plain
    // release store, not a seq_cst one (an `xchg` on x86) on every search.
    var state: Int { atomic(Self.stateOffset).pointee.load(ordering: .acquiring) }
    @inline(__always) func setState(_ s: Int) {
        atomic(Self.stateOffset).pointee.store(s, ordering: .releasing)
    }

    // MARK: owner-only scratch

    /// xorshift64*: picks the first steal victim.
    @inline(__always) func nextRandom() -> UInt64 {
        let p = (block + Self.rngOffset).assumingMemoryBound(to: UInt64.self)
        var x = p.pointee
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27
        p.pointee = x
        return x &* 0x2545_F491_4F6C_DD1D
    }

    /// Scheduling ticks, for the fairness checks of the loop.
    @inline(__always) func nextTick() -> Int {
        let p = (block + Self.tickOffset).assumingMemoryBound(to: Int.self)
        p.pointee &+= 1
        return p.pointee
    }

    /// A job id: worker index in the top 16 bits, a sequence below.
    @inline(__always) func nextJobID() -> UInt64 {
        let p = (block + Self.sequenceOffset).assumingMemoryBound(to: UInt64.self)
        p.pointee &+= 1
        return UInt64(index) << 48 | p.pointee
    }

    // MARK: job boxes (owner only)

    @inline(__always) private var freeCount: UnsafeMutablePointer<Int> {
        (block + Self.freeCountOffset).assumingMemoryBound(to: Int.self)
    }

    /// A box for a closure: a recycled one when the free list has one.
    @inline(__always) private func box() -> UInt {
        let n = freeCount.pointee
        if n == 0 { return JobWord.allocateBox() }
        freeCount.pointee = n &- 1
        return freeList[n &- 1]
    }

    /// The box word for an unnamed closure job, with `name`: a recycled box
    /// when the free list has one. `job` is left empty.
    @inline(__always) func box(_ job: inout QueuedJob?, name: String?) -> UInt {
        JobWord.box(&job, name: name, in: box())
    }

    /// The box word for a function job: a recycled box when the free list has one.
    @inline(__always) func box(_ function: FunctionJob) -> UInt {
        JobWord.box(function, in: box())
    }

    /// The deque word for a job taken from a ring: a closure moves into a box.
    @inline(__always) func word(for job: inout QueuedJob) -> UInt {
        if job.body.isEmpty { return job.word }
        let word = box()
        swap(&JobWord.box(word).pointee.body, &job.body)
        return word
    }

    /// Runs the closure of a job word this worker took, then recycles its
    /// box into this worker's free list, or releases it when the list is full.
    @inline(__always) func runClosure(_ word: UInt) {
        let box = JobWord.box(word)
        if let function = box.pointee.function {
            box.pointee.function = nil
            function.run()
        } else {
            // Move the closure out (no retain); its context is released
            // right after the call.
            var body = JobBody.empty
            swap(&body, &box.pointee.body)
            if box.pointee.name != nil { box.pointee.name = nil }
            body.closure?()
        }
        let n = freeCount.pointee
        if n < Self.freeListCapacity {
            freeList[n] = word
            freeCount.pointee = n &+ 1
        } else {
            JobWord.free(word)
        }
    }

    /// Takes from the affinity inbox, then its overflow.
    @inline(__always) func takeFromInbox() -> QueuedJob? {
        if let w = inbox.tryDequeue() { return w }
        if inboxOverflowCount.load(ordering: .acquiring) > 0 {
            return inboxOverflow.withLock { list -> QueuedJob? in
                guard let word = list.popFirst() else { return nil }
                inboxOverflowCount.wrappingSubtract(1, ordering: .relaxed)
                return word
            }
        }
        return nil
    }

    /// Puts pinned work into the inbox (never fails: overflow when full).
    func pin(_ job: inout QueuedJob?) {
        if inbox.tryEnqueue(taking: &job) { return }
        inboxOverflow.withLock { $0.append(job.take().unsafelyUnwrapped) }
        inboxOverflowCount.wrappingAdd(1, ordering: .releasing)
    }

    var inboxDepth: Int { inbox.count + inboxOverflowCount.load(ordering: .relaxed) }
}

// MARK: - Threads

/// The worker thread's identity, in a pthread key: which core and worker
/// the current thread belongs to. Plain words, so that asking "am I a
/// worker of this executor?" costs a key lookup and a compare, no retain.
struct WorkerSlot {
    let core: UnsafeMutableRawPointer     // the ExecutorCore, unretained
    let worker: Unmanaged<Worker>         // alive as long as the core
}

let workerSlotKey: pthread_key_t = {
    var key = pthread_key_t()
    let rc = pthread_key_create(&key, nil)
    precondition(rc == 0, "FlowExecutor: pthread_key_create failed (\(rc))")
    return key
}()
