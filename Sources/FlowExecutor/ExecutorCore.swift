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
// Queues (every unit of work is one word, see JobWord):
// - per worker: a Chase–Lev deque (owner pushes/pops LIFO, others steal
//   FIFO) for normal-priority closures submitted from inside the pool, and
//   an affinity inbox (Vyukov ring + overflow) that only its worker takes from;
// - central: `centralShards` Vyukov rings for normal work from outside and
//   for Swift jobs (FIFO, so a task that yields lets others run), one ring
//   for high and one for low priority, and an overflow list used only when
//   a ring is full (work is never dropped and a submitter never blocks).
//
// The loop of a worker (`runWorker`), each tick:
//   (every 127th tick) low ring → high ring → (every 61st tick) central
//   → affinity inbox → own deque → steal from random victims → central
//   shards → low ring. Out of work, it counts itself as searching and spins
//   `spinBudget` rounds over the shared queues, then parks.
//
// Parking without lost wake-ups, on one EventCount:
//   worker:    key = prepareWait(); searching -= 1; state = parked;
//              fence; re-check every queue; commitWait(key) or cancelWait()
//   submitter: push; fence; if waiters > 0 && searching == 0 { notifyOne }
// Both sides order their write before their read with a seq_cst fence
// (Dekker): either the submitter sees the waiter, or the waiter's re-check
// sees the work. While any worker searches, submitters skip the wake-up
// (that worker will find the work): outside submissions wake at most as
// fast as workers actually park, and a busy pool costs no syscall. A
// worker that pushes onto its own deque wakes a neighbour only when work
// piles up (more than one item waiting) and nobody searches; it needs no
// fence, since it will run the work itself if nobody else does. A searcher
// that finds work and was the last searcher wakes one more worker when
// shared work is left (the chain that fans work out to parked workers).
// Pinned work wakes everyone if its target worker is parked (it cannot be
// picked out of one EventCount; pinning is the rare path).
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

final class ExecutorCore: @unchecked Sendable {
    // Safe to share: all fields are immutable after init except the atomics,
    // the `Locked` values and `taskExecutor`, which is written once before
    // any worker thread starts (thread creation orders it before their reads).
    let configuration: Executor.Configuration
    let workers: [Worker]
    let shards: [MPMCQueue<UInt>]
    let high: MPMCQueue<UInt>
    let low: MPMCQueue<UInt>
    let overflow = Locked<[UInt]>([])
    let overflowCount = Atomic<Int>(0)
    let events = EventCount()
    let searching = PaddedAtomic(0)
    let outsideSubmitted = PaddedAtomic(0)
    let phase = Atomic<Int>(0)
    let observer = Atomic<UInt>(0)            // an Unmanaged<ObserverBox> word, or 0
    let observers = Locked<[ObserverBox]>([]) // keeps every observer ever set alive
    let threads = Locked<[pthread_t]>([])
    let shutdownWaiter = Parker()
    let shutdownStarted = Atomic<Bool>(false)
    let finishedLock = ConditionLock()
    nonisolated(unsafe) var finished = false  // protected by finishedLock
    nonisolated(unsafe) var taskExecutor: UnownedTaskExecutor? = nil

    static let running = 0, draining = 1, stopping = 2, terminated = 3

    init(configuration: Executor.Configuration) throws(FlowError) {
        self.configuration = configuration
        var workers: [Worker] = []
        for i in 0..<configuration.workers {
            workers.append(try Worker(index: i, inboxCapacity: configuration.inboxCapacity))
        }
        self.workers = workers
        var shards: [MPMCQueue<UInt>] = []
        for _ in 0..<configuration.centralShards {
            shards.append(try MPMCQueue<UInt>(capacity: configuration.shardCapacity))
        }
        self.shards = shards
        high = try MPMCQueue<UInt>(capacity: configuration.shardCapacity)
        low = try MPMCQueue<UInt>(capacity: configuration.shardCapacity)
    }

    deinit {
        // Only reached after termination (threads hold the core): free what
        // a racing forward may have left (nothing, normally).
        for w in workers { while let word = w.deque.pop() { release(word) } }
    }

