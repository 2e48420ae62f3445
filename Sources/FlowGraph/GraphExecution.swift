#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// GraphExecution — one run of a GraphPlan on an Executor.
//
// Per node, in buffers made for this run:
// - `counters`, only for the nodes that need them (GraphPlan.counterOf):
//   the in-degree counter of node i holds its predecessors not finished
//   yet in the low 32 bits, plus one `poisonUnit` (bit 32 and up) per
//   predecessor that failed or was not run. A finishing predecessor adds
//   -1 (or poisonUnit - 1) with one acquire-release RMW, so "ready" (low
//   bits zero) and "poisoned" arrive together. Nodes with exactly one predecessor skip the atomic: the
//   predecessor that finishes is the one that makes them ready, and it
//   passes the poison flag along.
// - readers counter of node i: readers of its value not run yet (only
//   when it has more than one reader and a type with something to
//   release; a single reader moves the value out, trivial types are copied).
// - `states[i]`: NodeState code, plus hasValue / released bits. Written by
//   the thread running node i, then (released bit) by its last reader; the
//   two are ordered by the in-degree RMWs.
// - the output slot of node i at `info[i].offset` in `slots`: written by
//   node i before it makes any successor ready (release), read by its
//   readers after they became ready (acquire), destroyed by the last one.
//
// Scheduling: a job runs a chain — run a node, make its successors
// arrive, keep one ready successor to run next on this thread (a loop, so
// long chains need no stack) and submit the others to the executor, which
// from a worker pushes them on that worker's deque. A node with more than
// `spreadThreshold` successors hands them to `spread` jobs that split the
// range in halves (submitting one half) down to a leaf of
// `spreadLeaf(count)` successors — about 16 leaves per worker, at most
// `maxLeaf` (long leaves keep a worker's writes to the per-node state
// bytes together, short ones keep few heavy nodes parallel) — so a wide
// fan-out is spread over the workers by stealing; roots are spread the
// same way from the one job the caller submits.
//
// Completion: every node has a path to a sink (a node without
// successors) and a sink runs only after its predecessors finished, so the
// run is over when every sink finished. Jobs count the sinks they finished
// locally and subtract them from `remainingSinks` once, at the end of the
// job (acquire-release); the job that reaches zero completes the run. After
// that no job touches the run's buffers (a job's last access to them
// precedes the RMW that made its successor ready, or its own subtraction).
// The waiter loads `remainingSinks` with acquire before reading results,
// which synchronises with every job's subtraction (a release sequence).
//
// Deferred arrivals: a node with exactly one successor that has other
// predecessors too (the fan-in of `fanIn`, `reduce`) does not apply its
// arrival at once; the job counts it in `JobState` and applies all the
// arrivals it collected for that successor with one RMW: when it finishes
// a node feeding another successor, before it runs a node that does not
// feed only the deferred one, and when the job ends. A wide fan-in so
// costs one contended RMW per job instead of one per node, and the
// successor is never held back: every node run while arrivals are held
// feeds it, so it could not have been ready before they finished.
//
// Cancellation and failure: `cancelled` (relaxed; a hint read before each
// node starts) makes nodes not started yet finish as cancelled; a failed,
// skipped or cancelled node poisons its successors, which are skipped and
// release their inputs.

