@testable import FlowChannels
import Testing

/// The pure state machine, step by step, without tasks: waiters are
/// thread waiters that are never waited on (only the actions are checked).
@Suite("ChannelStateMachine")
struct ChannelStateMachineTests {
    typealias Machine = ChannelStateMachine<Int>

    func sender(_ id: UInt64) -> (id: UInt64, resumer: Resumer<SendOutcome<Int>>) {
        (id, .thread(ThreadWaiter()))
    }

    func receiver(_ id: UInt64) -> (id: UInt64, resumer: Resumer<ReceiveOutcome<Int>>) {
        (id, .thread(ThreadWaiter()))
    }

    @Test func bufferedSendAndReceive() {
        var m = Machine(capacity: 2, policy: .suspend)
        guard case .sent = m.send(1) else { Issue.record("expected sent"); return }
        guard case .sent = m.send(2) else { Issue.record("expected sent"); return }
        guard case .mustWait(3) = m.send(3) else { Issue.record("expected mustWait"); return }
        guard case .element(1, nil) = m.receive() else { Issue.record("expected 1"); return }
        #expect(m.stats.depth == 1 && m.stats.sent == 2 && m.stats.received == 1)
        #expect(m.invariantViolation() == nil)
    }

    @Test func waitingSenderMovesIntoTheFreedSlot() {
        var m = Machine(capacity: 1, policy: .suspend)
        _ = m.send(1)
        guard case .enqueued = m.send(2, waiter: sender(7)) else { Issue.record("expected enqueued"); return }
        #expect(m.stats.suspendedSenders == 1)
        guard case .element(1, .some) = m.receive() else { Issue.record("expected 1 and a sender to resume"); return }
        #expect(m.stats.depth == 1 && m.stats.suspendedSenders == 0 && m.stats.sent == 2)
        guard case .element(2, nil) = m.receive() else { Issue.record("expected 2"); return }
        #expect(m.invariantViolation() == nil)
    }

    @Test func rendezvousHandsOverDirectly() {
        var m = Machine(capacity: 0, policy: .suspend)
        guard case .enqueued = m.receive(waiter: receiver(1)) else { Issue.record("expected enqueued"); return }
        guard case .resumeReceiver(_, 5) = m.send(5) else { Issue.record("expected handoff"); return }
        guard case .enqueued = m.send(6, waiter: sender(2)) else { Issue.record("expected enqueued"); return }
        guard case .element(6, .some) = m.receive() else { Issue.record("expected 6 from the sender"); return }
        #expect(m.stats.sent == 2 && m.stats.received == 2 && m.stats.depth == 0)
    }

    @Test func cancelledWaitersLeaveNoTrace() {
        var m = Machine(capacity: 0, policy: .suspend)
        _ = m.send(1, waiter: sender(1))
        _ = m.send(2, waiter: sender(2))
        #expect(m.cancelSender(1)?.element == 1)
        #expect(m.cancelSender(1) == nil)          // only once
        guard case .element(2, .some) = m.receive() else { Issue.record("expected 2"); return }
        _ = m.receive(waiter: receiver(3))
        #expect(m.cancelReceiver(3) != nil)
        #expect(m.stats.suspendedReceivers == 0)
        guard case .fail(let error) = m.send(9, waiter: sender(4), isCancelled: true) else {
            Issue.record("a cancelled sender must not queue"); return
        }
        #expect(error.reason == .cancelled && error.element == 9)
        #expect(m.invariantViolation() == nil)
    }

    @Test func closeReturnsEveryWaiterOnce() {
        var m = Machine(capacity: 1, policy: .suspend)
        _ = m.send(1)
        _ = m.send(2, waiter: sender(1))
        _ = m.send(3, waiter: sender(2))
        let action = m.close()
        #expect(action?.senders.map(\.element) == [2, 3])
        #expect(m.close() == nil)
        guard case .element(1, nil) = m.receive() else { Issue.record("buffer still drains"); return }
        guard case .finished = m.receive() else { Issue.record("then finished"); return }
        guard case .fail(let error) = m.send(4) else { Issue.record("closed"); return }
        #expect(error.reason == .closed)
    }

    @Test func lastProducerCloses() {
        var m = Machine(capacity: 1, policy: .suspend)
        m.registerProducers(2)
        #expect(m.releaseProducer() == nil)
        #expect(!m.isClosed)
        #expect(m.releaseProducer() != nil)
        #expect(m.isClosed)
    }
}
