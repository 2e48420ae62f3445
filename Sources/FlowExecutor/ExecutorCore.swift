#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// ExecutorCore — the work-stealing scheduler behind `Executor`.
//
// Queues:
// - per worker: a Chase–Lev deque (owner pushes/pops LIFO, others steal
//   FIFO) for normal-priority jobs submitted from inside the pool, as
//   one-word JobWords (a box from the worker's free list holding a closure
//   or a function job, or a Swift job), and an affinity inbox (Vyukov ring
//   + overflow) that only its worker takes from;
// - central: `centralShards` Vyukov rings for normal work from outside and
//   for Swift jobs (FIFO, so a task that yields lets others run), one ring
//   for high and one for low priority, and an overflow list (JobFIFO)
//   used only when a ring is full — for normal work, when every central
//   shard is full (work is never dropped and a submitter never blocks).
//   The rings (and inboxes) hold a QueuedJob: an unnamed closure as itself,
//   with no box, else a JobWord.
//
// The loop of a worker (`runWorker`), each tick:
//   (every 127th tick) low ring → high ring → (every 61st tick) central
//   → affinity inbox → own deque → steal from random victims → central
//   shards → low ring. From a central shard or the overflow list it takes a
//   batch: one job to run and a share of the rest into its own deque
//   (`takeBatch`). Out of work, it counts itself as searching and spins
//   `spinBudget` rounds over the shared queues, then parks.
//
// Parking without lost wake-ups: a parker per worker and an idle stack.
//   worker:    searching -= 1; push self on the idle stack (sleepers += 1);
//              fence; re-check every queue;
//              work found → take self off the stack if still there, search on
//              nothing    → park on its own Parker
//   submitter: push (a seq_cst claim); if sleepers > 0 && searching == 0 {
//                pop one worker off the stack; searching += 1 for it; unpark it }
// Both sides write, then read the other's variable with a store-load order
// between (Dekker): either the submitter sees the sleeper, or the sleeper's
// re-check sees the work. The submitter's "write" is the seq_cst claim of
// a ring slot (or of the overflow count) and its reads are seq_cst loads,
// so it needs no separate fence; the worker fences after announcing.
// A submitter that skips because a worker searches read `searching` before
// that worker's decrement, so the worker's later re-check sees the work.
// The waker counts the woken worker as searching before unparking it, and
// the Parker's permit guarantees that worker runs: from then until it finds
// work or parks, other submitters skip the wake-up. So outside submitters
// wake at most one worker per worker that actually comes up (the rate
// limit), a busy pool costs no lock and no syscall, and a wake is never
// spent on a thread that will not run. (A single EventCount cannot do this:
// its notify-one may be absorbed by a waiter that has nothing to do.)
// A worker that pushes onto its own deque wakes a neighbour when one is
// parked and nobody searches; it needs no fence, since it runs the work
// itself if nobody else does. (Waking only once work piled up, more than
// one item, left a neighbour parked through a wavefront, where each node
// pushes one successor and the pusher pops it back later: the deque seldom
// holds two, so the graph ran on one worker; a 512×512 wavefront took
// 11–15 ms instead of 8.3–9.5.) A searcher that finds
// work and was the last searcher wakes one more worker when shared work is
// left: the chain that fans a burst out to parked workers. Pinned work
// wakes exactly its target worker when that one is parked.
//
// Shutdown (numbered steps; `shutdown()` runs them, deinit too, on a thread):
// 1. phase = draining: outside `submit` is refused from now on. A submit
//    counts itself in `outsideSubmitted` before it reads the phase, so a
//    racing submit is either refused or counted.
// 2. Wait until quiescent: Σexecuted == Σsubmitted (executed is read
//    first; both only grow, so equality means no work existed at a moment
//    between the two reads). Work submitted by running work is accepted.
// 3. phase = stopping: Swift jobs enqueued from outside now go to the
//    global concurrent executor (a job cannot be refused); a racing enqueue
//    is counted first, as in step 1. Wait until quiescent again.
// 4. phase = terminated; wake every worker; they see no work and exit;
//    join them.

