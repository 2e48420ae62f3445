extension Channel {
    /// Sends from a plain thread (not from a task): blocks the thread while
    /// the buffer is full. Same outcomes as `send(_:)`, except that there is
    /// no cancellation. Never call it from a task on a cooperative or
    /// executor thread: it would block that thread.
    @inlinable
    public func sendBlocking(_ element: sending Element) throws(SendError<Element>) {
        // Before blocking (a futex wait and a wake-up: microseconds, and a
        // context switch on each side), retry the lock-free path for a
        // while, spinning, then yielding the CPU (`Backoff`). Measured on
        // the thread-to-thread benchmark: 4x fewer context switches.
        var slow = element
        var backoff = Backoff()
        while true {
            switch sendFast(slow, failWhenFull: false) {
            case .done: return
            case .failed(let error): throw error
            case .slow(let back): slow = back
            }
            if backoff.isCompleted || overflow != .suspend { break }
            backoff.snooze()
        }
        var wakeups = Wakeups()
        let first = state.withLock { $0.send(slow, wakeups: &wakeups) }
        wakeups.perform()
        let waiting: Element
        switch first {
        case .sent, .droppedNewest: return
        case .fail(let error): throw error
        case .enqueued: preconditionFailure("Channel.sendBlocking: queued without a waiter")
        case .mustWait(let back): waiting = back
        }
        let waiter = ThreadWaiter<SendOutcome<Element>>()
        let id = nextWaiterID()
        var more = Wakeups()
        let action = state.withLock { $0.send(waiting, waiter: (id, .thread(waiter)), wakeups: &more) }
        more.perform()
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
        var backoff = Backoff()  // spin, then yield, before blocking (see sendBlocking)
        retry: while true {
            switch receiveFast() {
            case .element(let element): return element
            case .finished: return nil
            case .slow: break retry
            case .empty:
                if backoff.isCompleted { break retry }
                backoff.snooze()
            }
        }
        var wakeups = Wakeups()
        let first = state.withLock { $0.receive(wakeups: &wakeups) }
        wakeups.perform()
        switch first {
        case .element(let element): return element
        case .finished, .cancelled: return nil
        case .enqueued: preconditionFailure("Channel.receiveBlocking: queued without a waiter")
        case .mustWait: break
        }
        let waiter = ThreadWaiter<ReceiveOutcome<Element>>()
        let id = nextWaiterID()
        var more = Wakeups()
        let action = state.withLock { $0.receive(waiter: (id, .thread(waiter)), wakeups: &more) }
        more.perform()
        finishWaitingReceive(action, resumer: .thread(waiter))
        switch waiter.wait() {
        case .element(let element): return element
        case .none: return nil
        }
    }
}
