/// What a suspended sender is finally told.
@usableFromInline
enum SendOutcome<Element: Sendable>: Sendable {
    case sent
    case dropped
    case failed(SendError<Element>)
}

/// What a suspended receiver is finally told.
@usableFromInline
enum ReceiveOutcome<Element: Sendable>: Sendable {
    case element(Element)
    /// Closed and drained, or cancelled: no element.
    case none
}

/// The pure state machine of `Channel`: buffer, waiter queues, producer
/// count and counters. Every operation is a mutating function that returns
/// an action; the storage (`Channel`) runs it under its lock and performs
/// the action (resuming continuations, releasing dropped elements) after
/// releasing the lock.
///
/// States and invariants (checked by `checkInvariants()` in tests):
/// - open or closed; once closed, never open again;
/// - `receivers` is non-empty only when `buffer` and `senders` are empty
///   (a waiting receiver would have taken any element);
/// - `senders` is non-empty only when `buffer.count == capacity`
///   (at capacity 0: always full), and only while open;
/// - `sent == received + dropped + buffer.count`.
@usableFromInline
struct ChannelStateMachine<Element: Sendable> {
    @usableFromInline
    struct SenderWaiter {
        @usableFromInline var id: UInt64
        @usableFromInline var element: Element
        @usableFromInline var resumer: Resumer<SendOutcome<Element>>

        @inlinable
        init(id: UInt64, element: Element, resumer: Resumer<SendOutcome<Element>>) {
            self.id = id
            self.element = element
            self.resumer = resumer
        }
    }

    @usableFromInline
    struct ReceiverWaiter {
        @usableFromInline var id: UInt64
        @usableFromInline var resumer: Resumer<ReceiveOutcome<Element>>

        @inlinable
        init(id: UInt64, resumer: Resumer<ReceiveOutcome<Element>>) {
            self.id = id
            self.resumer = resumer
        }
    }

    // All stored state is `@usableFromInline` only so that the hot paths
    // can be specialised in client modules; nothing outside this file
    // touches it.
    @usableFromInline let capacity: Int
    @usableFromInline let policy: OverflowPolicy
    @usableFromInline var buffer = RingBuffer<Element>()
    @usableFromInline var senders = RingBuffer<SenderWaiter>()
    @usableFromInline var receivers = RingBuffer<ReceiverWaiter>()
    @usableFromInline var isClosed = false
    @usableFromInline var producers = 0
    @usableFromInline var sent = 0
    @usableFromInline var received = 0
    @usableFromInline var dropped = 0

    @usableFromInline
    init(capacity: Int, policy: OverflowPolicy) {
        self.capacity = capacity
        self.policy = policy
    }

    // MARK: send

    @usableFromInline
    enum SendAction {
        /// Accepted into the buffer; nothing else to do.
        case sent
        /// Handed straight to a waiting receiver: resume it with the element.
        case resumeReceiver(Resumer<ReceiveOutcome<Element>>, Element)
        /// Accepted, and the policy discarded an element (the new one for
        /// `.dropNewest`, the oldest for `.dropOldest`): release it outside the lock.
        case dropped(Element, newest: Bool)
        /// No room and the policy is `.suspend`: the caller must wait.
        case mustWait(Element)
        /// The waiter was queued; the caller suspends until resumed.
        case enqueued
        /// Refused: hand the element back with this error.
        case fail(SendError<Element>)
    }

    /// Offers `element`. With `waiter == nil` this is the non-suspending
    /// attempt: `.mustWait` hands the element back when the sender would
    /// have to wait. With a waiter the sender is queued instead (unless its
    /// task is already cancelled). `failWhenFull` makes `.suspend` and
    /// `.fail` report `.full` (for `trySend`).
    @inlinable
    mutating func send(
        _ element: Element,
        waiter: (id: UInt64, resumer: Resumer<SendOutcome<Element>>)? = nil,
        isCancelled: Bool = false,
        failWhenFull: Bool = false
    ) -> SendAction {
        if isClosed { return .fail(SendError(.closed, element: element)) }
        if let receiver = receivers.popFirst() {
            sent += 1
            received += 1
            return .resumeReceiver(receiver.resumer, element)
        }
        if buffer.count < capacity {
            buffer.append(element)
            sent += 1
            return .sent
        }
        switch policy {
        case .dropNewest:
            sent += 1
            dropped += 1
            return .dropped(element, newest: true)
        case .dropOldest:
            sent += 1
            dropped += 1
            guard let oldest = buffer.popFirst() else { return .dropped(element, newest: true) }
            buffer.append(element)
            return .dropped(oldest, newest: false)
        case .fail:
            return .fail(SendError(.full, element: element))
        case .suspend:
            if failWhenFull { return .fail(SendError(.full, element: element)) }
            guard let waiter else { return .mustWait(element) }
            if isCancelled { return .fail(SendError(.cancelled, element: element)) }
            senders.append(SenderWaiter(id: waiter.id, element: element, resumer: waiter.resumer))
            return .enqueued
        }
    }

