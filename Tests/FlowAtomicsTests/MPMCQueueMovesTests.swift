import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

@Suite("MPMCQueue moves (tryEnqueue(taking:), batch dequeue)", .serialized, .timeLimit(.minutes(3)))
struct MPMCQueueMovesTests {
    @Test func enqueueTakingMovesAndLeavesTheSlotWhenFull() throws {
        let counter = DeinitCounter()
        do {
            let q = try MPMCQueue<Tracked>(capacity: 2)
            var slot: Tracked? = Tracked(1, counter: counter)
            #expect(q.tryEnqueue(taking: &slot))
            #expect(slot == nil)                                // moved into the cell
            slot = Tracked(2, counter: counter)
            #expect(q.tryEnqueue(taking: &slot))
            slot = Tracked(3, counter: counter)
            #expect(!q.tryEnqueue(taking: &slot))               // full: the element stays with the caller
            #expect(slot?.value == 3)
            #expect(counter.liveCount == 3)                     // nothing copied, nothing dropped
            #expect(q.tryDequeue()?.value == 1)
            #expect(q.tryEnqueue(taking: &slot))                // room again
            #expect(q.tryDequeue()?.value == 2)
            #expect(q.tryDequeue()?.value == 3)
        }
        #expect(counter.liveCount == 0)
    }

    @Test func takesWhatIsThereInOrderUpToTheLimit() throws {
        let q = try MPMCQueue<Int>(capacity: 8)
        let buffer = UnsafeMutablePointer<Int>.allocate(capacity: 8)
        defer { buffer.deallocate() }
        #expect(q.tryDequeue(upTo: 4, into: buffer) == 0)
        // Wrap the ring first, so a batch spans its end.
        for i in 0..<6 { _ = q.tryEnqueue(i); #expect(q.tryDequeue() == i) }
        for i in 0..<7 { guard case .enqueued = q.tryEnqueue(i) else { Issue.record("enqueue \(i)"); return } }
        #expect(q.tryDequeue(upTo: 3, into: buffer) == 3)
        #expect(Array(UnsafeBufferPointer(start: buffer, count: 3)) == [0, 1, 2])
        #expect(q.tryDequeue() == 3)                      // single and batch mix
        #expect(q.tryDequeue(upTo: 8, into: buffer) == 3)  // fewer than asked: all there is
        #expect(Array(UnsafeBufferPointer(start: buffer, count: 3)) == [4, 5, 6])
        #expect(q.count == 0)
        // The cells are free again: the ring fills to capacity.
        for i in 0..<8 { guard case .enqueued = q.tryEnqueue(i) else { Issue.record("refill \(i)"); return } }
        #expect(q.tryDequeue(upTo: 8, into: buffer) == 8)
        #expect(Array(UnsafeBufferPointer(start: buffer, count: 8)) == Array(0..<8))
    }

    @Test func movesOwnershipOut() throws {
        let counter = DeinitCounter()
        do {
            let q = try MPMCQueue<Tracked>(capacity: 8)
            for i in 0..<6 { _ = q.tryEnqueue(Tracked(i, counter: counter)) }
            let buffer = UnsafeMutablePointer<Tracked>.allocate(capacity: 4)
            let n = q.tryDequeue(upTo: 4, into: buffer)
            #expect(n == 4)
            #expect(counter.liveCount == 6)                 // moved, not copied or dropped
            buffer.deinitialize(count: n)
            buffer.deallocate()
            #expect(counter.liveCount == 2)
        }
        #expect(counter.liveCount == 0)                     // the queue released the other two
    }

    /// Producers and consumers that take batches of random size (and single
    /// items): every item arrives exactly once, and each consumer sees each
    /// producer's items in order.
    @Test(arguments: [(1, 2), (2, 2), (4, 3)])
    func stress(producers: Int, consumers: Int) throws {
        for capacity in [2, 16, 1024] {
            let total = StressScale.scaled(capacity == 16 ? 400_000 : 200_000, minimum: 10_000)
            let q = try MPMCQueue<Int>(capacity: capacity)
            let perProducer = total / producers
            let expected = perProducer * producers
            let received = Collector<Int>()
            let consumed = Atomic<Int>(0)
            let orderViolations = Atomic<Int>(0)
            try Stress.run(threads: producers + consumers, timeout: .seconds(120)) { t in
                if t < producers {
                    var backoff = Backoff()
                    for i in 0..<perProducer {
                        while case .full = q.tryEnqueue(t << 32 | i) { backoff.snooze() }
                        backoff.reset()
                    }
                    return
                }
                let buffer = UnsafeMutablePointer<Int>.allocate(capacity: 16)
                defer { buffer.deallocate() }
                var last = [Int](repeating: -1, count: producers)
                var mine: [Int] = []
                var rng = SystemRandomNumberGenerator()
                var backoff = Backoff()
                while consumed.load(ordering: .relaxed) < expected {
                    let n: Int
                    if Bool.random(using: &rng), let x = q.tryDequeue() {
                        buffer.initialize(to: x)
                        n = 1
                    } else {
                        n = q.tryDequeue(upTo: Int.random(in: 1...16, using: &rng), into: buffer)
                    }
                    if n == 0 { backoff.snooze(); continue }
                    backoff.reset()
                    consumed.wrappingAdd(n, ordering: .relaxed)
                    for k in 0..<n {
                        let x = buffer[k]
                        let p = x >> 32, i = x & 0xFFFF_FFFF
                        if i <= last[p] { orderViolations.wrappingAdd(1, ordering: .relaxed) }
                        last[p] = i
                        mine.append(x)
                    }
                }
                received.append(contentsOf: mine)
            }
            let sent = (0..<producers).flatMap { p in (0..<perProducer).map { p << 32 | $0 } }
            #expect(Stress.conservationViolation(sent: sent, received: received.values) == nil,
                    "\(producers)P\(consumers)C capacity \(capacity)")
            #expect(orderViolations.load(ordering: .relaxed) == 0, "FIFO per producer, capacity \(capacity)")
            #expect(q.count == 0)
        }
    }
}
