import Synchronization

/// A bounded multi-producer multi-consumer channel with backpressure.
///
/// - `capacity` elements are buffered; capacity 0 makes a rendezvous
///   channel, where `send` returns only once a receiver took the element.
/// - When the buffer is full, `send` follows the `OverflowPolicy`: wait
///   (`.suspend`, the default), drop the new or the oldest element (counted
///   in `stats.dropped`), or throw (`.fail`).
/// - Order: elements are received in the order they were accepted, so each
///   sender's elements arrive in the order it sent them; waiting senders
///   are admitted first come, first served.
/// - `close()` (or the end of the last `Producer`) stops new sends;
///   receivers drain what is buffered, then get `nil`. Suspended senders
///   get their element back in a `SendError` with reason `.closed`.
/// - Cancellation: a sender cancelled while it waits resumes at once and
///   throws `SendError` `.cancelled` carrying its element, which was not
///   enqueued; a receiver cancelled while it waits resumes at once with
///   `nil` and takes nothing.
///
/// ```swift
/// let channel = try Channel<Int>(capacity: 16)
/// Task {
///     for i in 0..<100 { try await channel.send(i) }
///     channel.close()
/// }
/// for await value in channel { print(value) }
/// ```
///
/// Every element a send accepted is delivered, still buffered, or counted
/// as dropped: `stats` keeps `sent == received + dropped + depth`.
public final class Channel<Element: Sendable>: Sendable {
    // Storage (docs/Channels.md, "Design"): a lock-free ring (`ChannelRing`,
    // capacity >= 1) on which an operation that need not wait completes with
    // atomics only, and the state machine (waiter queues, overflow list,
    // closed flag, producers) behind a pthread mutex for everything else.
    // The ring's comment gives the wake-up protocol between the two and its
    // ordering argument. Continuations are resumed, and dropped elements
    // released, after unlocking; no lock is held across
    // `withUnsafeContinuation`.
    @usableFromInline let ring: ChannelRing<Element>?
    @usableFromInline let state: Locked<ChannelStateMachine<Element>>
    /// Whether the capacity exceeds the ring (the rest is the state
    /// machine's overflow list): then a full ring is not a full channel.
    @usableFromInline let spills: Bool
    // On a cache line of its own: the fields above are read by every operation.
    private let waiterIDs = PaddedAtomic(0)

    /// The buffer capacity; 0 means rendezvous.
    public let capacity: Int
    /// What `send` does when the buffer is full.
    public let overflow: OverflowPolicy

    /// Creates a channel buffering up to `capacity` elements (0: rendezvous).
    /// Throws `FlowError.invalidArgument` for a negative capacity.
    public init(capacity: Int, overflow: OverflowPolicy = .suspend) throws(FlowError) {
        guard capacity >= 0 else {
            throw .invalid("capacity", capacity, "must be at least 0 (0 makes a rendezvous channel)")
        }
        self.capacity = capacity
        self.overflow = overflow
        let ring = capacity == 0 ? nil : ChannelRing<Element>(capacity: Swift.min(capacity, ChannelRing<Element>.limit))
        self.ring = ring
        spills = capacity > (ring?.capacity ?? 0)
        state = Locked(ChannelStateMachine(capacity: capacity, policy: overflow, ring: ring))
    }

    deinit { ring?.deallocate() }

    @usableFromInline typealias Wakeups = ChannelStateMachine<Element>.Wakeups

    @usableFromInline func nextWaiterID() -> Int {
        waiterIDs.add(1)
    }

    // MARK: fast paths

    @usableFromInline
    enum FastSend {
        case done(dropped: Bool)
        case failed(SendError<Element>)
        /// Take the lock: somebody waits before us, or the ring is full and
        /// the policy needs the state machine.
        case slow(Element)
    }

    /// The lock-free attempt: push onto the ring, then, if a receiver
    /// waits, hand over under the lock (see `ChannelRing`).
    @inlinable @inline(__always)
    func sendFast(_ element: Element, failWhenFull: Bool) -> FastSend {
        // Waiting senders and spilled elements keep their place.
        guard let ring, ring.backlog.pointee.load(ordering: .relaxed) == 0 else { return .slow(element) }
        switch ring.push(element) {
        case .pushed:
            // seq_cst: after the push's seq_cst CAS (the Dekker handshake).
            if ring.receiversWaiting.pointee.load(ordering: .sequentiallyConsistent) != 0 { settle() }
            return .done(dropped: false)
        case .closed(let element):
            return .failed(SendError(.closed, element: element))
        case .full(let element):
            if spills { return .slow(element) }
            switch overflow {
            case .dropNewest:
                ring.droppedNewest.pointee.wrappingAdd(1, ordering: .relaxed)
                return .done(dropped: true)
            case .fail:
                return .failed(SendError(.full, element: element))
            case .suspend:
                return failWhenFull ? .failed(SendError(.full, element: element)) : .slow(element)
            case .dropOldest:
                return .slow(element)  // under the lock, so that a close cannot slip in (docs/Channels.md)
            }
        }
    }

