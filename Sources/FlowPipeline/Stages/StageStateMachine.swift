import FlowAtomics

/// One admitted item and its weight.
@usableFromInline
struct StageEntry<Input: Sendable>: Sendable {
    @usableFromInline let item: Input
    @usableFromInline let weight: Int64

    @inlinable init(item: Input, weight: Int64) {
        self.item = item
        self.weight = weight
    }
}

/// What a worker is told when it asks for work.
@usableFromInline
enum StageWorkerStep<Input: Sendable>: Sendable {
    /// Process this item; `canceled` means the stage was stopped, so answer
    /// with a `CancellationError` result without running the body.
    case item(StageEntry<Input>, canceled: Bool)
    /// Leave the loop (input closed and drained, or scaled down).
    case exit
    /// Nothing to do yet: park.
    case park
}

/// What to do once the lock is released: continuations to resume, tasks to
/// cancel, workers to start, and the finish of the output.
///
/// The per-item paths only ever resume continuations; everything else sits
/// in `rare`, which stays nil on those paths (one branch to test, nothing
/// to release).
@usableFromInline
struct StageEffects<Input: Sendable> {
    @usableFromInline struct Rare {
        @usableFromInline var finishResumes: [UnsafeContinuation<StageCause, Never>] = []
        @usableFromInline var finalCause: StageCause?
        @usableFromInline var cancelTasks: [Task<Void, Never>] = []
        @usableFromInline var spawn: [Int] = []

        @inlinable init() {}
    }

    @usableFromInline var submitResumes: [(UnsafeContinuation<Void, any Error>, Result<Void, any Error>)] = []
    @usableFromInline var workerResumes: [(UnsafeContinuation<StageWorkerStep<Input>, Never>, StageWorkerStep<Input>)] = []
    @usableFromInline var rare: Rare?

    @inlinable init() {}

    /// Changes the rare effects (creating them on first use).
    @inlinable mutating func updateRare(_ body: (inout Rare) -> Void) {
        var value = rare ?? Rare()
        rare = nil
        body(&value)
        rare = value
    }
}

/// The pure state of a ``Stage``: admission (the rope), the input buffer,
/// idle workers, the terminal cause and the counters. Every method runs
/// under the stage's lock and records side effects in `StageEffects`,
/// which the stage performs after unlocking.
///
/// Lifecycle: open → input closed (by `closeInput`, a pipe feeder's end,
/// fail-fast or cancel; blocked submits are released with `.closed`) →
/// drained (buffer empty, every worker gone, no feeder) → finished (cause
/// latched, output finished). `stopped` (fail-fast or cancel) additionally
/// turns every buffered item into a canceled result.
@usableFromInline
struct StageStateMachine<Input: Sendable> {
    @usableFromInline struct Waiter {
        @usableFromInline let id: UInt64
        @usableFromInline let entry: StageEntry<Input>
        @usableFromInline let continuation: UnsafeContinuation<Void, any Error>
        @usableFromInline let since: UInt64
        @usableFromInline let fromFeeder: Bool

        @inlinable init(
            id: UInt64, entry: StageEntry<Input>, continuation: UnsafeContinuation<Void, any Error>, since: UInt64,
            fromFeeder: Bool
        ) {
            self.id = id
            self.entry = entry
            self.continuation = continuation
            self.since = since
            self.fromFeeder = fromFeeder
        }
    }

    @usableFromInline struct IdleWorker {
        @usableFromInline let id: Int
        @usableFromInline let continuation: UnsafeContinuation<StageWorkerStep<Input>, Never>
        @usableFromInline let since: UInt64

        @inlinable init(id: Int, continuation: UnsafeContinuation<StageWorkerStep<Input>, Never>, since: UInt64) {
            self.id = id
            self.continuation = continuation
            self.since = since
        }
    }

    @usableFromInline enum Admission {
        case admitted
        case rejected(any Error)
        case mustWait(UInt64)
    }

