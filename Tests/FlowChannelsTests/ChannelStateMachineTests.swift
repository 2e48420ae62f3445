@testable import FlowChannels
import Synchronization
import Testing

/// The lock-protected state machine and its ring, step by step, without
/// tasks: waiters are thread waiters that are never waited on (only the
/// actions and the wake-ups are checked).
@Suite("ChannelStateMachine")
struct ChannelStateMachineTests {
    typealias Machine = ChannelStateMachine<Int>
    typealias Wakeups = Machine.Wakeups

    func machine(capacity: Int, policy: OverflowPolicy = .suspend) -> Machine {
        let ring = capacity == 0 ? nil : ChannelRing<Int>(capacity: min(capacity, ChannelRing<Int>.limit))
        return Machine(capacity: capacity, policy: policy, ring: ring)
    }

    func sender(_ id: Int) -> (id: Int, resumer: Resumer<SendOutcome<Int>>) {
        (id, .thread(ThreadWaiter()))
    }

    func receiver(_ id: Int) -> (id: Int, resumer: Resumer<ReceiveOutcome<Int>>) {
        (id, .thread(ThreadWaiter()))
    }

    @Test func bufferedSendAndReceive() {
        var m = machine(capacity: 2)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        guard case .sent = m.send(1, wakeups: &w) else { Issue.record("expected sent"); return }
        guard case .sent = m.send(2, wakeups: &w) else { Issue.record("expected sent"); return }
        guard case .mustWait(3) = m.send(3, wakeups: &w) else { Issue.record("expected mustWait"); return }
        guard case .element(1) = m.receive(wakeups: &w) else { Issue.record("expected 1"); return }
        #expect(w.senders.count == 0 && w.receivers.count == 0)
        #expect(m.stats.depth == 1 && m.stats.sent == 2 && m.stats.received == 1)
        #expect(m.invariantViolation() == nil)
    }

    @Test func waitingSenderMovesIntoTheFreedSlot() {
        var m = machine(capacity: 1)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        _ = m.send(1, wakeups: &w)
        guard case .enqueued = m.send(2, waiter: sender(7), wakeups: &w) else { Issue.record("expected enqueued"); return }
        #expect(m.stats.suspendedSenders == 1)
        #expect(m.invariantViolation() == nil)
        guard case .element(1) = m.receive(wakeups: &w) else { Issue.record("expected 1"); return }
        #expect(w.senders.count == 1)   // the sender of 2 is to be resumed
        #expect(m.stats.depth == 1 && m.stats.suspendedSenders == 0 && m.stats.sent == 2)
        guard case .element(2) = m.receive(wakeups: &w) else { Issue.record("expected 2"); return }
        #expect(m.invariantViolation() == nil)
    }

    @Test func rendezvousHandsOverDirectly() {
        var m = machine(capacity: 0)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        guard case .enqueued = m.receive(waiter: receiver(1), wakeups: &w) else { Issue.record("expected enqueued"); return }
        guard case .sent = m.send(5, wakeups: &w) else { Issue.record("expected handoff"); return }
        guard case .element(5)? = w.receivers.first?.1 else { Issue.record("receiver 1 gets 5"); return }
        guard case .enqueued = m.send(6, waiter: sender(2), wakeups: &w) else { Issue.record("expected enqueued"); return }
        guard case .element(6) = m.receive(wakeups: &w) else { Issue.record("expected 6 from the sender"); return }
        #expect(w.senders.count == 1)
        #expect(m.stats.sent == 2 && m.stats.received == 2 && m.stats.depth == 0)
    }

    @Test func queuedReceiverIsServedBySettle() {
        // A fast-path push lands in the ring while a receiver is queued; the
        // pusher then sees the gate and settles.
        var m = machine(capacity: 4)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        guard case .enqueued = m.receive(waiter: receiver(1), wakeups: &w) else { Issue.record("expected enqueued"); return }
        #expect(m.ring!.receiversWaiting.pointee.load(ordering: .relaxed) == 1)
        guard case .pushed = m.ring!.push(9) else { Issue.record("expected pushed"); return }
        m.settle(&w)
        guard case .element(9)? = w.receivers.first?.1 else { Issue.record("receiver 1 gets 9"); return }
        #expect(m.ring!.receiversWaiting.pointee.load(ordering: .relaxed) == 0)
        #expect(m.invariantViolation() == nil)
    }