    /// The sender `id` was cancelled: if it still waits, it is removed and
    /// must be resumed with its element handed back.
    @usableFromInline
    mutating func cancelSender(_ id: UInt64) -> SenderWaiter? {
        senders.removeFirst { $0.id == id }
    }

    // MARK: receive

    @usableFromInline
    enum ReceiveAction {
        /// An element, and possibly a waiting sender whose element took the
        /// freed place (or, at capacity 0, was this element): resume it.
        case element(Element, resumeSender: Resumer<SendOutcome<Element>>?)
        /// Closed and drained.
        case finished
        /// Empty and open: the caller must wait.
        case mustWait
        /// The waiter was queued; the caller suspends until resumed.
        case enqueued
        /// The receiving task is cancelled and there was nothing to take.
        case cancelled
    }

    @inlinable
    mutating func receive(
        waiter: (id: UInt64, resumer: Resumer<ReceiveOutcome<Element>>)? = nil,
        isCancelled: Bool = false
    ) -> ReceiveAction {
        if let element = buffer.popFirst() {
            received += 1
            var resume: Resumer<SendOutcome<Element>>? = nil
            if let sender = senders.popFirst() {
                buffer.append(sender.element)
                sent += 1
                resume = sender.resumer
            }
            return .element(element, resumeSender: resume)
        }
        if let sender = senders.popFirst() {
            // Capacity 0: take the element straight from the waiting sender.
            sent += 1
            received += 1
            return .element(sender.element, resumeSender: sender.resumer)
        }
        if isClosed { return .finished }
        guard let waiter else { return .mustWait }
        if isCancelled { return .cancelled }
        receivers.append(ReceiverWaiter(id: waiter.id, resumer: waiter.resumer))
        return .enqueued
    }

    /// The receiver `id` was cancelled: if it still waits, it is removed and
    /// must be resumed with no element.
    @usableFromInline
    mutating func cancelReceiver(_ id: UInt64) -> ReceiverWaiter? {
        receivers.removeFirst { $0.id == id }
    }

    // MARK: close and producers

    /// Who must be woken after a close.
    @usableFromInline
    struct CloseAction {
        @usableFromInline var senders: [SenderWaiter]
        @usableFromInline var receivers: [ReceiverWaiter]
    }

    /// Closes the channel. Returns nil if it was already closed; otherwise
    /// the waiting senders (to get their elements back) and the waiting
    /// receivers (to get nil: the buffer is empty when receivers wait).
    mutating func close() -> CloseAction? {
        if isClosed { return nil }
        isClosed = true
        return CloseAction(senders: senders.removeAll(), receivers: receivers.removeAll())
    }

    mutating func registerProducers(_ n: Int) {
        producers += n
    }

    /// A producer finished: the last one closes the channel.
    mutating func releaseProducer() -> CloseAction? {
        precondition(producers > 0, "Channel.Producer released more often than registered")
        producers -= 1
        return producers == 0 ? close() : nil
    }

    // MARK: observation

    var stats: ChannelStats {
        ChannelStats(
            capacity: capacity, sent: sent, received: received, dropped: dropped,
            depth: buffer.count, suspendedSenders: senders.count, suspendedReceivers: receivers.count,
            producers: producers, isClosed: isClosed)
    }

    /// Returns a description of the first broken invariant, or nil.
    func invariantViolation() -> String? {
        if !receivers.isEmpty && (!buffer.isEmpty || !senders.isEmpty) {
            return "receivers wait while elements are available"
        }
        if !senders.isEmpty && (buffer.count < capacity || isClosed) {
            return "senders wait while there is room or the channel is closed"
        }
        if buffer.count > capacity { return "depth \(buffer.count) above capacity \(capacity)" }
        if sent != received + dropped + buffer.count {
            return "sent \(sent) != received \(received) + dropped \(dropped) + depth \(buffer.count)"
        }
        return nil
    }
}