    @usableFromInline let capacity: Int
    @usableFromInline let continueOnError: Bool
    @usableFromInline var maxWIP: Int
    @usableFromInline var maxWIPWeight: Int64
    @usableFromInline var paused = false

    @usableFromInline var queue = FIFOBuffer<StageEntry<Input>>()
    @usableFromInline var waiters = FIFOBuffer<Waiter>()
    @usableFromInline var idle: [IdleWorker] = []
    @usableFromInline var nextWaiterID: UInt64 = 0

    @usableFromInline var targetWorkers: Int
    @usableFromInline var activeWorkers = 0
    @usableFromInline var nextWorkerID = 0
    @usableFromInline var tasks: [Int: Task<Void, Never>] = [:]
    @usableFromInline var live: Set<Int> = []

    @usableFromInline var inputClosed = false
    @usableFromInline var stopped = false
    @usableFromInline var terminal: StageCause?  // first of fail-fast / cancel wins
    @usableFromInline var producers = 0  // pipe feeders still running
    @usableFromInline var finalCause: StageCause?
    @usableFromInline var finishWaiters: [UnsafeContinuation<StageCause, Never>] = []

    @usableFromInline var stats = StageStats()
    @usableFromInline var serviceNs: UInt64 = 0
    @usableFromInline var idleNs: UInt64 = 0
    @usableFromInline var blockedNs: UInt64 = 0
    @usableFromInline var wipWaitNs: UInt64 = 0
    @usableFromInline var histogram: StageHistogram?

    @usableFromInline init(options: StageOptions<Input>) {
        capacity = options.capacity
        continueOnError = options.continueOnError
        let ceiling = options.capacity + options.workers
        maxWIP = options.maxWIP == 0 ? ceiling : min(max(1, options.maxWIP), ceiling)
        maxWIPWeight = options.maxWIPWeight
        targetWorkers = options.workers
        histogram = options.tracksServiceTimeDistribution ? StageHistogram() : nil
    }

    // MARK: admission

    @inlinable func canAdmit(_ weight: Int64) -> Bool {
        !paused && stats.admitted < maxWIP && (maxWIPWeight == 0 || stats.admittedWeight + weight <= maxWIPWeight)
    }

    @inlinable func rejection(_ entry: StageEntry<Input>) -> (any Error)? {
        if inputClosed { return StageError.closed }
        if maxWIPWeight > 0 && entry.weight > maxWIPWeight {
            return StageError.weightExceedsLimit(weight: entry.weight, limit: maxWIPWeight)
        }
        return nil
    }

    @inlinable mutating func admit(_ entry: StageEntry<Input>, fromFeeder: Bool, _ effects: inout StageEffects<Input>) {
        stats.admitted += 1
        stats.admittedWeight += entry.weight
        stats.submitted += 1
        if fromFeeder { stats.received += 1 }
        queue.append(entry)
        dispatch(&effects)
    }

    @inlinable mutating func submit(_ entry: StageEntry<Input>, fromFeeder: Bool, _ effects: inout StageEffects<Input>) -> Admission {
        if let error = rejection(entry) { return .rejected(error) }
        if waiters.isEmpty && canAdmit(entry.weight) {
            admit(entry, fromFeeder: fromFeeder, &effects)
            return .admitted
        }
        nextWaiterID += 1
        return .mustWait(nextWaiterID)
    }

    /// Second phase of a blocked submit: re-checks, then queues the waiter.
    @inlinable mutating func enqueue(
        id: UInt64, _ entry: StageEntry<Input>, fromFeeder: Bool, cancelled: Bool, since: UInt64,
        _ continuation: UnsafeContinuation<Void, any Error>, _ effects: inout StageEffects<Input>
    ) {
        if cancelled {
            effects.submitResumes.append((continuation, .failure(CancellationError())))
        } else if let error = rejection(entry) {
            effects.submitResumes.append((continuation, .failure(error)))
        } else if waiters.isEmpty && canAdmit(entry.weight) {
            admit(entry, fromFeeder: fromFeeder, &effects)
            effects.submitResumes.append((continuation, .success(())))
        } else {
            waiters.append(Waiter(id: id, entry: entry, continuation: continuation, since: since, fromFeeder: fromFeeder))
            stats.wipWaits += 1
            stats.maxWaiters = max(stats.maxWaiters, waiters.count)
        }
    }

