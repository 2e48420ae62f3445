import Synchronization

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

/// Up to one value inline, more in an array: the wake-ups of one step,
/// which are almost always zero or one (no allocation then).
@usableFromInline
struct WakeList<Value> {
    @usableFromInline var first: Value? = nil
    @usableFromInline var rest: [Value] = []

    @inlinable init() {}

    @inlinable var count: Int { first == nil ? 0 : 1 + rest.count }

    @inlinable mutating func append(_ value: Value) {
        if first == nil { first = value } else { rest.append(value) }
    }

    @inlinable func forEach(_ body: (Value) -> Void) {
        guard let first else { return }
        body(first)
        for value in rest { body(value) }
    }
}

/// The lock-protected half of `Channel`: the waiter queues, the overflow
/// list ("spill"), the closed flag, the producer count and the counters of
/// what bypasses the ring. The ring itself (`ChannelRing`, capacity >= 1)
/// is lock-free; operations that complete on it never come here. Every
/// operation here runs under the channel's lock, may push to and pop from
/// the ring (racing, correctly, with the lock-free fast paths), and returns
/// an action; the wake-ups it collects (continuations to resume, threads to
/// wake, dropped elements to release) are performed by `Channel` after
/// unlocking.
///
/// Order of the buffered elements: the ring, then the spill; waiting
/// senders come after both. `settle` keeps the three in step: it moves the
/// spill, then waiting senders, into the ring while it has room, promotes
/// waiting senders into the spill while it has room, and hands buffered
/// elements to queued receivers.
///
/// Invariants when no operation is in flight (`invariantViolation()`):
/// - open or closed; once closed, never open again;
/// - `receivers` is non-empty only when nothing is buffered and no sender
///   waits (a queued receiver would have been handed any element);
/// - `senders` is non-empty only while open with ring and spill full
///   (at capacity 0: always);
/// - the gates in the ring equal `receivers.count` and
///   `senders.count + spill.count`;
/// - `sent == received + dropped + depth`.
@usableFromInline
struct ChannelStateMachine<Element: Sendable> {
    @usableFromInline
    struct SenderWaiter {
        @usableFromInline var id: Int
        @usableFromInline var element: Element
        @usableFromInline var resumer: Resumer<SendOutcome<Element>>

        @inlinable
        init(id: Int, element: Element, resumer: Resumer<SendOutcome<Element>>) {
            self.id = id
            self.element = element
            self.resumer = resumer
        }
    }

    @usableFromInline
    struct ReceiverWaiter {
        @usableFromInline var id: Int
        @usableFromInline var resumer: Resumer<ReceiveOutcome<Element>>

        @inlinable
        init(id: Int, resumer: Resumer<ReceiveOutcome<Element>>) {
            self.id = id
            self.resumer = resumer
        }
    }

    /// What to do after unlocking: resume these waiters, release these
    /// dropped elements.
    @usableFromInline
    struct Wakeups {
        @usableFromInline var receivers = WakeList<(Resumer<ReceiveOutcome<Element>>, ReceiveOutcome<Element>)>()
        @usableFromInline var senders = WakeList<(Resumer<SendOutcome<Element>>, SendOutcome<Element>)>()
        @usableFromInline var released = WakeList<Element>()

        @inlinable init() {}

        /// Resumes every waiter (call it after releasing the lock).
        @inlinable
        func perform() {
            senders.forEach { $0.0.resume($0.1) }
            receivers.forEach { $0.0.resume($0.1) }
        }
    }

    // All stored state is `@usableFromInline` only so that the hot paths
    // can be specialised in client modules; nothing outside this file and
    // `Channel` touches it.
    @usableFromInline let capacity: Int
    @usableFromInline let policy: OverflowPolicy
    /// The lock-free buffer; nil for a rendezvous channel.
    @usableFromInline let ring: ChannelRing<Element>?
    /// How many elements the spill may hold: capacity beyond the ring.
    @usableFromInline let spillLimit: Int
    @usableFromInline var spill = RingBuffer<Element>()
    @usableFromInline var senders = RingBuffer<SenderWaiter>()
    @usableFromInline var receivers = RingBuffer<ReceiverWaiter>()
    @usableFromInline var isClosed = false
    @usableFromInline var producers = 0
    /// Elements received without passing the ring: rendezvous hand-offs,
    /// and spilled elements taken once the ring is closed and empty.
    @usableFromInline var handedOff = 0
    /// Oldest elements dropped from the ring (`.dropOldest`).
    @usableFromInline var droppedFromRing = 0
    /// New elements dropped here (capacity 0, or ring and spill full).
    @usableFromInline var droppedHere = 0