    @Test func cancelledWaitersLeaveNoTrace() {
        var m = machine(capacity: 0)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        _ = m.send(1, waiter: sender(1), wakeups: &w)
        _ = m.send(2, waiter: sender(2), wakeups: &w)
        #expect(m.cancelSender(1)?.element == 1)
        #expect(m.cancelSender(1) == nil)          // only once
        guard case .element(2) = m.receive(wakeups: &w) else { Issue.record("expected 2"); return }
        _ = m.receive(waiter: receiver(3), wakeups: &w)
        #expect(m.cancelReceiver(3) != nil)
        #expect(m.stats.suspendedReceivers == 0)
        guard case .fail(let error) = m.send(9, waiter: sender(4), isCancelled: true, wakeups: &w) else {
            Issue.record("a cancelled sender must not queue"); return
        }
        #expect(error.reason == .cancelled && error.element == 9)
        #expect(m.invariantViolation() == nil)
    }

    @Test func closeReturnsEveryWaiterOnce() {
        var m = machine(capacity: 1)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        _ = m.send(1, wakeups: &w)
        _ = m.send(2, waiter: sender(1), wakeups: &w)
        _ = m.send(3, waiter: sender(2), wakeups: &w)
        var closing = Wakeups()
        let closed = m.close(&closing)
        #expect(closed)
        var handedBack: [Int] = []
        closing.senders.forEach { if case .failed(let e) = $0.1 { handedBack.append(e.element) } }
        #expect(handedBack == [2, 3])
        let again = m.close(&closing)
        #expect(!again)
        guard case .element(1) = m.receive(wakeups: &w) else { Issue.record("buffer still drains"); return }
        guard case .finished = m.receive(wakeups: &w) else { Issue.record("then finished"); return }
        guard case .fail(let error) = m.send(4, wakeups: &w) else { Issue.record("closed"); return }
        #expect(error.reason == .closed)
    }

    @Test func spillHoldsTheCapacityBeyondTheRing() {
        let capacity = ChannelRing<Int>.limit + 3
        var m = machine(capacity: capacity)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        for i in 0..<capacity {
            guard case .sent = m.send(i, wakeups: &w) else { Issue.record("\(i) should fit"); return }
        }
        #expect(m.spill.count == 3 && m.stats.depth == capacity)
        #expect(m.ring!.backlog.pointee.load(ordering: .relaxed) == 3)
        guard case .mustWait = m.send(capacity, wakeups: &w) else { Issue.record("full"); return }
        #expect(m.invariantViolation() == nil)
        for i in 0..<capacity {
            guard case .element(let x) = m.receive(wakeups: &w), x == i else { Issue.record("FIFO broken at \(i)"); return }
        }
        #expect(m.spill.isEmpty && m.stats.depth == 0 && m.stats.received == capacity)
        #expect(m.invariantViolation() == nil)
    }

    @Test func dropOldestDropsOnlyWhenFull() {
        var m = machine(capacity: 2, policy: .dropOldest)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        for i in 0..<5 { _ = m.send(i, wakeups: &w) }
        #expect(w.released.count == 3 && m.stats.dropped == 3 && m.stats.depth == 2)
        guard case .element(3) = m.receive(wakeups: &w) else { Issue.record("expected 3"); return }
        // One slot free: the next send drops nothing.
        _ = m.send(5, wakeups: &w)
        #expect(m.stats.dropped == 3)
        #expect(m.invariantViolation() == nil)
    }

    @Test func lastProducerCloses() {
        var m = machine(capacity: 1)
        defer { m.ring?.deallocate() }
        var w = Wakeups()
        m.registerProducers(2)
        m.releaseProducer(&w)
        #expect(!m.isClosed)
        m.releaseProducer(&w)
        #expect(m.isClosed)
    }
}