    @inlinable mutating func cancelWaiter(id: UInt64) -> UnsafeContinuation<Void, any Error>? {
        waiters.remove(where: { $0.id == id })?.continuation
    }

    /// Admits waiters in FIFO order while the head fits (head-of-line: a
    /// heavy head is not overtaken, so waiters are served in order).
    @inlinable mutating func grantWaiters(_ effects: inout StageEffects<Input>) {
        guard !waiters.isEmpty, !inputClosed else { return }
        let now = stageNow()
        while let head = waiters.first, canAdmit(head.entry.weight) {
            _ = waiters.popFirst()
            wipWaitNs += now > head.since ? now - head.since : 0
            admit(head.entry, fromFeeder: head.fromFeeder, &effects)
            effects.submitResumes.append((head.continuation, .success(())))
        }
    }

    /// Hands buffered items to parked workers.
    @inlinable mutating func dispatch(_ effects: inout StageEffects<Input>) {
        guard !idle.isEmpty else { return }
        let now = stageNow()
        while !idle.isEmpty, let entry = queue.popFirst() {
            let worker = idle.removeLast()
            idleNs += now > worker.since ? now - worker.since : 0
            stats.inFlightWeight += entry.weight
            effects.workerResumes.append((worker.continuation, .item(entry, canceled: stopped)))
        }
    }

    // MARK: shutdown

    @inlinable mutating func closeInput(_ effects: inout StageEffects<Input>) {
        guard !inputClosed else { return }
        inputClosed = true
        for waiter in waiters.removeAll() {
            effects.submitResumes.append((waiter.continuation, .failure(StageError.closed)))
        }
        if queue.isEmpty {
            let now = stageNow()
            for worker in idle {
                idleNs += now > worker.since ? now - worker.since : 0
                retire(worker.id)
                effects.workerResumes.append((worker.continuation, .exit))
            }
            idle.removeAll()
        }
        maybeFinish(&effects)
    }

    /// Fail-fast or cancel: the first cause wins; input closes, running
    /// bodies are cancelled, buffered items become canceled results.
    @inlinable mutating func stop(_ cause: StageCause, _ effects: inout StageEffects<Input>) {
        guard finalCause == nil else { return }
        if terminal == nil { terminal = cause }
        if !stopped {
            stopped = true
            let running = Array(tasks.values)
            effects.updateRare { $0.cancelTasks = running }
        }
        closeInput(&effects)
    }

    @inlinable mutating func maybeFinish(_ effects: inout StageEffects<Input>) {
        guard finalCause == nil, inputClosed, queue.isEmpty, activeWorkers == 0, producers == 0 else { return }
        let cause = terminal ?? .completed
        finalCause = cause
        let waiting = finishWaiters
        effects.updateRare {
            $0.finalCause = cause
            $0.finishResumes = waiting
        }
        finishWaiters.removeAll()
    }

    // MARK: workers

    @inlinable mutating func retire(_ id: Int) {
        activeWorkers -= 1
        live.remove(id)
        tasks.removeValue(forKey: id)
    }

    @inlinable mutating func take(worker id: Int, _ effects: inout StageEffects<Input>) -> StageWorkerStep<Input> {
        if activeWorkers > targetWorkers {
            retire(id)
            maybeFinish(&effects)
            return .exit
        }
        if let entry = queue.popFirst() {
            stats.inFlightWeight += entry.weight
            return .item(entry, canceled: stopped)
        }
        if inputClosed {
            retire(id)
            maybeFinish(&effects)
            return .exit
        }
        return .park
    }