/// The state of one run (internal). `GraphRun` keeps it alive for results.
final class GraphExecution: @unchecked Sendable {  // buffers follow the protocol above
    // Safe to share: the unsafe buffers follow the protocol in the comment
    // above (each word is either atomic or handed between threads by an
    // acquire-release RMW); the rest is immutable, atomic, or `Locked`.
    let plan: GraphPlan
    let executor: Executor
    let failFast: Bool
    let recordsTimings: Bool
    /// A live view of the run, or nil. Written only where a node's clock is
    /// read anyway (`clocksNodes`) and on cold paths: nil costs nothing more.
    let monitor: GraphMonitor?
    /// Deadline of `async` nodes that have no `NodeOptions.timeout` of their own.
    let asyncTimeout: Duration?
    /// `recordsTimings || monitor != nil`: every node reads the clock.
    let clocksNodes: Bool
    let n: Int
    let info: UnsafePointer<NodeInfo>   // plan.info's storage (the plan, held here, keeps it)
    let preds: UnsafePointer<Int32>     // plan.preds's storage
    /// The plan's stores, unretained: calling into one costs no reference
    /// counting (both workers would otherwise retain and release the same
    /// store object per node). The plan, which this run holds, owns them.
    let stores: UnsafeMutablePointer<Unmanaged<BodyStore>>
    let succStart: UnsafeMutablePointer<Int32>   // the plan's tables
    let succ: UnsafeMutablePointer<Int32>
    let counters: UnsafeMutablePointer<Atomic<Int>>   // GraphPlan.counterOf, counterStart
    let counterCount: Int
    let counterOf: UnsafeMutablePointer<Int32>
    let states: UnsafeMutablePointer<UInt8>
    let slots: UnsafeMutableRawPointer
    let times: UnsafeMutablePointer<UInt64>?         // start, end per node (ns, monotonic)
    private let statesBlock: GraphStorage.Block
    private let countersBlock: GraphStorage.Block
    private let slotsBlock: GraphStorage.Block?       // nil: slots aligned above 16, allocated apart
    private let timesBlock: GraphStorage.Block?
    let remainingSinks: Atomic<Int>
    let cancelled = Atomic<Bool>(false)
    let cancelledByCaller = Atomic<Bool>(false)
    let startNanos = Atomic<UInt64>(0)
    let endNanos = Atomic<UInt64>(0)
    let failures = Locked<[NodeFailure]>([])
    let waiter = Locked<Waiter?>(nil)
    let asyncTasks = Locked<[Task<Void, Never>]>([])
    let rejection = Locked<FlowError?>(nil)
    /// The scopes of scoped nodes running now (GraphExecution+Scope.swift);
    /// made by the first that needs it, so other runs pay nothing.
    let nodeScopes = AtomicLazyReference<NodeScopes>()

    static let poisonUnit = 1 << 32
    static let pendingMask = (1 << 32) - 1
    static let spreadThreshold = 32
    static let maxLeaf = 32

    enum Waiter {
        case continuation(CheckedContinuation<Void, Never>)
        case parker(Parker)
    }

    init(plan: GraphPlan, executor: Executor, errorPolicy: ErrorPolicy, recordsTimings: Bool,
         monitor: GraphMonitor? = nil, asyncTimeout: Duration? = nil) {
        self.plan = plan
        self.asyncTimeout = asyncTimeout
        self.executor = executor
        failFast = errorPolicy == .failFast
        self.recordsTimings = recordsTimings
        monitor?.attach(to: plan)
        self.monitor = monitor
        clocksNodes = recordsTimings || monitor != nil
        n = plan.nodeCount
        info = unsafeBase(plan.info)
        preds = unsafeBase(plan.preds)
        stores = .allocate(capacity: max(1, plan.stores.count))
        for (k, store) in plan.stores.enumerated() { (stores + k).initialize(to: .passUnretained(store)) }
        succStart = plan.succStart.base
        succ = plan.succ.base
        counterOf = plan.counterOf.base
        counterCount = plan.counterStart.count
        countersBlock = GraphStorage.allocate(bytes: counterCount * MemoryLayout<Atomic<Int>>.stride)
        counters = countersBlock.base.bindMemory(to: Atomic<Int>.self, capacity: counterCount)
        for k in 0..<counterCount { (counters + k).initialize(to: Atomic(Int(plan.counterStart[k]))) }
        // The per-node buffers come from GraphStorage: a graph run again
        // (or the next graph) reuses the pages of the last run.
        statesBlock = GraphStorage.allocate(bytes: n)
        states = statesBlock.base.bindMemory(to: UInt8.self, capacity: n)
        states.initialize(repeating: 0, count: n)
        if plan.slotAlignment <= 16 {
            slotsBlock = GraphStorage.allocate(bytes: plan.slotBytes)
            slots = slotsBlock!.base
        } else {
            slotsBlock = nil
            slots = .allocate(byteCount: max(1, plan.slotBytes), alignment: plan.slotAlignment)
        }
        if recordsTimings {
            timesBlock = GraphStorage.allocate(bytes: 2 * n * MemoryLayout<UInt64>.stride)
            times = timesBlock!.base.bindMemory(to: UInt64.self, capacity: 2 * n)
            times!.initialize(repeating: 0, count: 2 * n)
        } else {
            timesBlock = nil
            times = nil
        }
        remainingSinks = Atomic(plan.sinkCount)
    }