    @usableFromInline
    init(capacity: Int, policy: OverflowPolicy, ring: ChannelRing<Element>?) {
        self.capacity = capacity
        self.policy = policy
        self.ring = ring
        spillLimit = capacity - (ring?.capacity ?? 0)
    }

    // MARK: gates

    /// Publishes the queue lengths to the ring's gates (seq_cst stores, the
    /// waiting side of the Dekker handshake: call it after queueing a waiter
    /// or spilling an element and before re-checking the ring).
    @inlinable
    mutating func publishGates() {
        guard let ring else { return }
        let waiting = receivers.count
        if ring.receiversWaiting.pointee.load(ordering: .relaxed) != waiting {
            ring.receiversWaiting.pointee.store(waiting, ordering: .sequentiallyConsistent)
        }
        let backlog = senders.count + spill.count
        if ring.backlog.pointee.load(ordering: .relaxed) != backlog {
            ring.backlog.pointee.store(backlog, ordering: .sequentiallyConsistent)
        }
    }

    // MARK: settle

    /// Brings the queues in step with the ring (see the type comment) and
    /// republishes the gates. Called after every change here, and by the
    /// fast paths when a gate told them somebody waits.
    @inlinable
    mutating func settle(_ wakeups: inout Wakeups) {
        defer { publishGates() }
        guard let ring else {
            // Rendezvous: pair waiting senders with waiting receivers.
            while !senders.isEmpty && !receivers.isEmpty {
                let sender = senders.popFirst()!
                let receiver = receivers.popFirst()!
                handedOff += 1
                wakeups.senders.append((sender.resumer, .sent))
                wakeups.receivers.append((receiver.resumer, .element(sender.element)))
            }
            return
        }
        while true {
            refill(ring, &wakeups)
            var handed = false
            while !receivers.isEmpty, let element = takeBuffered(&wakeups) {
                let receiver = receivers.popFirst()!
                wakeups.receivers.append((receiver.resumer, .element(element)))
                handed = true
            }
            // A hand-off freed ring slots: go round again if anything waits for one.
            if !handed || (spill.isEmpty && senders.isEmpty) { return }
        }
    }

    /// Moves the spill, then waiting senders, into the ring while it has
    /// room, then waiting senders into the spill while it has room.
    @inlinable
    mutating func refill(_ ring: ChannelRing<Element>, _ wakeups: inout Wakeups) {
        while let element = spill.popFirst() {
            switch ring.push(element) {
            case .pushed: continue
            case .full(let element), .closed(let element):
                spill.prepend(element)
            }
            break
        }
        if spill.isEmpty {
            while let sender = senders.popFirst() {
                switch ring.push(sender.element) {
                case .pushed:
                    wakeups.senders.append((sender.resumer, .sent))
                    continue
                case .full(let element), .closed(let element):
                    senders.prepend(SenderWaiter(id: sender.id, element: element, resumer: sender.resumer))
                }
                break
            }
        }
        while spill.count < spillLimit, let sender = senders.popFirst() {
            spill.append(sender.element)
            wakeups.senders.append((sender.resumer, .sent))
        }
    }

    /// The oldest buffered element, if any: from the ring, from the spill
    /// once the ring is closed and empty, or (rendezvous) from the first
    /// waiting sender.
    @inlinable
    mutating func takeBuffered(_ wakeups: inout Wakeups) -> Element? {
        guard let ring else {
            guard let sender = senders.popFirst() else { return nil }
            handedOff += 1
            wakeups.senders.append((sender.resumer, .sent))
            return sender.element
        }
        switch ring.pop() {
        case .element(let element): return element
        case .empty:
            // The spill is non-empty only while the ring is full, unless a
            // receiver emptied the ring and has not refilled it yet.
            guard !spill.isEmpty else { return nil }
            refill(ring, &wakeups)
            if case .element(let element) = ring.pop() { return element }
            return nil
        case .closed:
            guard let element = spill.popFirst() else { return nil }
            handedOff += 1
            return element
        }
    }