final class ExecutorCore: @unchecked Sendable {  // immutable, atomic or locked state (below)
    // Safe to share: all fields are immutable after init except the atomics,
    // the `Locked` values and `taskExecutor`, which is written once before
    // any worker thread starts (thread creation orders it before their reads).
    let configuration: Executor.Configuration
    let workers: [Worker]
    let shards: [MPMCQueue<QueuedJob>]
    // Unretained views of the two arrays for the hot path (array element
    // access would retain and release each object). Alive with the arrays.
    let workerRefs: UnsafeMutableBufferPointer<Unmanaged<Worker>>
    let shardRefs: UnsafeMutableBufferPointer<Unmanaged<MPMCQueue<QueuedJob>>>
    let high: MPMCQueue<QueuedJob>
    let low: MPMCQueue<QueuedJob>
    let overflow = Locked(JobFIFO())          // when a shared ring is full
    let overflowCount = Atomic<Int>(0)
    let slotKey: pthread_key_t                // workerSlotKey, read here without its lazy-init check
    let searching = PaddedAtomic(0)
    let sleepers = PaddedAtomic(0)                  // workers on the idle stack
    let idle = Locked<IdleStack>(IdleStack())       // parked workers, taken only to park and to wake
    let outsideSubmitted = PaddedAtomic(0)
    let phase = Atomic<Int>(0)
    let observer = Atomic<UInt>(0)            // an Unmanaged<ObserverBox> word, or 0
    let observers = Locked<[ObserverBox]>([]) // keeps every observer ever set alive
    let threads = Locked<[OSThread]>([])
    let shutdownWaiter = Parker()
    let shutdownStarted = Atomic<Bool>(false)
    let finishedLock = ConditionLock()
    nonisolated(unsafe) var finished = false  // protected by finishedLock
    @exclusivity(unchecked) nonisolated(unsafe) var taskExecutor: UnownedTaskExecutor? = nil

    static let running = 0, draining = 1, stopping = 2, terminated = 3

    init(configuration: Executor.Configuration) throws(FlowError) {
        self.configuration = configuration
        var workers: [Worker] = []
        for i in 0..<configuration.workers {
            workers.append(try Worker(index: i, homeShard: i % configuration.centralShards,
                                      inboxCapacity: configuration.inboxCapacity))
        }
        self.workers = workers
        var shards: [MPMCQueue<QueuedJob>] = []
        for _ in 0..<configuration.centralShards {
            shards.append(try MPMCQueue<QueuedJob>(capacity: configuration.shardCapacity))
        }
        self.shards = shards
        high = try MPMCQueue<QueuedJob>(capacity: configuration.shardCapacity)
        low = try MPMCQueue<QueuedJob>(capacity: configuration.shardCapacity)
        slotKey = workerSlotKey
        workerRefs = .allocate(capacity: workers.count)
        _ = workerRefs.initialize(from: workers.map { Unmanaged.passUnretained($0) })
        shardRefs = .allocate(capacity: shards.count)
        _ = shardRefs.initialize(from: shards.map { Unmanaged.passUnretained($0) })
    }

    deinit {
        // Only reached after termination (threads hold the core): free what
        // a racing forward may have left (nothing, normally).
        for w in workers {
            while let word = w.deque.pop() { release(.word(word)) }
            while let job = w.takeFromInbox() { release(job) }
        }
        for ring in shards + [high, low] { while let job = ring.tryDequeue() { release(job) } }
        while let job = overflow.withLock({ $0.popFirst() }) { release(job) }
        workerRefs.deallocate()
        shardRefs.deallocate()
    }

    /// Drops a job that will not run (only in deinit): a boxed closure's
    /// box is released; a closure's context goes with the value.
    private func release(_ job: QueuedJob) {
        if job.body.isEmpty && !JobWord.isSwiftJob(job.word) { JobWord.free(job.word) }
    }