    deinit {
        if !plan.destroyers.isEmpty {   // else every output is trivial: nothing to destroy
            for i in 0..<n { destroyValue(i) }
        }
        counters.deinitialize(count: counterCount)
        GraphStorage.free(countersBlock)
        stores.deallocate()
        GraphStorage.free(statesBlock)
        if let slotsBlock { GraphStorage.free(slotsBlock) } else { slots.deallocate() }
        if let timesBlock { GraphStorage.free(timesBlock) }
    }

    // MARK: - Starting and finishing

    /// Submits the job that spreads the roots. The waiter is set first.
    func start() {
        let t = GraphExecution.now()
        startNanos.store(t, ordering: .relaxed)
        monitor?.runStarted(t)
        let count = plan.sinkCount > 0 ? plan.roots.count : 0
        do {
            try executor.submit { self.runRoots(0, count) }
        } catch {
            rejection.withLock { $0 = error }
            finish()
        }
    }

    /// Subtracts the sinks a job finished; the job that reaches zero completes the run.
    @inline(__always)
    func flush(_ sinks: Int) {
        guard sinks > 0 else { return }
        if remainingSinks.wrappingSubtract(sinks, ordering: .acquiringAndReleasing).newValue == 0 { finish() }
    }

    /// Completes the run: the last access of any job to it is taking the
    /// waiter, under its lock (see `submitNode`, `hasFinished`).
    private func finish() {
        let t = GraphExecution.now()
        endNanos.store(t, ordering: .relaxed)
        monitor?.runFinished(t)
        let waiter = waiter.withLock { w -> Waiter? in
            defer { w = nil }
            return w
        }
        switch waiter {
        case .continuation(let c): c.resume()
        case .parker(let p): p.unpark()
        case nil: break
        }
    }

    /// Whether `finish` ran (and took the waiter): from then on no job
    /// touches the run.
    var hasFinished: Bool {
        waiter.withLock { if case .none = $0 { true } else { false } }
    }

    /// Cancels the run for the caller: nodes not started are cancelled,
    /// running async bodies are cancelled.
    func cancel() {
        cancelledByCaller.store(true, ordering: .relaxed)
        cancelled.store(true, ordering: .relaxed)
        for task in asyncTasks.withLock({ $0 }) { task.cancel() }
        cancelNodeScopes()
    }

    /// Waits (by acquire) for every job's writes, then reports the run.
    func result() throws -> GraphRun {
        _ = remainingSinks.load(ordering: .acquiring)
        if let rejected = rejection.withLock({ $0 }) { throw rejected }
        let run = GraphRun(execution: self)
        if cancelledByCaller.load(ordering: .relaxed) { throw CancellationError() }
        let failures = failures.withLock { $0 }
        if !failures.isEmpty { throw GraphError(graph: plan.name, failures: failures, run: run) }
        return run
    }

    // MARK: - Jobs

    @inline(__always)
    private func submitJob(priority: Priority = .normal, affinity: Int? = nil, _ job: @escaping @Sendable () -> Void) {
        do {
            try executor.submit(priority: priority, affinity: affinity, job)
        } catch {
            job()  // the executor is shutting down: run it here rather than lose it
        }
    }

    /// Submits a node with its options (priority, affinity) as a function
    /// job: the run, unretained, and the node's index with its poison flag
    /// in one word. A closure capturing them would be a heap allocation per
    /// submitted node (a third of a tree node's cost).
    ///
    /// Unretained is safe: the run outlives every node job. It completes
    /// only when every sink finished, a sink only after every node with a
    /// path to it finished, and a queued node has not; the caller of
    /// `run`/`runBlocking` holds the run until completion, and the job that
    /// completes it touches nothing of it after waking the caller
    /// (`finish`). Other jobs (roots, spreads) capture the run in a closure.
    private func submitNode(_ node: Int32, poisoned: Bool) {
        let options = info[Int(node)].flags & NodeInfo.needsSubmit != 0 ? plan.options[node] : nil
        let argument = UInt(UInt32(bitPattern: node)) << 1 | (poisoned ? 1 : 0)
        do {
            try executor.submit(priority: options?.priority ?? .normal, affinity: options?.affinity,
                                context: Unmanaged.passUnretained(self).toOpaque(), argument: argument) { run, argument in
                Unmanaged<GraphExecution>.fromOpaque(run!)._withUnsafeGuaranteedRef { $0.runNodeJob(argument) }
            }
        } catch {
            runNodeJob(argument)  // the executor is shutting down: run it here rather than lose it
        }
    }