    private func release(_ word: UInt) {
        if !JobWord.isSwiftJob(word) { _ = JobWord.closureJob(word) }
    }

    func start() {
        var started: [pthread_t] = []
        for worker in workers {
            let name = "\(configuration.name)-\(worker.index)"
            started.append(startThread(name: name) { [self] in self.runWorker(worker) })
        }
        threads.withLock { $0 = started }
    }

    @inline(__always)
    func currentWorker() -> Worker? {
        guard let id = currentWorkerIdentity(), id.core === self else { return nil }
        return id.worker
    }

    // MARK: - Submission

    /// Queues a word from a worker of this pool (always accepted).
    @inline(__always)
    func pushInside(_ word: UInt, from worker: Worker, priority: Priority, affinity: Int?, swiftJob: Bool) {
        worker.countSubmitted()
        if let target = affinity {
            pin(word, to: target)
            return
        }
        switch priority {
        case .high: pushShared(high, word); wakeIfIdle()
        case .low: pushShared(low, word); wakeIfIdle()
        case .normal:
            if swiftJob {
                pushShared(shards[worker.index % shards.count], word)
                wakeIfIdle()
            } else {
                worker.deque.push(word)
                if worker.deque.count > 1 { wakeIfIdle() }  // work is piling up
            }
        }
    }

    /// Queues a word from outside the pool; the caller counted it.
    @inline(__always)
    func pushOutside(_ word: UInt, priority: Priority, affinity: Int?) {
        if let target = affinity {
            pin(word, to: target)
            return
        }
        switch priority {
        case .high: pushShared(high, word)
        case .low: pushShared(low, word)
        case .normal: pushShared(shards[outsideShard()], word)
        }
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // the push before reading waiters (Dekker, see top)
        wakeIfIdle()
    }

    /// Wakes one parked worker if some are parked and none is searching.
    @inline(__always)
    func wakeIfIdle() {
        if events.waiters > 0 && searching.load() == 0 { events.notifyOne() }
    }

    @inline(__always)
    private func pushShared(_ queue: MPMCQueue<UInt>, _ word: UInt) {
        if case .enqueued = queue.tryEnqueue(word) { return }
        overflow.withLock { $0.append(word) }
        overflowCount.wrappingAdd(1, ordering: .releasing)
    }

    private func pin(_ word: UInt, to target: Int) {
        let worker = workers[target]
        worker.pin(word)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // the push before reading its state
        if worker.state == Worker.parked { events.notifyAll() }
        else { wakeIfIdle() }
    }

    @inline(__always)
    private func outsideShard() -> Int {
        if shards.count == 1 { return 0 }
        let t = unsafeBitCast(pthread_self(), to: UInt.self)  // thread stacks are far apart
        return Int((t >> 16) % UInt(shards.count))
    }

    // MARK: - The worker loop

    private func runWorker(_ worker: Worker) {
        let identity = WorkerIdentity(core: self, worker: worker)
        pthread_setspecific(workerIdentityKey, Unmanaged.passUnretained(identity).toOpaque())
        defer { pthread_setspecific(workerIdentityKey, nil); withExtendedLifetime(identity) {} }
        while true {
            if let word = findWork(worker) {
                execute(word, on: worker)
                continue
            }
            if let word = search(worker) {
                execute(word, on: worker)
                continue
            }
            if park(worker) { return }
        }
    }

    @inline(__always)
    private func findWork(_ worker: Worker) -> UInt? {
        let tick = worker.nextTick()
        if tick % 127 == 0, let w = low.tryDequeue() { return w }  // low is never starved
        if let w = high.tryDequeue() { return w }
        if tick % 61 == 0, let w = takeShared(worker) { return w }
        if let w = worker.takeFromInbox() { return w }
        if let w = worker.deque.pop() { return w }
        if let w = steal(worker) { return w }
        if let w = takeShared(worker) { return w }
        return low.tryDequeue()
    }