    @usableFromInline
    enum FastReceive {
        case element(Element)
        /// Closed and drained.
        case finished
        /// Empty and open, nothing spilled or waiting.
        case empty
        /// Take the lock: spilled elements or waiting senders.
        case slow
    }

    /// The lock-free attempt: pop from the ring, then, if the backlog is
    /// not empty, refill the freed slot under the lock (see `ChannelRing`).
    @inlinable @inline(__always)
    func receiveFast() -> FastReceive {
        guard let ring else { return .slow }
        switch ring.pop() {
        case .element(let element):
            // seq_cst: after the pop's seq_cst CAS (the Dekker handshake).
            if ring.backlog.pointee.load(ordering: .sequentiallyConsistent) != 0 { settle() }
            return .element(element)
        case .closed:
            return ring.backlog.pointee.load(ordering: .sequentiallyConsistent) == 0 ? .finished : .slow
        case .empty:
            return ring.backlog.pointee.load(ordering: .sequentiallyConsistent) == 0 ? .empty : .slow
        }
    }

    /// Hands ring elements to queued receivers and moves the backlog into
    /// free slots, under the lock; wakes whoever was served.
    @inlinable @inline(never)
    func settle() {
        var wakeups = Wakeups()
        state.withLock { $0.settle(&wakeups) }
        wakeups.perform()
    }

    // MARK: sending

    /// Sends `element`, waiting while the buffer is full (policy `.suspend`).
    ///
    /// Returns once the element was accepted (buffered, handed to a
    /// receiver, or dropped by a `.dropNewest`/`.dropOldest` policy and
    /// counted). Throws `SendError` carrying the element when the channel is
    /// closed, when the task is cancelled while waiting, or when the buffer
    /// is full under policy `.fail`. At capacity 0 it returns once a
    /// receiver took the element.
    @inlinable @inline(__always)
    public func send(_ element: sending Element) async throws(SendError<Element>) {
        // Inlined into the caller, so that the fast path costs no async
        // frame and no executor hop; the rest is out of line.
        switch sendFast(element, failWhenFull: false) {
        case .done: return
        case .failed(let error): throw error
        case .slow(let element): try await sendSlow(element)
        }
    }

    @inlinable @inline(never)
    func sendSlow(_ element: Element) async throws(SendError<Element>) {
        // A full ring under `.suspend`: almost surely a wait, so go straight
        // to it (the step with the waiter completes at once if it need not).
        if overflow == .suspend && ring != nil {
            try await sendSuspending(element)
            return
        }
        var wakeups = Wakeups()
        let action = state.withLock { $0.send(element, wakeups: &wakeups) }
        wakeups.perform()
        switch action {
        case .sent, .droppedNewest: return
        case .fail(let error): throw error
        case .mustWait(let element): try await sendSuspending(element)
        case .enqueued: preconditionFailure("Channel.send: queued without a waiter")
        }
    }

