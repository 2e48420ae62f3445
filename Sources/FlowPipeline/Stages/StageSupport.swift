#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a stage's task: on `executor` when one is given, else a plain
/// task. `Task(executorPreference: nil)` is not the same as `Task {}`: the
/// task then carries an (empty) executor-preference record, and every hop
/// back to the generic executor (several per item in a stage's loops) takes
/// the task's status-record lock to look it up (measured: about a tenth of
/// the 4-stage pipeline's time).
@inlinable
@discardableResult
func startTask(_ executor: Executor?, _ operation: sending @escaping @isolated(any) () async -> Void) -> Task<Void, Never> {
    if let executor { return Task(executorPreference: executor, operation: operation) }
    return Task(operation: operation)
}

/// Monotonic nanoseconds for the stage timers (cheaper than building a
/// `ContinuousClock.Instant` on the per-item path).
@inlinable @inline(__always)
func stageNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

@inlinable @inline(__always)
func stageElapsed(since start: UInt64) -> UInt64 {
    let now = stageNow()
    return now > start ? now - start : 0
}

extension Duration {
    @inlinable @inline(__always)
    static func stageNanoseconds(_ ns: UInt64) -> Duration { .nanoseconds(Int64(clamping: ns)) }
}

/// A FIFO of values: an array with a moving head, compacted when the dead
/// prefix dominates. Not thread-safe: it lives inside a lock-protected state.
@usableFromInline
struct StageDeque<Element> {
    @usableFromInline var storage: [Element] = []
    @usableFromInline var head = 0

    @inlinable init() {}

    @inlinable var isEmpty: Bool { head == storage.count }
    @inlinable var count: Int { storage.count - head }
    @inlinable var first: Element? { isEmpty ? nil : storage[head] }

    @inlinable mutating func append(_ element: Element) { storage.append(element) }

    @inlinable mutating func popFirst() -> Element? {
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
    @inlinable mutating func remove(where predicate: (Element) -> Bool) -> Element? {
        guard let index = storage[head...].firstIndex(where: predicate) else { return nil }
        return storage.remove(at: index)
    }

    /// Removes and returns every element.
    @inlinable mutating func removeAll() -> [Element] {
        let all = Array(storage[head...])
        storage.removeAll()
        head = 0
        return all
    }

    /// Removes and returns the elements matching `predicate`, keeping the order of the rest.
    @inlinable mutating func removeAll(where predicate: (Element) -> Bool) -> [Element] {
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