    @inline(__always)
    private func steal(_ worker: Worker) -> UInt? {
        let n = workers.count
        if n == 1 { return nil }
        let start = Int(worker.nextRandom() % UInt64(n))
        for attempt in 0..<2 {
            var contended = false
            for k in 0..<n {
                let victim = workers[(start + k) % n]
                if victim === worker { continue }
                switch victim.stealer.steal() {
                case .success(let w):
                    worker.countStolen()
                    return w
                case .retry: contended = true
                case .empty: break
                }
            }
            if !contended || attempt == 1 { break }
        }
        return nil
    }

    @inline(__always)
    private func takeShared(_ worker: Worker) -> UInt? {
        let n = shards.count
        let home = worker.index % n
        for k in 0..<n {
            if let w = shards[(home + k) % n].tryDequeue() { return w }
        }
        if overflowCount.load(ordering: .acquiring) > 0 {
            return overflow.withLock { list -> UInt? in
                guard !list.isEmpty else { return nil }
                overflowCount.wrappingSubtract(1, ordering: .relaxed)
                return list.removeFirst()
            }
        }
        return nil
    }

    /// Spins over the shared queues before parking; the worker counts as
    /// searching meanwhile, which holds back wake-ups from submitters.
    private func search(_ worker: Worker) -> UInt? {
        searching.add(1)
        worker.setState(Worker.searching)
        let budget = configuration.spinBudget
        var round = 0
        while round < budget {
            if let w = findWork(worker) {
                worker.setState(Worker.running)
                if searching.add(-1) == 0 && hasSharedWork() { events.notifyOne() }
                return w
            }
            if round < budget / 2 { Backoff.relax(64) } else { sched_yield() }
            round += 1
        }
        return nil  // still counted as searching; park() takes it off
    }

    /// Parks until notified. Returns true when the executor terminated.
    private func park(_ worker: Worker) -> Bool {
        let key = events.prepareWait()
        searching.add(-1)
        worker.setState(Worker.parked)
        atomicMemoryFence(ordering: .sequentiallyConsistent)  // our announcement before the re-check (Dekker, see top)
        let terminated = phase.load(ordering: .acquiring) == ExecutorCore.terminated
        if hasWork(for: worker) || terminated {
            events.cancelWait()
            worker.setState(Worker.running)
            return terminated && !hasWork(for: worker)
        }
        if phase.load(ordering: .relaxed) != ExecutorCore.running { shutdownWaiter.unpark() }
        events.commitWait(key)
        worker.setState(Worker.running)
        return false
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
    private func execute(_ word: UInt, on worker: Worker) {
        let observerWord = observer.load(ordering: .acquiring)
        if observerWord != 0 {
            executeObserved(word, on: worker, observer: observerWord)
        } else if JobWord.isSwiftJob(word) {
            JobWord.swiftJob(word).runSynchronously(on: taskExecutor!)
        } else {
            JobWord.closureJob(word).body()
        }
        worker.countExecuted()
    }

    @inline(never)
    private func executeObserved(_ word: UInt, on worker: Worker, observer observerWord: UInt) {
        let box = Unmanaged<ObserverBox>.fromOpaque(UnsafeRawPointer(bitPattern: observerWord)!).takeUnretainedValue()
        let isSwift = JobWord.isSwiftJob(word)
        let name = JobWord.peekName(word)
        let info = ExecutorJobInfo(id: worker.nextJobID(), name: name, worker: worker.index, isSwiftJob: isSwift)
        if name != nil { worker.currentName.withLock { $0 = name } }
        box.observer.willRun(info)
        if isSwift {
            JobWord.swiftJob(word).runSynchronously(on: taskExecutor!)
        } else {
            JobWord.closureJob(word).body()
        }
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
            events.notifyAll()                          // parked workers re-check
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
        events.notifyAll()
        let all = threads.withLock { $0 }
        if join {
            for t in all { pthread_join(t, nil) }
        } else {
            for t in all { pthread_detach(t) }
        }
        finishedLock.lock()
        finished = true
        finishedLock.unlock()
        finishedLock.broadcast()
    }

    var isShutDown: Bool { phase.load(ordering: .acquiring) != ExecutorCore.running }
}

/// Holds an observer behind one word for the hot path's single load.
final class ObserverBox: Sendable {
    let observer: any ExecutorObserver
    init(_ observer: any ExecutorObserver) { self.observer = observer }
}