    @inlinable
    func sendSuspending(_ element: Element) async throws(SendError<Element>) {
        let id = nextWaiterID()
        let outcome: SendOutcome<Element> = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<SendOutcome<Element>, Never>) in
                var wakeups = Wakeups()
                let action = state.withLock {
                    $0.send(element, waiter: (id, .task(continuation)), isCancelled: Task.isCancelled, wakeups: &wakeups)
                }
                wakeups.perform()
                finishWaitingSend(action, resumer: .task(continuation))
            }
        } onCancel: {
            if let waiter = state.withLock({ $0.cancelSender(id) }) {
                waiter.resumer.resume(.failed(SendError(.cancelled, element: waiter.element)))
            }
        }
        switch outcome {
        case .sent, .dropped: return
        case .failed(let error): throw error
        }
    }

    /// Performs the action of a send that offered a waiter: resumes the
    /// waiter at once unless it was queued.
    @inlinable
    func finishWaitingSend(_ action: ChannelStateMachine<Element>.SendAction, resumer: Resumer<SendOutcome<Element>>) {
        switch action {
        case .enqueued: return
        case .sent: resumer.resume(.sent)
        case .droppedNewest: resumer.resume(.dropped)
        case .fail(let error): resumer.resume(.failed(error))
        case .mustWait: preconditionFailure("Channel.send: must wait although a waiter was offered")
        }
    }

    /// Offers `element` without suspending: `.sent`, `.dropped` (by a drop
    /// policy, counted in stats), `.full(element)` when there is no room
    /// under policy `.suspend` or `.fail`, or `.closed(element)`.
    @inlinable @discardableResult
    public func trySend(_ element: sending Element) -> TrySendResult<Element> {
        switch sendFast(element, failWhenFull: true) {
        case .done(let dropped): return dropped ? .dropped : .sent
        case .failed(let error): return error.reason == .closed ? .closed(error.element) : .full(error.element)
        case .slow(let element):
            var wakeups = Wakeups()
            let action = state.withLock { $0.send(element, failWhenFull: true, wakeups: &wakeups) }
            wakeups.perform()
            switch action {
            case .sent: return .sent
            case .droppedNewest: return .dropped
            case .fail(let error): return error.reason == .closed ? .closed(error.element) : .full(error.element)
            case .mustWait(let element): return .full(element)
            case .enqueued: preconditionFailure("Channel.trySend: queued without a waiter")
            }
        }
    }

    // MARK: receiving

    /// Receives the oldest element, waiting while the channel is empty.
    ///
    /// Returns `nil` once the channel is closed and drained, or when the
    /// task is cancelled while waiting (then nothing was taken).
    @inlinable @inline(__always)
    public func receive() async -> Element? {
        // Inlined into the caller (see `send`).
        switch receiveFast() {
        case .element(let element): return element
        case .finished: return nil
        case .empty: return await receiveSuspending()
        case .slow: return await receiveSlow()
        }
    }

    /// Capacity 0, or a backlog to take from: try under the lock first.
    @inlinable @inline(never)
    func receiveSlow() async -> Element? {
        var wakeups = Wakeups()
        let action = state.withLock { $0.receive(wakeups: &wakeups) }
        wakeups.perform()
        switch action {
        case .element(let element): return element
        case .finished, .cancelled: return nil
        case .mustWait: return await receiveSuspending()
        case .enqueued: preconditionFailure("Channel.receive: queued without a waiter")
        }
    }

    @inlinable @inline(never)
    func receiveSuspending() async -> Element? {
        let id = nextWaiterID()
        let outcome: ReceiveOutcome<Element> = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<ReceiveOutcome<Element>, Never>) in
                var wakeups = Wakeups()
                let action = state.withLock {
                    $0.receive(waiter: (id, .task(continuation)), isCancelled: Task.isCancelled, wakeups: &wakeups)
                }
                wakeups.perform()
                finishWaitingReceive(action, resumer: .task(continuation))
            }
        } onCancel: {
            if let waiter = state.withLock({ $0.cancelReceiver(id) }) {
                waiter.resumer.resume(.none)
            }
        }
        switch outcome {
        case .element(let element): return element
        case .none: return nil
        }
    }

    @inlinable
    func finishWaitingReceive(
        _ action: ChannelStateMachine<Element>.ReceiveAction, resumer: Resumer<ReceiveOutcome<Element>>
    ) {
        switch action {
        case .enqueued: return
        case .element(let element): resumer.resume(.element(element))
        case .finished, .cancelled: resumer.resume(.none)
        case .mustWait: preconditionFailure("Channel.receive: must wait although a waiter was offered")
        }
    }

    /// Takes the oldest element if there is one, without suspending. Returns
    /// nil when the channel is empty (or closed and drained).
    @inlinable
    public func tryReceive() -> Element? {
        switch receiveFast() {
        case .element(let element): return element
        case .finished, .empty: return nil
        case .slow:
            var wakeups = Wakeups()
            let action = state.withLock { $0.receive(wakeups: &wakeups) }
            wakeups.perform()
            if case .element(let element) = action { return element }
            return nil
        }
    }

    // MARK: closing and observation

    /// Closes the channel: later sends fail with `.closed` (handing the
    /// element back), suspended senders resume with their element handed
    /// back, and receivers drain the buffer, then get `nil`. Idempotent;
    /// returns whether this call closed it.
    @discardableResult
    public func close() -> Bool {
        var wakeups = Wakeups()
        let closed = state.withLock { $0.close(&wakeups) }
        wakeups.perform()
        return closed
    }

    /// Whether the channel is closed (it may still hold buffered elements).
    public var isClosed: Bool { state.withLock { $0.isClosed } }

    /// A snapshot of the counters: exact when no operation is in flight;
    /// `sent == received + dropped + depth` holds in every snapshot.
    public var stats: ChannelStats { state.withLock { $0.stats } }

    /// Test hook: a description of a broken invariant, or nil. Call it only
    /// when no operation is in flight.
    package func invariantViolation() -> String? { state.withLock { $0.invariantViolation() } }
}
