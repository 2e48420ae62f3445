extension Channel {
    /// Sends from a plain thread (not from a task): blocks the thread while
    /// the buffer is full. Same outcomes as `send(_:)`, except that there is
    /// no cancellation. Never call it from a task on a cooperative or
    /// executor thread: it would block that thread.
    @inlinable
    public func sendBlocking(_ element: sending Element) throws(SendError<Element>) {
        let first = state.withLock { $0.send(element) }
        let element: Element
        switch first {
        case .sent, .dropped: return
        case .resumeReceiver(let receiver, let e):
            receiver.resume(.element(e))
            return
        case .fail(let error): throw error
        case .enqueued: preconditionFailure("Channel.sendBlocking: queued without a waiter")
        case .mustWait(let e): element = e
        }
        let waiter = ThreadWaiter<SendOutcome<Element>>()
        let id = nextWaiterID()
        let action = state.withLock { $0.send(element, waiter: (id, .thread(waiter))) }
        finishWaitingSend(action, resumer: .thread(waiter))
        switch waiter.wait() {
        case .sent, .dropped: return
        case .failed(let error): throw error
        }
    }

    /// Receives from a plain thread (not from a task): blocks the thread
    /// while the channel is empty; returns nil once it is closed and drained.
    @inlinable
    public func receiveBlocking() -> Element? {
        switch state.withLock({ $0.receive() }) {
        case .element(let element, let sender):
            sender?.resume(.sent)
            return element
        case .finished, .cancelled: return nil
        case .enqueued: preconditionFailure("Channel.receiveBlocking: queued without a waiter")
        case .mustWait: break
        }
        let waiter = ThreadWaiter<ReceiveOutcome<Element>>()
        let id = nextWaiterID()
        let action = state.withLock { $0.receive(waiter: (id, .thread(waiter))) }
        finishWaitingReceive(action, resumer: .thread(waiter))
        switch waiter.wait() {
        case .element(let element): return element
        case .none: return nil
        }
    }
}