    // MARK: send

    @usableFromInline
    enum SendAction {
        /// Accepted: buffered (or, with `.dropOldest`, buffered after
        /// dropping the oldest), or handed to a waiting receiver.
        case sent
        /// Accepted and discarded by the policy (`.dropNewest`, or capacity
        /// 0 with a dropping policy): release it after unlocking.
        case droppedNewest(Element)
        /// No room and the policy is `.suspend`: the caller must wait.
        case mustWait(Element)
        /// The waiter was queued; the caller suspends until resumed.
        case enqueued
        /// Refused: hand the element back with this error.
        case fail(SendError<Element>)
    }

    /// Offers `element` under the lock. With `waiter == nil` this is the
    /// attempt that may not wait: `.mustWait` hands the element back. With a
    /// waiter the sender is queued instead (unless its task is already
    /// cancelled), then the ring is re-checked (Dekker; see `ChannelRing`).
    /// `failWhenFull` makes `.suspend` report `.full` (for `trySend`).
    @inlinable
    mutating func send(
        _ element: Element,
        waiter: (id: Int, resumer: Resumer<SendOutcome<Element>>)? = nil,
        isCancelled: Bool = false,
        failWhenFull: Bool = false,
        wakeups: inout Wakeups
    ) -> SendAction {
        if isClosed { return .fail(SendError(.closed, element: element)) }
        guard let ring else {
            return sendRendezvous(
                element, waiter: waiter, isCancelled: isCancelled, failWhenFull: failWhenFull, wakeups: &wakeups)
        }
        settle(&wakeups)  // the backlog goes first
        var element = element
        while true {
            if spill.isEmpty && senders.isEmpty {
                switch ring.push(element) {
                case .pushed:
                    settle(&wakeups)
                    return .sent
                case .full(let back), .closed(let back):
                    element = back
                }
            }
            if senders.isEmpty && spill.count < spillLimit {
                spill.append(element)
                publishGates()
                settle(&wakeups)
                return .sent
            }
            // Ring and spill are full.
            switch policy {
            case .dropNewest:
                droppedHere += 1
                return .droppedNewest(element)
            case .fail:
                return .fail(SendError(.full, element: element))
            case .dropOldest:
                // Only when the ring is still full; otherwise try again.
                if let oldest = ring.popIfFull() {
                    droppedFromRing += 1
                    wakeups.released.append(oldest)
                }
                settle(&wakeups)
            case .suspend:
                if failWhenFull { return .fail(SendError(.full, element: element)) }
                guard let waiter else { return .mustWait(element) }
                if isCancelled { return .fail(SendError(.cancelled, element: element)) }
                senders.append(SenderWaiter(id: waiter.id, element: element, resumer: waiter.resumer))
                publishGates()
                settle(&wakeups)  // the re-check: room may have appeared since the push failed
                return .enqueued
            }
        }
    }