    func start() {
        var started: [OSThread] = []
        for worker in workers {
            let name = "\(configuration.name)-\(worker.index)"
            guard let thread = OSThread.spawn(name: name, { [self] in self.runWorker(worker) }) else {
                preconditionFailure("Executor '\(configuration.name)': the system refused to start worker thread \(worker.index)")
            }
            started.append(thread)
        }
        threads.withLock { $0 = started }
    }

    /// The calling thread's worker when it is one of this core's workers.
    @inline(__always)
    func currentWorker() -> Unmanaged<Worker>? {
        guard let raw = pthread_getspecific(slotKey) else { return nil }
        let slot = raw.assumingMemoryBound(to: WorkerSlot.self)
        guard slot.pointee.core == Unmanaged.passUnretained(self).toOpaque() else { return nil }
        return slot.pointee.worker
    }

    /// `body` with the worker at `index`, without retaining it.
    @inline(__always)
    func withWorker<R>(_ index: Int, _ body: (Worker) -> R) -> R {
        workerRefs[index]._withUnsafeGuaranteedRef(body)
    }

    @inline(__always)
    func withShard<R>(_ index: Int, _ body: (MPMCQueue<QueuedJob>) -> R) -> R {
        shardRefs[index]._withUnsafeGuaranteedRef(body)
    }

    // MARK: - Submission

    /// Queues a closure job submitted on a worker of this pool (always
    /// accepted): normal priority onto the worker's deque as a boxed word
    /// (the box comes from the worker's free list), the rest to the rings.
    @inline(__always)
    func submitInside(_ job: inout QueuedJob?, name: String?, from worker: Worker,
                      priority: Priority, affinity: Int?) {
        if priority == .normal && affinity == nil { return pushOwn(worker.box(&job, name: name), on: worker) }
        if name != nil { job = .word(worker.box(&job, name: name)) }
        pushInside(&job, from: worker, priority: priority, affinity: affinity)
    }

    /// Queues a function job submitted on a worker of this pool (always
    /// accepted), as `submitInside` does a closure: normal priority onto
    /// the worker's deque in a box from its free list (no allocation).
    @inline(__always)
    func submitInside(_ function: FunctionJob, from worker: Worker, priority: Priority, affinity: Int?) {
        let word = worker.box(function)
        if priority == .normal && affinity == nil { return pushOwn(word, on: worker) }
        var job: QueuedJob? = .word(word)
        pushInside(&job, from: worker, priority: priority, affinity: affinity)
    }

    /// Pushes a job word onto the submitting worker's own deque and wakes a
    /// parked neighbour if nobody searches.
    @inline(__always)
    private func pushOwn(_ word: UInt, on worker: Worker) {
        worker.countSubmitted()
        worker.deque.push(word)
        wakeIfIdle()
    }

    // The push paths take the job as an `inout` optional and move it out
    // at the very end (into a ring cell, an overflow list or an inbox): a
    // job holding a closure is never copied on its way, so no retain and
    // release of the closure's context (which the worker's final release
    // touches too) are paid per submit.

    /// Queues a job from a worker of this pool onto a ring (always accepted).
    @inline(__always)
    func pushInside(_ job: inout QueuedJob?, from worker: Worker, priority: Priority, affinity: Int?) {
        worker.countSubmitted()
        if let target = affinity {
            pin(&job, to: target)
            return
        }
        switch priority {
        case .high: pushShared(high, &job)
        case .low: pushShared(low, &job)
        case .normal: pushCentral(&job, from: worker.homeShard)
        }
        wakeIfIdle()
    }

    /// Queues a job from outside the pool; the caller counted it.
    @inline(__always)
    func pushOutside(_ job: inout QueuedJob?, priority: Priority, affinity: Int?) {
        if let target = affinity {
            pin(&job, to: target)
            return
        }
        switch priority {
        case .high: pushShared(high, &job)
        case .low: pushShared(low, &job)
        case .normal: pushCentral(&job, from: outsideShard())
        }
        // The push's claim is a seq_cst RMW (MPMCQueue's enqueue CAS, or the
        // overflow count), so seq_cst loads after it complete the Dekker
        // handshake with a parking worker without a separate fence.
        if sleepers.atomic.pointee.load(ordering: .sequentiallyConsistent) > 0
            && searching.atomic.pointee.load(ordering: .sequentiallyConsistent) == 0 {
            wakeOne()
        }
    }

