import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

@Suite("MPMCQueue", .serialized, .timeLimit(.minutes(3)))
struct MPMCQueueTests {
    @Test func smokeFIFOAndEdges() throws {
        let q = try MPMCQueue<Int>(capacity: 4)
        #expect(q.tryDequeue() == nil)
        for i in 0..<4 { guard case .enqueued = q.tryEnqueue(i) else { Issue.record("enqueue \(i)"); return } }
        guard case .full(let back) = q.tryEnqueue(99) else { Issue.record("expected full"); return }
        #expect(back == 99)
        #expect(q.count == 4)
        for i in 0..<4 { #expect(q.tryDequeue() == i) }
        #expect(q.tryDequeue() == nil)
        #expect(q.count == 0)
        // Wrap-around many times at the smallest capacity.
        let small = try MPMCQueue<Int>(capacity: 2)
        for i in 0..<1000 {
            guard case .enqueued = small.tryEnqueue(i) else { Issue.record("enqueue"); return }
            #expect(small.tryDequeue() == i)
        }
    }

    @Test(arguments: [0, -4, 3, 1, 1000])
    func badCapacityIsRejected(capacity: Int) {
        do {
            _ = try MPMCQueue<Int>(capacity: capacity)
            Issue.record("capacity \(capacity) was accepted")
        } catch {
            guard case .invalidArgument(let parameter, let value, _) = error else { Issue.record("\(error)"); return }
            #expect(parameter == "capacity")
            #expect(value == "\(capacity)")
        }
    }

    @Test func releasesRemainingElements() throws {
        let counter = DeinitCounter()
        do {
            let q = try MPMCQueue<Tracked>(capacity: 8)
            for i in 0..<5 { _ = q.tryEnqueue(Tracked(i, counter: counter)) }
            _ = q.tryDequeue()
        }
        #expect(counter.liveCount == 0)
    }

    /// Producers × consumers × capacities: the multiset out equals the
    /// multiset in, and each consumer sees each producer's items in order.
    @Test(arguments: [(1, 1), (1, 4), (4, 1), (2, 2), (4, 4)])
    func stress(producers: Int, consumers: Int) throws {
        for capacity in [2, 16, 1024] {
            try run(producers: producers, consumers: consumers, capacity: capacity,
                    total: StressScale.scaled(capacity == 16 ? 1_000_000 : 250_000, minimum: 10_000))
        }
    }

    private func run(producers: Int, consumers: Int, capacity: Int, total: Int) throws {
        let q = try MPMCQueue<Int>(capacity: capacity)
        let perProducer = total / producers
        let received = Collector<Int>()
        let consumed = Atomic<Int>(0)
        let orderViolations = Atomic<Int>(0)
        let expected = perProducer * producers
        try Stress.run(threads: producers + consumers, timeout: .seconds(120)) { t in
            if t < producers {
                var backoff = Backoff()
                for i in 0..<perProducer {
                    let item = t << 32 | i
                    while case .full = q.tryEnqueue(item) { backoff.snooze() }
                    backoff.reset()
                }
            } else {
                var last = [Int](repeating: -1, count: producers)
                var mine: [Int] = []
                var backoff = Backoff()
                while consumed.load(ordering: .relaxed) < expected {
                    if let x = q.tryDequeue() {
                        consumed.wrappingAdd(1, ordering: .relaxed)
                        let p = x >> 32, i = x & 0xFFFF_FFFF
                        if i <= last[p] { orderViolations.wrappingAdd(1, ordering: .relaxed) }
                        last[p] = i
                        mine.append(x)
                        backoff.reset()
                    } else {
                        backoff.snooze()
                    }
                }
                received.append(contentsOf: mine)
            }
        }
        let sent = (0..<producers).flatMap { p in (0..<perProducer).map { p << 32 | $0 } }
        #expect(Stress.conservationViolation(sent: sent, received: received.values) == nil,
                "\(producers)P\(consumers)C capacity \(capacity)")
        #expect(orderViolations.load(ordering: .relaxed) == 0, "FIFO per producer, capacity \(capacity)")
        #expect(q.count == 0)
    }
}
