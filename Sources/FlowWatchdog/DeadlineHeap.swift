/// A binary min-heap of watched activities keyed by (deadline, id): the
/// monitor's schedule. An entry names a token and the generation (the
/// activity) it was scheduled in. Entries are never updated in place: a
/// finished activity stays until it comes due or the heap is compacted
/// (lazy deletion), and one whose deadline a heartbeat moved is re-inserted
/// when its stale entry comes due. Owned by the watchdog's state lock; not
/// thread-safe.
struct DeadlineHeap {
    struct Entry {
        var deadline: UInt64
        var id: UInt64
        var generation: Int
        var token: WatchToken

        @inline(__always)
        static func < (a: Entry, b: Entry) -> Bool {
            a.deadline != b.deadline ? a.deadline < b.deadline : a.id < b.id
        }
    }

    private(set) var entries: [Entry] = []

    var count: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }
    var top: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        siftUp(entries.count - 1)
    }

    @discardableResult
    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        if entries.count == 1 { return entries.removeLast() }
        let first = entries[0]
        entries[0] = entries.removeLast()
        siftDown(0)
        return first
    }

    /// Removes every entry matching `predicate` and restores the heap in O(n).
    mutating func removeAll(where predicate: (Entry) -> Bool) {
        entries.removeAll(where: predicate)
        var i = entries.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    mutating func removeAll() { entries.removeAll() }

    private mutating func siftUp(_ index: Int) {
        var child = index
        let item = entries[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard item < entries[parent] else { break }
            entries[child] = entries[parent]
            child = parent
        }
        entries[child] = item
    }

    private mutating func siftDown(_ index: Int) {
        let count = entries.count
        var parent = index
        let item = entries[parent]
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let smaller = right < count && entries[right] < entries[left] ? right : left
            guard entries[smaller] < item else { break }
            entries[parent] = entries[smaller]
            parent = smaller
        }
        entries[parent] = item
    }
}
