import FlowAtomics

/// The bounded buffer between a stage (or operator) and its consumers.
///
/// Senders suspend while the buffer is full; consumers suspend while it is
/// empty. `finish()` ends the sequence once the buffer drains; `abort()`
/// fails every blocked and later send (operators call it on cancellation so
/// no sender blocks forever once nobody reads). Continuations are resumed
/// after the lock is released.
@usableFromInline
final class StageOutput<Element: Sendable>: Sendable {
    @usableFromInline struct BlockedSender {
        @usableFromInline let element: Element
        @usableFromInline let continuation: UnsafeContinuation<Bool, Never>

        @inlinable init(element: Element, continuation: UnsafeContinuation<Bool, Never>) {
            self.element = element
            self.continuation = continuation
        }
    }

    @usableFromInline struct State {
        @usableFromInline var buffer = FIFOBuffer<Element>()
        @usableFromInline var senders = FIFOBuffer<BlockedSender>()
        @usableFromInline var consumers = FIFOBuffer<UnsafeContinuation<Element?, Never>>()
        @usableFromInline var finished = false
        @usableFromInline var aborted = false

        @inlinable init() {}
    }

    @usableFromInline let capacity: Int
    @usableFromInline let state = Locked(State())  // every field protected by its lock

    @inlinable init(capacity: Int) {
        precondition(capacity >= 1, "StageOutput needs capacity >= 1")
        self.capacity = capacity
    }

    @usableFromInline enum SendStep {
        case done(Bool)
        case handOff(UnsafeContinuation<Element?, Never>)
        case block
    }

    @inlinable func trySend(_ element: Element, _ s: inout State) -> SendStep {
        precondition(!s.finished, "StageOutput: send after finish")
        if s.aborted { return .done(false) }
        if let consumer = s.consumers.popFirst() { return .handOff(consumer) }
        if s.buffer.count < capacity {
            s.buffer.append(element)
            return .done(true)
        }
        return .block
    }

    /// Delivers `element`, waiting for room (ignores task cancellation).
    /// Returns whether it was delivered (false after `abort()`) and the
    /// nanoseconds spent blocked.
    @inlinable nonisolated(nonsending) func send(_ element: Element) async -> (delivered: Bool, blockedNanoseconds: UInt64) {
        switch state.withLock({ trySend(element, &$0) }) {
        case let .done(delivered):
            return (delivered, 0)
        case let .handOff(consumer):
            consumer.resume(returning: element)
            return (true, 0)
        case .block:
            let start = stageNow()
            let delivered = await withUnsafeContinuation { (continuation: UnsafeContinuation<Bool, Never>) in
                let step = state.withLock { s -> SendStep in
                    let step = trySend(element, &s)
                    if case .block = step { s.senders.append(BlockedSender(element: element, continuation: continuation)) }
                    return step
                }
                switch step {
                case let .done(delivered): continuation.resume(returning: delivered)
                case let .handOff(consumer):
                    consumer.resume(returning: element)
                    continuation.resume(returning: true)
                case .block: break
                }
            }
            return (delivered, stageElapsed(since: start))
        }
    }

    @usableFromInline enum ReceiveStep {
        case value(Element?, unblocked: UnsafeContinuation<Bool, Never>?)
        case wait
    }

    @inlinable func tryReceive(_ s: inout State) -> ReceiveStep {
        if let element = s.buffer.popFirst() {
            if let sender = s.senders.popFirst() {
                s.buffer.append(sender.element)
                return .value(element, unblocked: sender.continuation)
            }
            return .value(element, unblocked: nil)
        }
        if let sender = s.senders.popFirst() {  // only with an aborted-then-unaborted race; kept for safety
            return .value(sender.element, unblocked: sender.continuation)
        }
        if s.finished { return .value(nil, unblocked: nil) }
        return .wait
    }

    /// The next element, or nil once finished and drained.
    @inlinable nonisolated(nonsending) func next() async -> Element? {
        switch state.withLock({ tryReceive(&$0) }) {
        case let .value(element, unblocked):
            unblocked?.resume(returning: true)
            return element
        case .wait:
            return await park()
        }
    }

    @inlinable nonisolated(nonsending) func park() async -> Element? {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Element?, Never>) in
            let step = state.withLock { s -> ReceiveStep in
                let step = tryReceive(&s)
                if case .wait = step { s.consumers.append(continuation) }
                return step
            }
            if case let .value(element, unblocked) = step {
                unblocked?.resume(returning: true)
                continuation.resume(returning: element)
            }
        }
    }

    /// Ends the sequence: consumers get nil once the buffer is drained.
    /// Call only after every send has returned.
    @inlinable func finish() {
        let waiting = state.withLock { s -> [UnsafeContinuation<Element?, Never>] in
            s.finished = true
            return s.buffer.isEmpty ? s.consumers.removeAll() : []
        }
        for consumer in waiting { consumer.resume(returning: nil) }
    }

    /// Fails every blocked and later send (the element is not delivered).
    @inlinable func abort() {
        let blocked = state.withLock { s -> [BlockedSender] in
            s.aborted = true
            return s.senders.removeAll()
        }
        for sender in blocked { sender.continuation.resume(returning: false) }
    }

    /// Elements buffered now.
    @inlinable var bufferedCount: Int { state.withLock { $0.buffer.count } }
}

/// The results of a stage or operator: an `AsyncSequence` that ends when the
/// producer has finished and every result was taken.
///
/// Consumers must read it to the end (or use the owner's `discardAndWait()`):
/// a full output buffer blocks the workers, and the stage cannot complete.
/// Several tasks may iterate it at once; each result goes to one of them.
/// `next()` does not return early when the consuming task is cancelled:
/// cancel the stage instead.
public struct StageResults<Element: Sendable>: AsyncSequence, Sendable {
    public typealias Failure = Never
    @usableFromInline let output: StageOutput<Element>

    @inlinable init(output: StageOutput<Element>) { self.output = output }

    /// Takes results one at a time; see ``StageResults``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Failure = Never
        @usableFromInline let output: StageOutput<Element>
        @inlinable init(output: StageOutput<Element>) { self.output = output }
        @inlinable public mutating func next() async -> Element? { await output.next() }
        /// `for await` calls this one: it runs on the caller's executor, so
        /// taking a buffered result costs no executor hop.
        @inlinable public mutating func next(isolation actor: isolated (any Actor)?) async -> Element? {
            await output.next()
        }
    }

    /// A new iterator over the same results (each result goes to one iterator).
    @inlinable public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(output: output) }
}
