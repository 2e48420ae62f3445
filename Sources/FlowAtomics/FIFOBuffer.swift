/// An unbounded FIFO: an array with a moving head, compacted when the dead
/// prefix dominates (amortised O(1) append and popFirst). Not thread-safe:
/// it lives inside lock-protected state (a stage's queues, the executor's
/// overflow lists). Package-internal; `@usableFromInline` so the stages'
/// inlinable paths can use it.
@usableFromInline
package struct FIFOBuffer<Element> {
    @usableFromInline package var storage: [Element] = []
    @usableFromInline package var head = 0

    @inlinable package init() {}

    @inlinable package var isEmpty: Bool { head == storage.count }
    @inlinable package var count: Int { storage.count - head }
    @inlinable package var first: Element? { isEmpty ? nil : storage[head] }

    @inlinable package mutating func append(_ element: Element) { storage.append(element) }

    @inlinable package mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes the first element matching `predicate`, if any.
    @inlinable package mutating func remove(where predicate: (Element) -> Bool) -> Element? {
        guard let index = storage[head...].firstIndex(where: predicate) else { return nil }
        return storage.remove(at: index)
    }

    /// Removes and returns every element.
    @inlinable package mutating func removeAll() -> [Element] {
        let all = Array(storage[head...])
        storage.removeAll()
        head = 0
        return all
    }

    /// Removes and returns the elements matching `predicate`, keeping the order of the rest.
    @inlinable package mutating func removeAll(where predicate: (Element) -> Bool) -> [Element] {
        var removed: [Element] = []
        var kept: [Element] = []
        for element in storage[head...] {
            if predicate(element) { removed.append(element) } else { kept.append(element) }
        }
        storage = kept
        head = 0
        return removed
    }
}
