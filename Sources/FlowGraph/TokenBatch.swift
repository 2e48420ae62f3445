import Synchronization

// TokenBatch — one run of a token node: `count` tokens, claimed by a
// fixed set of runners (lock-free; GraphExecution+Tokens.swift runs it).
//
// Algorithm: a shared claim counter, as in a dynamically scheduled
// parallel for (and the seed's "CAS on a queued counter" instead of a
// per-node queue): a runner takes the next token with one fetch-add on
// `next` and runs it, until the counter passes `count` or the run is
// cancelled. The node allows `r` runners (at most `maxConcurrency`), so
// at most `r` tokens run at once. A runner that stops decrements
// `runnersLeft`; the one that takes it to zero finishes the node. No
// allocation per token: token t writes its output into slot t of one
// buffer made with the batch.
//
// Who calls what: the thread that starts the node makes the batch (it
// takes the node's inputs) and sets `runnersLeft` before any runner
// exists; runners (tasks on the executor, the starting thread being one
// of them) call `claim`, `run`/`runAsync` on the tokens they
// claimed, `noteFailure`, and `runnerDone` once; only the last runner
// calls `publish` or `discard`.
//
// Memory ordering:
// - `runnersLeft.store` (relaxed) and the batch's fields are published to
//   the other runners by the creation of their tasks, which orders
//   everything before it with the task's start.
// - `next.wrappingAdd` (relaxed): it only has to hand each token to one
//   runner; the token's inputs were published with the batch.
// - token t's slot and `written[t]` are plain memory, written only by the
//   runner that claimed t; `runnerDone`'s acquire-release decrement makes
//   every runner's writes (release) visible to the last one (acquire: the
//   decrements form one release sequence), which alone reads them.
// - `body` (captures the inputs) is read by runners while they run tokens
//   and set to nil by the last runner after its `runnerDone`: ordered
//   after every read by the same RMW chain.
// - `failed`, `cut` (relaxed): set by a runner before its `runnerDone`,
//   read by the last runner after its own: ordered by that RMW chain.
// - `timedOut`: set (release) by a deadline task outside the runners; a
//   runner that stops because it read it (acquire) then decrements
//   `runnersLeft`, so the last runner reads it as set.

/// One run of a token node (see above). Subclassed per output type.
class TokenBatch: @unchecked Sendable {  // atomics, plus per-token slots owned by the claiming runner (above)
    let count: Int
    /// When the node started (0 when the run does not time nodes).
    let t0: UInt64
    let isAsync: Bool
    private let next = Atomic<Int>(0)
    let runnersLeft = Atomic<Int>(0)
    /// A token threw (a failure, already recorded for the node).
    let failed = Atomic<Bool>(false)
    /// An async token ended by cancellation (the run was cancelled or the node timed out).
    let cut = Atomic<Bool>(false)
    /// The async node's deadline passed.
    let timedOut = Atomic<Bool>(false)

    init(count: Int, t0: UInt64, isAsync: Bool) {
        self.count = count
        self.t0 = t0
        self.isAsync = isAsync
    }

    /// The next token to run, or nil when every token was handed out.
    @inline(__always)
    final func claim() -> Int? {
        let token = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return token < count ? token : nil
    }

    /// Whether every token was handed out (read by the last runner).
    final var allClaimed: Bool { next.load(ordering: .relaxed) >= count }

    /// A runner stops; true for the last one.
    @inline(__always)
    final func runnerDone() -> Bool {
        runnersLeft.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0
    }

    /// Runs token `token` and stores its output (synchronous body).
    func run(_ token: Int) throws { preconditionFailure("TokenBatch.run is abstract") }

    /// Runs token `token` and stores its output (async body).
    func runAsync(_ token: Int) async throws { preconditionFailure("TokenBatch.runAsync is abstract") }

    /// Moves the outputs, in token order, into node `i`'s slot (every token ran).
    func publish(in run: GraphExecution, at i: Int) { preconditionFailure("TokenBatch.publish is abstract") }

    /// Destroys the outputs that were written.
    func discard() {}

    /// Drops the body and with it the node's inputs it captured (the last
    /// runner, once every token ended: the runners' tasks may keep the
    /// batch a little longer, not the inputs).
    func releaseInputs() {}
}

/// A `TokenBatch` whose tokens produce `Output`.
final class TypedTokenBatch<Output: Sendable>: TokenBatch, @unchecked Sendable {  // slots owned per the TokenBatch protocol
    enum Body: Sendable {
        case sync(@Sendable (Int) throws -> Output)
        case async(@Sendable (Int) async throws -> Output)
    }

    // Read by the runners, set to nil by the last one (after runnerDone).
    private var body: Body?
    // Slot t and written[t]: owned by the runner that claimed token t,
    // then by the last runner (see TokenBatch).
    private let values: UnsafeMutablePointer<Output>
    private let written: UnsafeMutablePointer<Bool>

    init(count: Int, t0: UInt64, body: Body) {
        self.body = body
        values = .allocate(capacity: max(1, count))
        written = .allocate(capacity: max(1, count))
        written.initialize(repeating: false, count: max(1, count))
        let isAsync = if case .async = body { true } else { false }
        super.init(count: count, t0: t0, isAsync: isAsync)
    }

    deinit {
        discard()
        values.deallocate()
        written.deallocate()
    }

    override func run(_ token: Int) throws {
        guard case .sync(let body)? = body else { preconditionFailure("FlowGraph: async token body run as sync") }
        (values + token).initialize(to: try body(token))
        written[token] = true
    }

    override func runAsync(_ token: Int) async throws {
        guard case .async(let body)? = body else { preconditionFailure("FlowGraph: sync token body run as async") }
        (values + token).initialize(to: try await body(token))
        written[token] = true
    }

    override func publish(in run: GraphExecution, at i: Int) {
        // Never `Array(unsafeUninitializedCapacity: 0)`: it writes the
        // shared empty-array storage (a race between runs).
        let outputs = count == 0 ? [] : [Output](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: values, count: count)
            initialized = count
        }
        written.update(repeating: false, count: max(1, count))
        run.put(outputs, at: i)
    }

    override func releaseInputs() { body = nil }

    override func discard() {
        for t in 0..<count where written[t] {
            (values + t).deinitialize(count: 1)
            written[t] = false
        }
    }
}
