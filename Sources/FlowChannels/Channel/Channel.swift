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
    // Storage: the state machine behind a pthread mutex. Every operation
    // runs one state-machine step under the lock and performs the returned
    // action (resuming a continuation, releasing a dropped element) after
    // unlocking. No lock is held across `withUnsafeContinuation`.
    @usableFromInline let state: Locked<ChannelStateMachine<Element>>
    private let waiterIDs = Atomic<UInt64>(0)

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
        state = Locked(ChannelStateMachine(capacity: capacity, policy: overflow))
    }

    @usableFromInline func nextWaiterID() -> UInt64 {
        waiterIDs.wrappingAdd(1, ordering: .relaxed).newValue
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
    @inlinable
    public func send(_ element: sending Element) async throws(SendError<Element>) {
        let action = state.withLock { $0.send(element) }
        switch action {
        case .sent: return
        case .resumeReceiver(let receiver, let element): receiver.resume(.element(element))
        case .dropped: return
        case .fail(let error): throw error
        case .enqueued: preconditionFailure("Channel.send: queued without a waiter")
        case .mustWait(let element): try await sendSuspending(element)
        }
    }

    @inlinable
    func sendSuspending(_ element: Element) async throws(SendError<Element>) {
        let id = nextWaiterID()
        let outcome: SendOutcome<Element> = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<SendOutcome<Element>, Never>) in
                let action = state.withLock {
                    $0.send(element, waiter: (id, .task(continuation)), isCancelled: Task.isCancelled)
                }
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
        case .resumeReceiver(let receiver, let element):
            receiver.resume(.element(element))
            resumer.resume(.sent)
        case .dropped: resumer.resume(.dropped)
        case .fail(let error): resumer.resume(.failed(error))
        case .mustWait: preconditionFailure("Channel.send: must wait although a waiter was offered")
        }
    }

    /// Offers `element` without suspending: `.sent`, `.dropped` (by a drop
    /// policy, counted in stats), `.full(element)` when there is no room
    /// under policy `.suspend` or `.fail`, or `.closed(element)`.
    @inlinable @discardableResult
    public func trySend(_ element: sending Element) -> TrySendResult<Element> {
        let action = state.withLock { $0.send(element, failWhenFull: true) }
        switch action {
        case .sent: return .sent
        case .resumeReceiver(let receiver, let element):
            receiver.resume(.element(element))
            return .sent
        case .dropped(_, let newest): return newest ? .dropped : .sent
        case .fail(let error): return error.reason == .closed ? .closed(error.element) : .full(error.element)
        case .mustWait(let element): return .full(element)
        case .enqueued: preconditionFailure("Channel.trySend: queued without a waiter")
        }
    }

    // MARK: receiving

    /// Receives the oldest element, waiting while the channel is empty.
    ///
    /// Returns `nil` once the channel is closed and drained, or when the
    /// task is cancelled while waiting (then nothing was taken).
    @inlinable
    public func receive() async -> Element? {
        let action = state.withLock { $0.receive() }
        switch action {
        case .element(let element, let sender):
            sender?.resume(.sent)
            return element
        case .finished, .cancelled: return nil
        case .enqueued: preconditionFailure("Channel.receive: queued without a waiter")
        case .mustWait: return await receiveSuspending()
        }
    }

    @inlinable
    func receiveSuspending() async -> Element? {
        let id = nextWaiterID()
        let outcome: ReceiveOutcome<Element> = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<ReceiveOutcome<Element>, Never>) in
                let action = state.withLock {
                    $0.receive(waiter: (id, .task(continuation)), isCancelled: Task.isCancelled)
                }
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
        case .element(let element, let sender):
            sender?.resume(.sent)
            resumer.resume(.element(element))
        case .finished, .cancelled: resumer.resume(.none)
        case .mustWait: preconditionFailure("Channel.receive: must wait although a waiter was offered")
        }
    }

    /// Takes the oldest element if there is one, without suspending. Returns
    /// nil when the channel is empty (or closed and drained).
    @inlinable
    public func tryReceive() -> Element? {
        let action = state.withLock { $0.receive() }
        switch action {
        case .element(let element, let sender):
            sender?.resume(.sent)
            return element
        case .finished, .cancelled, .mustWait, .enqueued: return nil
        }
    }

    // MARK: closing and observation

    /// Closes the channel: later sends fail with `.closed` (handing the
    /// element back), suspended senders resume with their element handed
    /// back, and receivers drain the buffer, then get `nil`. Idempotent;
    /// returns whether this call closed it.
    @discardableResult
    public func close() -> Bool {
        guard let action = state.withLock({ $0.close() }) else { return false }
        perform(action)
        return true
    }

    func perform(_ action: ChannelStateMachine<Element>.CloseAction) {
        for sender in action.senders {
            sender.resumer.resume(.failed(SendError(.closed, element: sender.element)))
        }
        for receiver in action.receivers { receiver.resumer.resume(.none) }
    }

    /// Whether the channel is closed (it may still hold buffered elements).
    public var isClosed: Bool { state.withLock { $0.isClosed } }

    /// A consistent snapshot of the counters.
    public var stats: ChannelStats { state.withLock { $0.stats } }

    /// Test hook: a description of a broken state-machine invariant, or nil.
    package func invariantViolation() -> String? { state.withLock { $0.invariantViolation() } }
}