    /// The job of a submitted node (`submitNode`'s argument word).
    private func runNodeJob(_ argument: UInt) {
        var job = JobState()
        runChain(Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: argument >> 1)), poisoned: argument & 1 != 0, job: &job)
        end(&job)
    }

    /// Runs roots `lo..<hi`, splitting off halves for other workers first.
    func runRoots(_ lo: Int, _ hi: Int) {
        var hi = hi
        let grain = max(1, min(64, plan.roots.count / (executor.workerCount * 16)))
        while hi - lo > grain {
            let mid = lo + (hi - lo) / 2, upper = hi
            submitJob { self.runRoots(mid, upper) }
            hi = mid
        }
        var job = JobState()
        for r in lo..<hi {
            let node = plan.roots[r]
            if info[Int(node)].flags & NodeInfo.needsSubmit != 0 {
                submitNode(node, poisoned: false)
            } else {
                runChain(node, poisoned: false, job: &job)
            }
        }
        end(&job)
    }

    /// Makes successors `lo..<hi` of a finished node arrive and runs the
    /// ready ones, splitting off halves for other workers first.
    func spread(_ lo: Int, _ hi: Int, leaf: Int, poison: Bool) {
        var hi = hi
        while hi - lo > leaf {
            let mid = lo + (hi - lo) / 2, upper = hi
            submitJob { self.spread(mid, upper, leaf: leaf, poison: poison) }
            hi = mid
        }
        var job = JobState()
        for k in lo..<hi {
            let s = succ[k]
            guard let poisoned = arrive(s, poison: poison) else { continue }
            if info[Int(s)].flags & NodeInfo.needsSubmit != 0 {
                submitNode(s, poisoned: poisoned)
            } else {
                runChain(s, poisoned: poisoned, job: &job)
            }
        }
        end(&job)
    }

    /// One predecessor of `s` finished. Returns whether `s` is poisoned
    /// when this made it ready, nil when it still waits for others.
    @inline(__always)
    private func arrive(_ s: Int32, poison: Bool) -> Bool? {
        let i = Int(s)
        if info[i].inDegree == 1 { return poison }
        let delta = poison ? GraphExecution.poisonUnit - 1 : -1
        let now = (counters + Int(counterOf[i])).pointee.wrappingAdd(delta, ordering: .acquiringAndReleasing).newValue
        guard now & GraphExecution.pendingMask == 0 else { return nil }
        return now >> 32 != 0
    }

    /// What one job carries from node to node: the sinks it finished, and
    /// arrivals it has not applied yet (see "Deferred arrivals" above).
    struct JobState {
        var sinks = 0
        var deferred: Int32 = -1     // the successor the arrivals are for, or -1
        var deferredCount = 0
        var deferredPoison = 0
    }

    /// Ends a job: applies its deferred arrivals (running the node they
    /// make ready, here), then subtracts its sinks.
    func end(_ job: inout JobState) {
        while job.deferred >= 0 {
            let s = job.deferred
            guard let poisoned = applyDeferred(&job) else { break }
            if info[Int(s)].flags & NodeInfo.needsSubmit != 0 {
                submitNode(s, poisoned: poisoned)
            } else {
                runChain(s, poisoned: poisoned, job: &job)
            }
        }
        flush(job.sinks)
    }

    /// Applies the job's deferred arrivals with one RMW. Returns whether
    /// the node is poisoned when they made it ready, nil when it still waits.
    @inline(__always)
    private func applyDeferred(_ job: inout JobState) -> Bool? {
        let i = Int(job.deferred)
        let delta = job.deferredPoison &* GraphExecution.poisonUnit &- job.deferredCount
        job.deferred = -1
        let now = (counters + Int(counterOf[i])).pointee.wrappingAdd(delta, ordering: .acquiringAndReleasing).newValue
        guard now & GraphExecution.pendingMask == 0 else { return nil }
        return now >> 32 != 0
    }

    /// Runs `start`, then a ready successor, and so on, on this thread.
    func runChain(_ start: Int32, poisoned: Bool, job: inout JobState) {
        var node = start, poisoned = poisoned
        while true {
            if job.deferred >= 0 {
                // Keep deferring only while the nodes run feed the same successor.
                let lo = Int(succStart[Int(node)])
                if succStart[Int(node) + 1] != Int32(lo + 1) || succ[lo] != job.deferred {
                    let s = job.deferred
                    if let ready = applyDeferred(&job) { submitNode(s, poisoned: ready) }
                }
            }
            let poison: Bool
            if info[Int(node)].flags & NodeInfo.isAsync != 0 {
                if !poisoned && !cancelled.load(ordering: .relaxed) {
                    launchAsync(node)
                    return
                }
                poison = skip(Int(node), poisoned: poisoned)
            } else {
                poison = execute(Int(node), poisoned: poisoned)
            }
            guard let next = advance(node, poison: poison, job: &job) else { return }
            node = next.node
            poisoned = next.poisoned
        }
    }

    /// After `node` finished: counts it when it is a sink, else makes its
    /// successors arrive, submits all ready ones but one and returns that one.
    @inline(__always)
    private func advance(_ node: Int32, poison: Bool, job: inout JobState) -> (node: Int32, poisoned: Bool)? {
        let lo = Int(succStart[Int(node)]), hi = Int(succStart[Int(node) + 1])
        if lo == hi {
            job.sinks += 1
            return nil
        }
        if hi - lo == 1 && info[Int(succ[lo])].inDegree > 1 {
            // One successor that waits for others too (fan-in): defer.
            let s = succ[lo]
            if s == job.deferred {
                job.deferredCount &+= 1
                if poison { job.deferredPoison &+= 1 }
                return nil
            }
            var next: (node: Int32, poisoned: Bool)? = nil
            if job.deferred >= 0 {
                let previous = job.deferred
                if let ready = applyDeferred(&job) {
                    if info[Int(previous)].flags & NodeInfo.needsSubmit == 0 {
                        next = (previous, ready)
                    } else {
                        submitNode(previous, poisoned: ready)
                    }
                }
            }
            job.deferred = s
            job.deferredCount = 1
            job.deferredPoison = poison ? 1 : 0
            return next
        }
        if hi - lo > GraphExecution.spreadThreshold {
            let leaf = max(1, min(GraphExecution.maxLeaf, (hi - lo) / (executor.workerCount * 16)))
            submitJob { self.spread(lo, hi, leaf: leaf, poison: poison) }
            return nil
        }
        var next: (node: Int32, poisoned: Bool)? = nil
        for k in lo..<hi {
            let s = succ[k]
            guard let poisoned = arrive(s, poison: poison) else { continue }
            if next == nil && info[Int(s)].flags & NodeInfo.needsSubmit == 0 {
                next = (s, poisoned)
            } else {
                submitNode(s, poisoned: poisoned)
            }
        }
        return next
    }

    // MARK: - Running one node

    /// Runs a synchronous node (or skips it). Returns whether its
    /// successors are poisoned.
    @inline(__always)
    private func execute(_ i: Int, poisoned: Bool) -> Bool {
        if poisoned || cancelled.load(ordering: .relaxed) { return skip(i, poisoned: poisoned) }
        let timed = clocksNodes || info[i].flags & NodeInfo.hasTimeout != 0
        var t0: UInt64 = 0
        if timed {
            t0 = GraphExecution.now()
            if let monitor { monitor.started(i, at: t0, worker: executor.currentWorkerIndex) }
        }
        do {
            try stores[Int(info[i].store)]._withUnsafeGuaranteedRef { try $0.run(info[i].position, node: i, in: self) }
        } catch {
            if timed { record(i, t0) }
            fail(i, error)
            return true
        }
        // A synchronous store's `run` wrote the output when it returned
        // (BodyStores.swift): "has a value" and "succeeded" are one write.
        if timed {
            let t1 = record(i, t0)
            if info[i].flags & NodeInfo.hasTimeout != 0, let limit = plan.options[Int32(i)]?.timeout,
               Duration.nanoseconds(Int64(t1 &- t0)) > limit {
                states[i] |= NodeState.hasValue
                destroyValue(i)
                fail(i, FlowError.timedOut(what: "node '\(plan.displayName(i))'", after: limit))
                return true
            }
            monitor?.finished(i, .succeeded, at: t1)
        }
        states[i] = (states[i] & ~NodeState.codeMask) | NodeState.succeeded.code | NodeState.hasValue
        return false
    }

    /// Marks a node not run (skipped when poisoned, else cancelled) and
    /// releases its inputs. Returns true: its successors are poisoned.
    private func skip(_ i: Int, poisoned: Bool) -> Bool {
        setState(i, poisoned ? .skipped : .cancelled)
        monitor?.finished(i, poisoned ? .skipped : .cancelled, at: GraphExecution.now())
        for k in plan.predRange(i) { dropReader(Int(plan.preds[k])) }
        return true
    }

    /// Runs an async node as a task on the executor; the task goes on
    /// with the node's successors.
    private func launchAsync(_ node: Int32) {
        if info[Int(node)].flags & NodeInfo.isExtended != 0 { return launchExtended(node) }   // ExtendedNode.swift
        let options = plan.options[node]
        let priority: TaskPriority? = switch options?.priority {
        case .high?: .high
        case .low?: .low
        default: nil
        }
        let task = Task(executorPreference: executor, priority: priority) {
            let poison = await self.executeAsync(Int(node), timeout: options?.timeout ?? self.asyncTimeout)
            var job = JobState()
            if let next = self.advance(node, poison: poison, job: &job) {
                self.runChain(next.node, poisoned: next.poisoned, job: &job)
            }
            self.end(&job)
        }
        asyncTasks.withLock { $0.append(task) }
        if cancelledByCaller.load(ordering: .relaxed) { task.cancel() }
    }

    private func executeAsync(_ i: Int, timeout: Duration?) async -> Bool {
        if cancelled.load(ordering: .relaxed) { return skip(i, poisoned: false) }
        let store = stores[Int(info[i].store)].takeUnretainedValue(), position = info[i].position
        let t0 = GraphExecution.now()
        monitor?.started(i, at: t0, worker: nil)  // it may resume on any worker
        do {
            if let timeout {
                try await withThrowingTaskGroup(of: Bool.self) { group in
                    group.addTask { try await store.runAsync(position, node: i, in: self); return true }
                    group.addTask { try await Task.sleep(for: timeout); return false }
                    let finished = try await group.next()!
                    group.cancelAll()
                    if !finished { throw FlowError.timedOut(what: "node '\(self.plan.displayName(i))'", after: timeout) }
                }
            } else {
                try await store.runAsync(position, node: i, in: self)
            }
        } catch {
            let t1 = record(i, t0)
            destroyValue(i)
            if error is CancellationError && cancelledByCaller.load(ordering: .relaxed) {
                setState(i, .cancelled)
                monitor?.finished(i, .cancelled, at: t1)
            } else {
                fail(i, error)
            }
            return true
        }
        let t1 = record(i, t0)
        monitor?.finished(i, .succeeded, at: t1)
        setState(i, .succeeded)
        return false
    }

    @inline(__always)
    private func setState(_ i: Int, _ state: NodeState) {
        states[i] = (states[i] & ~NodeState.codeMask) | state.code
    }

    private func fail(_ i: Int, _ error: any Error) {
        setState(i, .failed)
        monitor?.finished(i, .failed, at: GraphExecution.now())
        let failure = NodeFailure(node: plan.displayName(i), index: i, error: error)
        failures.withLock { $0.append(failure) }
        if failFast {
            cancelled.store(true, ordering: .relaxed)
            cancelNodeScopes()
        }
    }

    @discardableResult @inline(__always)
    private func record(_ i: Int, _ t0: UInt64) -> UInt64 {
        let t1 = GraphExecution.now()
        if let times {
            times[2 * i] = t0
            times[2 * i + 1] = t1
        }
        return t1
    }

    // MARK: - Values

    /// Reads an input of the running node: moves it out when the running
    /// node is its only reader, else copies it, and the last reader
    /// destroys it.
    @inline(__always)
    func take<T>(_ node: Node<T>) -> T {
        takeValue(of: node.index, as: T.self)
    }

    /// `take` for the input at `preds[input]` (BodyStores.swift).
    @inline(__always)
    func take<T>(_ input: Int, as type: T.Type) -> T {
        takeValue(of: Int(preds[input]), as: T.self)
    }

    @inline(__always)
    private func takeValue<T>(of i: Int, as type: T.Type) -> T {
        let a = read(i)
        let p = a.slot.assumingMemoryBound(to: T.self)
        if a.moves { return p.move() }
        let value = p.pointee
        if a.shared { doneReading(i) }
        return value
    }

    // Typed stores (BodyStores.swift) read and write slots through these,
    // with the typed moves and copies done by code specialised for the
    // node's types: `read` decides move, copy or shared copy for both
    // them and `takeValue` (the caller, `execute`, marks an output slot
    // written when `run` returns).

    /// The index in `preds` of node `node`'s first data input.
    @inline(__always)
    func firstInput(of node: Int) -> Int {
        node == 0 ? 0 : Int(info[node - 1].predEnd)
    }

    /// The slot of the input at `preds[input]`, whether its reader moves the
    /// value out (its only reader; the slot is marked released), and
    /// whether the value is shared: then the reader copies it and must call
    /// `doneReading(node)` after.
    @inline(__always)
    func input(_ input: Int) -> (slot: UnsafeMutableRawPointer, moves: Bool, shared: Bool, node: Int) {
        let i = Int(preds[input])
        let a = read(i)
        return (a.slot, a.moves, a.shared, i)
    }

    /// How a reader reads node i's value: trivial values are copied (nothing
    /// to release), a sole reader moves it out (the slot is marked released
    /// here), several readers copy it and then call `doneReading(i)`.
    @inline(__always)
    private func read(_ i: Int) -> (slot: UnsafeMutableRawPointer, moves: Bool, shared: Bool) {
        let slot = slots + Int(info[i].offset)
        if info[i].destroyer < 0 { return (slot, false, false) }
        if info[i].readers == 1 {
            states[i] |= NodeState.released
            return (slot, true, false)
        }
        return (slot, false, true)
    }

    /// A reader of node i's shared value has copied it: the last one destroys it.
    @inline(__always)
    func doneReading(_ i: Int) {
        if readers(of: i).pointee.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            plan.destroyers[Int(info[i].destroyer)].destroy(slots + Int(info[i].offset))
            states[i] |= NodeState.released
        }
    }

    /// Node i's output slot, to initialize.
    @inline(__always)
    func outputSlot(_ i: Int) -> UnsafeMutableRawPointer {
        slots + Int(info[i].offset)
    }


    /// Node i's readers counter (it has more than one reader and a value to release).
    @inline(__always)
    private func readers(of i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        counters + Int(counterOf[i]) + (info[i].inDegree > 1 ? 1 : 0)
    }

    /// Stores the running node's output.
    @inline(__always)
    func put<T>(_ value: consuming T, at i: Int) {
        (slots + Int(info[i].offset)).initializeMemory(as: T.self, to: value)
        states[i] |= NodeState.hasValue
    }

    /// A reader of node `p` will not read it (it was not run).
    private func dropReader(_ p: Int) {
        if info[p].destroyer < 0 { return }
        if info[p].readers == 1
            || readers(of: p).pointee.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 {
            destroyValue(p)
        }
    }

    /// Destroys node i's value if it is still in its slot.
    private func destroyValue(_ i: Int) {
        let state = states[i]
        guard state & NodeState.hasValue != 0, state & NodeState.released == 0 else { return }
        let d = Int(info[i].destroyer)
        if d >= 0 { plan.destroyers[d].destroy(slots + Int(info[i].offset)) }
        states[i] = state | NodeState.released
    }

    /// Node i's value, when it is terminal (no reader) and succeeded.
    func value<T>(_ i: Int, as type: T.Type) -> T? {
        let state = states[i]
        guard info[i].readers == 0, state & NodeState.codeMask == NodeState.succeeded.code,
              state & NodeState.hasValue != 0, state & NodeState.released == 0 else { return nil }
        return (slots + Int(info[i].offset)).assumingMemoryBound(to: T.self).pointee
    }

    // MARK: - Time

    @inline(__always)
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

// MARK: - Access for scoped and token nodes
//
// ExtendedNode.swift, GraphExecution+Scope.swift and +Tokens.swift finish
// their nodes with the same steps as the code above; these forward to its
// private helpers (kept private so the hot path above reads on its own).
extension GraphExecution {
    @inline(never)
    func submitExtendedJob(priority: Priority, affinity: Int?, _ job: @escaping @Sendable () -> Void) {
        submitJob(priority: priority, affinity: affinity, job)
    }

    @inline(never)
    func setExtendedState(_ i: Int, _ state: NodeState) { setState(i, state) }

    @inline(never)
    func failExtended(_ i: Int, _ error: any Error) { fail(i, error) }

    @inline(never) @discardableResult
    func recordExtended(_ i: Int, _ t0: UInt64) -> UInt64 { record(i, t0) }

    @inline(never)
    func destroyExtendedValue(_ i: Int) { destroyValue(i) }

    @inline(never)
    func skipExtended(_ i: Int, poisoned: Bool) -> Bool { skip(i, poisoned: poisoned) }
}