    /// Wakes one parked worker if some are parked and none is searching.
    @inline(__always)
    func wakeIfIdle() {
        if sleepers.load() > 0 && searching.load() == 0 { wakeOne() }
    }

    /// Pops a parked worker, counts it as searching, and unparks it.
    @inline(never)
    func wakeOne() {
        let index: Int? = idle.withLock { stack in
            guard let i = stack.pop() else { return nil }
            sleepers.add(-1)
            searching.add(1)  // on its behalf, so other submitters hold back until it runs
            return i
        }
        if let index { withWorker(index) { $0.parker.unpark() } }
    }

    /// Wakes every parked worker (shutdown).
    func wakeAll() {
        let woken: [Int] = idle.withLock { stack in
            var all: [Int] = []
            while let i = stack.pop() { all.append(i) }
            sleepers.add(-all.count)
            searching.add(all.count)
            return all
        }
        for i in woken { withWorker(i) { $0.parker.unpark() } }
    }

    @inline(__always)
    private func pushShared(_ queue: MPMCQueue<QueuedJob>, _ job: inout QueuedJob?) {
        if queue.tryEnqueue(taking: &job) { return }
        pushOverflow(&job)
    }

    /// Onto central shard `first`, or when it is full the next ones in
    /// turn (a burst from one thread spreads over every ring before it
    /// spills), then the overflow list.
    @inline(__always)
    private func pushCentral(_ job: inout QueuedJob?, from first: Int) {
        if withShard(first, { $0.tryEnqueue(taking: &job) }) { return }
        pushCentralSlow(&job, from: first)
    }

    @inline(never)
    private func pushCentralSlow(_ job: inout QueuedJob?, from first: Int) {
        let n = shardRefs.count
        var k = first
        for _ in 1..<n {
            k = k == n - 1 ? 0 : k + 1
            if withShard(k, { $0.tryEnqueue(taking: &job) }) { return }
        }
        pushOverflow(&job)
    }

    @inline(never)
    private func pushOverflow(_ job: inout QueuedJob?) {
        overflow.withLock { $0.append(job.take().unsafelyUnwrapped) }
        overflowCount.wrappingAdd(1, ordering: .sequentiallyConsistent)  // the Dekker "write" (see pushOutside)
    }

    private func pin(_ job: inout QueuedJob?, to target: Int) {
        withWorker(target) { $0.pin(&job) }
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // the push before reading the idle stack
        guard sleepers.load() > 0 else { return }
        let woke = idle.withLock { stack -> Bool in
            guard stack.remove(target) else { return false }
            sleepers.add(-1)
            searching.add(1)
            return true
        }
        if woke { withWorker(target) { $0.parker.unpark() } }
    }

    /// The submitting thread's shard: a hash of its pthread_t (thread
    /// stacks are far apart) mapped onto the shards by a multiply-shift
    /// (no division on the hot path).
    @inline(__always)
    private func outsideShard() -> Int {
        let n = UInt64(shardRefs.count)
        if n == 1 { return 0 }
        #if os(Linux)
        let t = UInt64(pthread_self())
        #else
        let t = UInt64(UInt(bitPattern: pthread_self()))
        #endif
        let hash = ((t >> 12) &* 0x9E37_79B9_7F4A_7C15) >> 32   // 32 well-mixed bits
        return Int((hash &* n) >> 32)
    }

    // MARK: - The worker loop