    @inlinable mutating func park(
        worker id: Int, since: UInt64, _ continuation: UnsafeContinuation<StageWorkerStep<Input>, Never>,
        _ effects: inout StageEffects<Input>
    ) -> StageWorkerStep<Input>? {
        let step = take(worker: id, &effects)
        if case .park = step {
            idle.append(IdleWorker(id: id, continuation: continuation, since: since))
            return nil
        }
        if case .exit = step { idleNs += stageElapsed(since: since) }
        return step
    }

    @inlinable mutating func finish(
        _ entry: StageEntry<Input>, canceled: Bool, failed: Bool, serviceNanoseconds: UInt64,
        blockedNanoseconds: UInt64, _ effects: inout StageEffects<Input>
    ) {
        if canceled {
            stats.canceled += 1
        } else {
            stats.completed += 1
            if failed { stats.failed += 1 }
            serviceNs += serviceNanoseconds
            histogram?.record(serviceNanoseconds)
        }
        blockedNs += blockedNanoseconds
        stats.admitted -= 1
        stats.admittedWeight -= entry.weight
        stats.inFlightWeight -= entry.weight
        grantWaiters(&effects)
    }

    @inlinable mutating func spawnWorkers(_ count: Int, _ effects: inout StageEffects<Input>) {
        for _ in 0..<count {
            let id = nextWorkerID
            nextWorkerID += 1
            activeWorkers += 1
            live.insert(id)
            effects.updateRare { $0.spawn.append(id) }
        }
    }

    /// Stores a started worker's task; true when it must be cancelled at once.
    @inlinable mutating func register(_ task: Task<Void, Never>, worker id: Int) -> Bool {
        if live.contains(id) { tasks[id] = task }
        return stopped
    }

    // MARK: control

    @inlinable mutating func setWorkers(_ n: Int, _ effects: inout StageEffects<Input>) throws -> Int {
        guard n >= 1 else { throw FlowError.invalid("workers", n, "must be ≥ 1") }
        guard !stopped, finalCause == nil else { throw StageError.stopping }
        targetWorkers = n
        if activeWorkers < n {
            spawnWorkers(n - activeWorkers, &effects)
        } else {
            let now = stageNow()
            while activeWorkers > n, let worker = idle.popLast() {
                idleNs += now > worker.since ? now - worker.since : 0
                retire(worker.id)
                effects.workerResumes.append((worker.continuation, .exit))
            }
        }
        return n
    }

    @inlinable mutating func setMaxWIP(_ n: Int, _ effects: inout StageEffects<Input>) -> Int {
        maxWIP = min(max(1, n), capacity + targetWorkers)
        grantWaiters(&effects)
        return maxWIP
    }

    @inlinable mutating func setMaxWIPWeight(_ n: Int64, _ effects: inout StageEffects<Input>) -> Int64 {
        maxWIPWeight = max(0, n)
        if maxWIPWeight > 0 {
            let limit = maxWIPWeight
            for waiter in waiters.removeAll(where: { $0.entry.weight > limit }) {
                let error = StageError.weightExceedsLimit(weight: waiter.entry.weight, limit: limit)
                effects.submitResumes.append((waiter.continuation, .failure(error)))
            }
        }
        grantWaiters(&effects)
        return maxWIPWeight
    }

    @inlinable mutating func setPaused(_ paused: Bool, _ effects: inout StageEffects<Input>) {
        self.paused = paused
        if !paused { grantWaiters(&effects) }
    }

    @usableFromInline var snapshot: StageStats {
        var s = stats
        s.serviceTime = .stageNanoseconds(serviceNs)
        s.idleTime = .stageNanoseconds(idleNs)
        s.outputBlockedTime = .stageNanoseconds(blockedNs)
        s.wipWaitTime = .stageNanoseconds(wipWaitNs)
        s.bufferedDepth = queue.count
        s.queueCapacity = capacity
        s.paused = paused
        s.maxWIP = maxWIP
        s.maxWIPWeight = maxWIPWeight
        s.waiters = waiters.count
        s.targetWorkers = targetWorkers
        s.activeWorkers = activeWorkers
        s.serviceTimeDistribution = histogram?.summary
        return s
    }
}
