import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

@Suite("WorkStealingDeque", .serialized, .timeLimit(.minutes(2)))
struct WorkStealingDequeTests {
    @Test func smokeOwnerLIFOThiefFIFO() throws {
        let deque = try WorkStealingDeque<Int>(initialCapacity: 4)
        let stealer = deque.makeStealer()
        for i in 1...3 { deque.push(i) }
        do { let v = deque.count; #expect(v == 3) }
        #expect(deque.pop() == 3)
        #expect(stealer.steal() == .success(1))
        #expect(deque.pop() == 2)
        #expect(deque.pop() == nil)
        #expect(stealer.steal() == .empty)
        do { let v = deque.isEmpty; #expect(v) }
    }

    @Test func badCapacityIsRejected() {
        #expect(throws: FlowError.invalidArgument(parameter: "initialCapacity", value: "0", reason: "must be at least 1")) {
            _ = try WorkStealingDeque<Int>(initialCapacity: 0)
        }
        #expect(throws: FlowError.self) { _ = try WorkStealingDeque<Int>(initialCapacity: -5) }
    }

    @Test(arguments: [(2, 4), (2, 16), (2, 2048), (4, 2048)])
    func growsWithExactCounts(initial: Int, items: Int) throws {
        let deque = try WorkStealingDeque<Int>(initialCapacity: initial)
        let stealer = deque.makeStealer()
        do { let v = deque.capacity; #expect(v == initial) }
        for i in 0..<items {
            deque.push(i)
            do { let v = deque.count; #expect(v == i + 1) }
        }
        do { let v = deque.capacity; #expect(v == items) }   // doubled exactly as far as needed
        // Half from the thief side (FIFO), the rest from the owner side (LIFO).
        for i in 0..<items / 2 { #expect(stealer.steal() == .success(i)) }
        for i in stride(from: items - 1, through: items / 2, by: -1) { #expect(deque.pop() == i) }
        #expect(deque.pop() == nil)
        do { let v = deque.count; #expect(v == 0) }
    }

    @Test func growsWhileWrappedAround() throws {
        // Move top forward so the live range wraps the ring before growing.
        let deque = try WorkStealingDeque<Int>(initialCapacity: 4)
        let stealer = deque.makeStealer()
        var expected: [Int] = []
        var next = 0
        for _ in 0..<3 { deque.push(next); expected.append(next); next += 1 }
        for _ in 0..<2 { if case .success(let x) = stealer.steal() { #expect(x == expected.removeFirst()) } }
        for _ in 0..<20 { deque.push(next); expected.append(next); next += 1 }
        var got: [Int] = []
        while case .success(let x) = stealer.steal() { got.append(x) }
        #expect(got == expected)
    }

    /// One owner pushes and pops while thieves steal: every item is taken
    /// exactly once, including the races for the last item.
    @Test(arguments: [1, 2, 4, 8])
    func stressOwnerWithThieves(thieves: Int) throws {
        let items = StressScale.scaled(1_000_000, minimum: 20_000)
        let seen = UnsafeMutableBufferPointer<Atomic<Int>>.allocate(capacity: items)
        for i in 0..<items { (seen.baseAddress! + i).initialize(to: Atomic(0)) }
        defer { seen.deallocate() }
        let seenBox = UncheckedBox(seen)
        let deque = try WorkStealingDeque<Int>(initialCapacity: 2)
        let stealer = deque.makeStealer()
        let ownerDone = Atomic<Bool>(false)
        let ownerBox = UncheckedBox(deque)
        let taken = Atomic<Int>(0)
        try Stress.run(threads: thieves + 1, timeout: .seconds(120)) { t in
            let seen = seenBox.value
            if t == 0 {
                var rng = SystemRandomNumberGenerator()
                var i = 0
                while i < items {
                    // Push a small burst, then pop some: keeps the deque near empty
                    // so the last-item race happens often.
                    let burst = Int.random(in: 1...4, using: &rng)
                    for _ in 0..<burst where i < items { ownerBox.value.push(i); i += 1 }
                    for _ in 0..<Int.random(in: 0...burst, using: &rng) {
                        guard let x = ownerBox.value.pop() else { break }
                        seen[x].wrappingAdd(1, ordering: .relaxed)
                        taken.wrappingAdd(1, ordering: .relaxed)
                    }
                }
                while let x = ownerBox.value.pop() {
                    seen[x].wrappingAdd(1, ordering: .relaxed)
                    taken.wrappingAdd(1, ordering: .relaxed)
                }
                ownerDone.store(true, ordering: .releasing)
            } else {
                while true {
                    switch stealer.steal() {
                    case .success(let x):
                        seen[x].wrappingAdd(1, ordering: .relaxed)
                        taken.wrappingAdd(1, ordering: .relaxed)
                    case .retry: continue
                    case .empty:
                        if ownerDone.load(ordering: .acquiring) && stealer.isEmpty { return }
                    }
                }
            }
        }
        #expect(taken.load(ordering: .relaxed) == items)
        var bad = 0
        for i in 0..<items where seen[i].load(ordering: .relaxed) != 1 { bad += 1 }
        #expect(bad == 0, "\(bad) items were not taken exactly once")
    }

    /// The owner's one-element pop takes the element from the top (a CAS,
    /// like a steal): the counts stay exact and the ring is reused after it.
    @Test func oneElementPopKeepsIndicesConsistent() throws {
        let deque = try WorkStealingDeque<Int>(initialCapacity: 2)
        let stealer = deque.makeStealer()
        for i in 0..<10 {
            deque.push(i)
            #expect(deque.pop() == i)
            do { let v = deque.count; #expect(v == 0) }
            #expect(deque.pop() == nil)
            #expect(stealer.steal() == .empty)
        }
        deque.push(1); deque.push(2)
        #expect(stealer.steal() == .success(1))
        #expect(deque.pop() == 2)          // one left after the steal: the top path
        #expect(deque.pop() == nil)
        for i in 0..<5 { deque.push(i) }   // five live items: the ring grows to 8, no further
        do { let v = deque.capacity; #expect(v == 8) }
        for i in stride(from: 4, through: 0, by: -1) { #expect(deque.pop() == i) }
    }

    /// The owner pushes one item and pops it at once while thieves steal:
    /// every pop races the thieves for a single element; each item is taken
    /// exactly once.
    @Test(arguments: [1, 3])
    func stressOneElementRace(thieves: Int) throws {
        let items = StressScale.scaled(500_000, minimum: 20_000)
        let ownerTook = Atomic<Int>(0), thievesTook = Atomic<Int>(0), sum = Atomic<Int>(0)
        let deque = try WorkStealingDeque<Int>(initialCapacity: 2)
        let stealer = deque.makeStealer()
        let ownerBox = UncheckedBox(deque)
        let ownerDone = Atomic<Bool>(false)
        try Stress.run(threads: thieves + 1, timeout: .seconds(120)) { t in
            if t == 0 {
                for i in 1...items {
                    ownerBox.value.push(i)
                    if let x = ownerBox.value.pop() {
                        ownerTook.wrappingAdd(1, ordering: .relaxed)
                        sum.wrappingAdd(x, ordering: .relaxed)
                    }
                }
                ownerDone.store(true, ordering: .releasing)
            } else {
                while true {
                    switch stealer.steal() {
                    case .success(let x):
                        thievesTook.wrappingAdd(1, ordering: .relaxed)
                        sum.wrappingAdd(x, ordering: .relaxed)
                    case .retry: continue
                    case .empty: if ownerDone.load(ordering: .acquiring) && stealer.isEmpty { return }
                    }
                }
            }
        }
        #expect(ownerTook.load(ordering: .relaxed) + thievesTook.load(ordering: .relaxed) == items)
        #expect(sum.load(ordering: .relaxed) == items * (items + 1) / 2)
    }

    /// Class payloads passed as `Unmanaged` are released exactly once.
    @Test func destructors() throws {
        let counter = DeinitCounter()
        let items = StressScale.scaled(100_000, minimum: 5_000)
        let deque = try WorkStealingDeque<Unmanaged<Tracked>>(initialCapacity: 2)
        let stealer = deque.makeStealer()
        let ownerBox = UncheckedBox(deque)
        let ownerDone = Atomic<Bool>(false)
        let sum = Atomic<Int>(0)
        try Stress.run(threads: 3, timeout: .seconds(120)) { t in
            if t == 0 {
                for i in 0..<items {
                    ownerBox.value.push(Unmanaged.passRetained(Tracked(i, counter: counter)))
                    if i % 3 == 0, let u = ownerBox.value.pop() {
                        sum.wrappingAdd(u.takeRetainedValue().value, ordering: .relaxed)
                    }
                }
                while let u = ownerBox.value.pop() { sum.wrappingAdd(u.takeRetainedValue().value, ordering: .relaxed) }
                ownerDone.store(true, ordering: .releasing)
            } else {
                while true {
                    switch stealer.steal() {
                    case .success(let u): sum.wrappingAdd(u.takeRetainedValue().value, ordering: .relaxed)
                    case .retry: continue
                    case .empty: if ownerDone.load(ordering: .acquiring) && stealer.isEmpty { return }
                    }
                }
            }
        }
        #expect(sum.load(ordering: .relaxed) == items * (items - 1) / 2)
        #expect(counter.deinitCount == items)
        #expect(counter.liveCount == 0)
    }
}

/// Moves a non-Sendable or noncopyable test value into `@Sendable` closures;
/// the test's protocol decides which thread uses it.
final class UncheckedBox<T: ~Copyable>: @unchecked Sendable { // each test uses the value from the one thread its protocol assigns
    // Safe: each test uses the boxed value from the one thread its protocol
    // assigns (the deque owner), or only through thread-safe operations.
    let value: T
    init(_ value: consuming T) { self.value = value }
}