    private func runWorker(_ worker: Worker) {
        let slot = UnsafeMutablePointer<WorkerSlot>.allocate(capacity: 1)
        slot.initialize(to: WorkerSlot(core: Unmanaged.passUnretained(self).toOpaque(),
                                       worker: Unmanaged.passUnretained(worker)))
        pthread_setspecific(slotKey, slot)
        defer { pthread_setspecific(slotKey, nil); slot.deallocate() }
        var isSearching = false  // counted in `searching`
        while true {
            if let job = findWork(worker) {
                if isSearching { stopSearching(worker); isSearching = false }
                execute(job, on: worker)
                continue
            }
            if !isSearching {
                searching.add(1)
                worker.setState(Worker.searching)
                isSearching = true
            }
            if let job = spin(worker) {
                stopSearching(worker)
                isSearching = false
                execute(job, on: worker)
                continue
            }
            switch park(worker) {
            case .terminated: return
            case .searching: continue
            }
        }
    }

    /// Leaves the searching state to run work; the last searcher wakes one
    /// more worker when work is left: shared work, or a batch it just moved
    /// into its own deque.
    @inline(__always)
    private func stopSearching(_ worker: Worker) {
        worker.setState(Worker.running)
        if searching.add(-1) == 0 && sleepers.load() > 0 && (!worker.deque.isEmpty || hasSharedWork()) {
            wakeOne()
        }
    }

    @inline(__always)
    private func findWork(_ worker: Worker) -> QueuedJob? {
        let tick = worker.nextTick()
        if tick % 127 == 0, let j = low.tryDequeue() { return j }  // low is never starved
        if let j = high.tryDequeue() { return j }
        if tick % 61 == 0, let j = takeShared(worker) { return j }
        if let j = worker.takeFromInbox() { return j }
        if let w = worker.deque.pop() { return .word(w) }  // an empty deque costs two plain loads
        if let w = steal(worker) { return .word(w) }
        if let j = takeShared(worker) { return j }
        return low.tryDequeue()
    }

    @inline(__always)
    private func steal(_ worker: Worker) -> UInt? {
        let n = workerRefs.count
        if n == 1 { return nil }
        // A random first victim by multiply-shift, then each other worker
        // once, in order (no division on this path).
        let r = worker.nextRandom() >> 32
        var start = Int((r &* UInt64(n)) >> 32)
        if start == worker.index { start = start == n - 1 ? 0 : start + 1 }
        for attempt in 0..<2 {
            var contended = false
            var v = start
            for _ in 0..<n {
                if v != worker.index {
                    // Cheap look (two relaxed loads) before a steal and its fence.
                    switch withWorker(v, { $0.stealer.isEmpty ? .empty : $0.stealer.steal() }) {
                    case .success(let w):
                        worker.countStolen()
                        return w
                    case .retry: contended = true
                    case .empty: break
                    }
                }
                v = v == n - 1 ? 0 : v + 1
            }
            if !contended || attempt == 1 { break }
        }
        return nil
    }

    /// Takes from the central rings, home shard first, then the overflow
    /// list: a batch when several wait (see `takeBatch`).
    @inline(__always)
    private func takeShared(_ worker: Worker) -> QueuedJob? {
        let n = shardRefs.count
        var k = worker.homeShard
        for _ in 0..<n {
            if let j = withShard(k, { takeBatch(from: $0, worker) }) { return j }
            k = k == n - 1 ? 0 : k + 1
        }
        if overflowCount.load(ordering: .acquiring) > 0 { return takeOverflow(worker) }
        return nil
    }

    /// The most a worker moves from a central ring into its deque at once.
    static let batchLimit = 16

    /// Takes one job to run now and, when more wait, a share of them
    /// (about 1/workers of what the ring holds, at most `batchLimit` in
    /// all) into the worker's own deque with one claim of the ring: fewer
    /// contended claims and cache-line transfers per job, and the moved jobs
    /// stay visible to thieves.
    @inline(__always)
    private func takeBatch(from ring: MPMCQueue<QueuedJob>, _ worker: Worker) -> QueuedJob? {
        let waiting = ring.count
        if waiting <= 0 { return nil }
        let limit = min(ExecutorCore.batchLimit, 1 + (waiting - 1) / workerRefs.count)
        if limit == 1 { return ring.tryDequeue() }
        let taken = ring.tryDequeue(upTo: limit, into: worker.batch)
        if taken == 0 { return nil }
        if taken > 1 { pushBatch(worker, taken) }
        return worker.batch.move()
    }

