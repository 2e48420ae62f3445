/// A growable FIFO ring of values: the overflow list ("spill") and waiter
/// queues of a channel's state machine. Not thread-safe; it lives inside a
/// lock.
///
/// Storage grows by doubling (up to whatever the owner allows), so the
/// spill of a channel of capacity 1 million costs nothing until it fills.
@usableFromInline
struct RingBuffer<Element> {
    @usableFromInline var slots: ContiguousArray<Element?> = []
    @usableFromInline var head = 0
    @usableFromInline var count = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { count == 0 }

    @inlinable var first: Element? { count == 0 ? nil : slots[head] }

    @inlinable mutating func append(_ element: Element) {
        if count == slots.count { grow() }
        var tail = head + count
        if tail >= slots.count { tail -= slots.count }
        slots[tail] = element
        count += 1
    }

    /// Puts `element` back in front (it was popped and could not be placed).
    @inlinable mutating func prepend(_ element: Element) {
        if count == slots.count { grow() }
        head = head == 0 ? slots.count - 1 : head - 1
        slots[head] = element
        count += 1
    }

    @inlinable mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = slots[head].take()
        head += 1
        if head == slots.count { head = 0 }
        count -= 1
        if count == 0 { head = 0 }
        return element
    }

    /// Removes and returns the first element matching `predicate`, keeping
    /// the order of the others. O(count).
    @inlinable mutating func removeFirst(where predicate: (Element) -> Bool) -> Element? {
        guard count > 0 else { return nil }
        var found: Int? = nil
        for i in 0..<count where predicate(slots[physical(i)]!) { found = i; break }
        guard let index = found else { return nil }
        let element = slots[physical(index)].take()
        // Shift the later elements one slot towards the head.
        var i = index
        while i + 1 < count {
            slots[physical(i)] = slots[physical(i + 1)].take()
            i += 1
        }
        count -= 1
        if count == 0 { head = 0 }
        return element
    }

    /// Removes every element, oldest first.
    @inlinable mutating func removeAll() -> [Element] {
        var all: [Element] = []
        all.reserveCapacity(count)
        while let e = popFirst() { all.append(e) }
        return all
    }

    @inlinable func physical(_ i: Int) -> Int {
        let p = head + i
        return p >= slots.count ? p - slots.count : p
    }

    @inlinable mutating func grow() {
        let newCapacity = Swift.max(4, slots.count * 2)
        var grown = ContiguousArray<Element?>(repeating: nil, count: newCapacity)
        for i in 0..<count { grown[i] = slots[physical(i)].take() }
        slots = grown
        head = 0
    }
}
