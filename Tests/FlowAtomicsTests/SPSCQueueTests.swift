import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

@Suite("SPSCQueue", .serialized, .timeLimit(.minutes(2)))
struct SPSCQueueTests {
    @Test func smokeAndBadCapacity() throws {
        let q = try SPSCQueue<Int>(capacity: 3)
        for i in 0..<3 { guard case .enqueued = q.tryEnqueue(i) else { Issue.record("enqueue"); return } }
        guard case .full(let back) = q.tryEnqueue(7) else { Issue.record("expected full at capacity 3"); return }
        #expect(back == 7)
        for i in 0..<3 { #expect(q.tryDequeue() == i) }
        #expect(q.tryDequeue() == nil)
        #expect(throws: FlowError.invalidArgument(parameter: "capacity", value: "0", reason: "must be at least 1")) {
            _ = try SPSCQueue<Int>(capacity: 0)
        }
    }

    /// FIFO across many wrap-arounds with a real producer and consumer thread.
    @Test(arguments: [2, 1024])
    func spscFIFOAcrossWrapAround(capacity: Int) throws {
        let q = try SPSCQueue<Int>(capacity: capacity)
        let total = StressScale.scaled(1_000_000, minimum: 20_000)
        let outOfOrder = Atomic<Int>(0)
        let received = Atomic<Int>(0)
        try Stress.run(threads: 2, timeout: .seconds(120)) { t in
            var backoff = Backoff()
            if t == 0 {
                for i in 0..<total {
                    while case .full = q.tryEnqueue(i) { backoff.snooze() }
                    backoff.reset()
                }
            } else {
                var next = 0
                while next < total {
                    if let x = q.tryDequeue() {
                        if x != next { outOfOrder.wrappingAdd(1, ordering: .relaxed) }
                        next += 1
                        backoff.reset()
                    } else {
                        backoff.snooze()
                    }
                }
                received.store(next, ordering: .relaxed)
            }
        }
        #expect(received.load(ordering: .relaxed) == total)
        #expect(outOfOrder.load(ordering: .relaxed) == 0)
        #expect(q.isEmpty)
    }

    @Test func destructors() throws {
        let counter = DeinitCounter()
        do {
            let q = try SPSCQueue<Tracked>(capacity: 4)
            for i in 0..<4 { _ = q.tryEnqueue(Tracked(i, counter: counter)) }
            _ = q.tryDequeue()
            _ = q.tryEnqueue(Tracked(9, counter: counter))
        }
        #expect(counter.liveCount == 0)
    }
}