    /// Takes one job from the overflow list, and a share of the rest into
    /// the worker's deque, under one lock acquisition.
    @inline(never)
    private func takeOverflow(_ worker: Worker) -> QueuedJob? {
        let taken = overflow.withLock { list -> Int in
            let share = min(ExecutorCore.batchLimit, 1 + list.count / workerRefs.count)
            var n = 0
            while n < share, let job = list.popFirst() {
                (worker.batch + n).initialize(to: job)
                n &+= 1
            }
            overflowCount.wrappingSubtract(n, ordering: .relaxed)
            return n
        }
        if taken == 0 { return nil }
        if taken > 1 { pushBatch(worker, taken) }
        return worker.batch.move()
    }

    /// Moves `worker.batch[1..<count]` onto the worker's deque, newest first
    /// (the owner pops them oldest first), a closure into a box; wakes a
    /// neighbour as any pile-up on a deque does. (They were counted as
    /// submitted when they entered the ring: moving them counts nothing.)
    @inline(__always)
    private func pushBatch(_ worker: Worker, _ count: Int) {
        var i = count &- 1
        while i > 0 {
            var job = (worker.batch + i).move()
            worker.deque.push(worker.word(for: &job))
            i &-= 1
        }
        wakeIfIdle()
    }

    /// Searches the queues `spinBudget` rounds before parking.
    private func spin(_ worker: Worker) -> QueuedJob? {
        let budget = configuration.spinBudget
        var round = 0
        while round < budget {
            if let j = findWork(worker) { return j }
            if round < budget / 2 { Backoff.relax(64) } else { sched_yield() }
            round += 1
        }
        return nil
    }

    private enum ParkOutcome { case searching, terminated }

    /// Parks until woken (see the top comment). The worker is searching on
    /// entry and on a `.searching` return (counted either way).
    private func park(_ worker: Worker) -> ParkOutcome {
        searching.add(-1)
        idle.withLock { stack in
            stack.push(worker.index)
            sleepers.add(1)
        }
        worker.setState(Worker.parked)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // on the stack before the re-check (Dekker, see top)
        let terminated = phase.load(ordering: .acquiring) == ExecutorCore.terminated
        if hasWork(for: worker) || terminated {
            unpark(worker)
            if terminated && !hasWork(for: worker) {
                searching.add(-1)
                return .terminated
            }
            return .searching
        }
        if phase.load(ordering: .relaxed) != ExecutorCore.running { shutdownWaiter.unpark() }
        worker.parker.park()
        unpark(worker)
        return .searching
    }

    /// Comes back from parking as a searcher: if still on the idle stack
    /// (it left by itself, or a stale permit woke it) take it off and count
    /// it as searching; otherwise its waker already did both.
    private func unpark(_ worker: Worker) {
        idle.withLock { stack in
            if stack.remove(worker.index) {
                sleepers.add(-1)
                searching.add(1)
            }
        }
        worker.setState(Worker.searching)
    }

    private func hasSharedWork() -> Bool {
        if !high.isEmpty || !low.isEmpty || overflowCount.load(ordering: .relaxed) > 0 { return true }
        for s in shards where !s.isEmpty { return true }
        return false
    }

    private func hasWork(for worker: Worker) -> Bool {
        if hasSharedWork() || worker.inboxDepth > 0 { return true }
        for w in workers where !w.stealer.isEmpty { return true }
        return false
    }

    // MARK: - Running work

    @inline(__always)
    private func execute(_ job: consuming QueuedJob, on worker: Worker) {
        let observerWord = observer.load(ordering: .acquiring)
        if observerWord != 0 {
            executeObserved(job, on: worker, observer: observerWord)
        } else if !job.body.isEmpty {
            job.body.run()
        } else {
            run(job.word, on: worker)
        }
        worker.countExecuted()
    }