    @inlinable
    mutating func sendRendezvous(
        _ element: Element,
        waiter: (id: Int, resumer: Resumer<SendOutcome<Element>>)?,
        isCancelled: Bool,
        failWhenFull: Bool,
        wakeups: inout Wakeups
    ) -> SendAction {
        if let receiver = receivers.popFirst() {
            handedOff += 1
            wakeups.receivers.append((receiver.resumer, .element(element)))
            return .sent
        }
        switch policy {
        case .dropNewest, .dropOldest:
            droppedHere += 1
            return .droppedNewest(element)
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
    mutating func cancelSender(_ id: Int) -> SenderWaiter? {
        let sender = senders.removeFirst { $0.id == id }
        if sender != nil { publishGates() }
        return sender
    }

    // MARK: receive

    @usableFromInline
    enum ReceiveAction {
        case element(Element)
        /// Closed and drained.
        case finished
        /// Empty and open: the caller must wait.
        case mustWait
        /// The waiter was queued; the caller suspends until resumed.
        case enqueued
        /// The receiving task is cancelled and there was nothing to take.
        case cancelled
    }

    /// Takes the oldest element under the lock, or queues `waiter` (then
    /// re-checks the ring: Dekker, see `ChannelRing`).
    @inlinable
    mutating func receive(
        waiter: (id: Int, resumer: Resumer<ReceiveOutcome<Element>>)? = nil,
        isCancelled: Bool = false,
        wakeups: inout Wakeups
    ) -> ReceiveAction {
        settle(&wakeups)  // receivers already queued go first
        if let element = takeBuffered(&wakeups) {
            settle(&wakeups)  // the freed slot may admit the backlog
            return .element(element)
        }
        if isClosed { return .finished }
        guard let waiter else { return .mustWait }
        if isCancelled { return .cancelled }
        receivers.append(ReceiverWaiter(id: waiter.id, resumer: waiter.resumer))
        publishGates()
        settle(&wakeups)  // the re-check: an element may have arrived since the pop failed
        return .enqueued
    }

    /// The receiver `id` was cancelled: if it still waits, it is removed and
    /// must be resumed with no element.
    @usableFromInline
    mutating func cancelReceiver(_ id: Int) -> ReceiverWaiter? {
        let receiver = receivers.removeFirst { $0.id == id }
        if receiver != nil { publishGates() }
        return receiver
    }

    // MARK: close and producers

    /// Closes the channel; returns false if it was already closed. Waiting
    /// senders get their elements back; waiting receivers (there are some
    /// only when nothing is buffered, or a fast-path send has not handed its
    /// element over yet) get what is buffered, then nil.
    @usableFromInline
    mutating func close(_ wakeups: inout Wakeups) -> Bool {
        if isClosed { return false }
        isClosed = true
        ring?.markClosed()
        for sender in senders.removeAll() {
            wakeups.senders.append((sender.resumer, .failed(SendError(.closed, element: sender.element))))
        }
        settle(&wakeups)
        for receiver in receivers.removeAll() { wakeups.receivers.append((receiver.resumer, .none)) }
        publishGates()
        return true
    }

    @usableFromInline
    mutating func registerProducers(_ n: Int) {
        producers += n
    }

    /// A producer finished: the last one closes the channel.
    @usableFromInline
    mutating func releaseProducer(_ wakeups: inout Wakeups) {
        precondition(producers > 0, "Channel.Producer released more often than registered")
        producers -= 1
        if producers == 0 { _ = close(&wakeups) }
    }

    // MARK: observation

    /// The counters: exact when no operation is in flight; the identity
    /// `sent == received + dropped + depth` holds in every snapshot.
    @usableFromInline
    var stats: ChannelStats {
        let (dequeued, enqueued) = ring?.counts() ?? (0, 0)
        let droppedNewest = ring?.droppedNewest.pointee.load(ordering: .relaxed) ?? 0
        return ChannelStats(
            capacity: capacity,
            sent: enqueued + spill.count + handedOff + droppedNewest + droppedHere,
            received: dequeued - droppedFromRing + handedOff,
            dropped: droppedNewest + droppedHere + droppedFromRing,
            depth: enqueued - dequeued + spill.count,
            suspendedSenders: senders.count, suspendedReceivers: receivers.count,
            producers: producers, isClosed: isClosed)
    }

    /// Returns a description of the first broken invariant, or nil. Only
    /// meaningful when no operation is in flight.
    @usableFromInline
    func invariantViolation() -> String? {
        let stats = self.stats
        let ringFull = ring.map { $0.counts().enqueued - $0.counts().dequeued == $0.capacity } ?? true
        if !receivers.isEmpty && (stats.depth > 0 || !senders.isEmpty) {
            return "receivers wait while elements are available"
        }
        if !senders.isEmpty && (!ringFull || spill.count < spillLimit || isClosed) {
            return "senders wait while there is room or the channel is closed"
        }
        if !spill.isEmpty && !ringFull && !isClosed { return "spilled elements while the ring has room" }
        if stats.depth > capacity { return "depth \(stats.depth) above capacity \(capacity)" }
        if stats.sent != stats.received + stats.dropped + stats.depth {
            return "sent \(stats.sent) != received \(stats.received) + dropped \(stats.dropped) + depth \(stats.depth)"
        }
        if let ring {
            let waiting = ring.receiversWaiting.pointee.load(ordering: .relaxed)
            let backlog = ring.backlog.pointee.load(ordering: .relaxed)
            if waiting != receivers.count || backlog != senders.count + spill.count {
                return "gates \(waiting)/\(backlog) differ from the queues \(receivers.count)/\(senders.count + spill.count)"
            }
        }
        return nil
    }
}