    @inline(__always)
    private func run(_ word: UInt, on worker: Worker) {
        if JobWord.isSwiftJob(word) {
            JobWord.swiftJob(word).runSynchronously(on: taskExecutor!)
        } else {
            worker.runClosure(word)
        }
    }

    @inline(never)
    private func executeObserved(_ job: consuming QueuedJob, on worker: Worker, observer observerWord: UInt) {
        let box = Unmanaged<ObserverBox>.fromOpaque(UnsafeRawPointer(bitPattern: observerWord)!).takeUnretainedValue()
        let isSwift = job.body.isEmpty && JobWord.isSwiftJob(job.word)
        let name = job.body.isEmpty ? JobWord.peekName(job.word) : nil
        let info = ExecutorJobInfo(id: worker.nextJobID(), name: name, worker: worker.index, isSwiftJob: isSwift)
        if name != nil { worker.currentName.withLock { $0 = name } }
        box.observer.willRun(info)
        if !job.body.isEmpty { job.body.run() } else { run(job.word, on: worker) }
        box.observer.didRun(info)
        if name != nil { worker.currentName.withLock { $0 = nil } }
    }

    // MARK: - Shutdown

    /// Σexecuted == Σsubmitted, executed read first (see the top comment).
    func isQuiescent() -> Bool {
        var executed = 0
        for w in workers { executed &+= w.executed }
        var submitted = outsideSubmitted.atomic.pointee.load(ordering: .sequentiallyConsistent)
        for w in workers { submitted &+= w.submitted }
        return executed == submitted
    }

    private func waitUntilQuiescent() {
        while !isQuiescent() {
            wakeAll()                                   // parked workers re-check
            shutdownWaiter.park(timeout: .milliseconds(2))
        }
    }

    /// Runs the shutdown protocol (top comment); joins the threads when
    /// `join` is true. Idempotent: a second caller waits for the first.
    func shutdown(join: Bool) {
        if shutdownStarted.exchange(true, ordering: .acquiringAndReleasing) {
            if join {
                finishedLock.lock()
                while !finished { finishedLock.wait() }
                finishedLock.unlock()
            }
            return
        }
        phase.store(ExecutorCore.draining, ordering: .sequentiallyConsistent)
        waitUntilQuiescent()
        phase.store(ExecutorCore.stopping, ordering: .sequentiallyConsistent)
        waitUntilQuiescent()
        phase.store(ExecutorCore.terminated, ordering: .sequentiallyConsistent)
        wakeAll()
        let all = threads.withLock { $0 }
        if join {
            for t in all { t.join() }
        } else {
            for t in all { t.detach() }
        }
        finishedLock.lock()
        finished = true
        finishedLock.unlock()
        finishedLock.broadcast()
    }

    var isShutDown: Bool { phase.load(ordering: .acquiring) != ExecutorCore.running }
}

/// The parked workers, most recent on top (it is the warmest). Guarded by
/// `ExecutorCore.idle`.
struct IdleStack {
    private var items: [Int] = []
    private var member: [Bool] = []

    mutating func push(_ i: Int) {
        if i >= member.count { member += Array(repeating: false, count: i + 1 - member.count) }
        if member[i] { return }
        member[i] = true
        items.append(i)
    }

    mutating func pop() -> Int? {
        guard let i = items.popLast() else { return nil }
        member[i] = false
        return i
    }

    /// Removes `i`; false when it was not on the stack.
    mutating func remove(_ i: Int) -> Bool {
        guard i < member.count, member[i] else { return false }
        member[i] = false
        items.removeAll { $0 == i }
        return true
    }
}

/// Holds an observer behind one word for the hot path's single load.
final class ObserverBox: Sendable {
    let observer: any ExecutorObserver
    init(_ observer: any ExecutorObserver) { self.observer = observer }
}
