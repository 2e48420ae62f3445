import Synchronization

/// The stride that keeps two hot atomics off each other's cache lines,
/// including the adjacent-line prefetcher of x86 (which pulls lines in pairs).
public let cacheLineStride = 128

/// An `Atomic<Int>` alone on its 128-byte block: no false sharing with
/// anything else that is hot.
///
/// Swift cannot align a type above 16 bytes, so the atomic is placed inside
/// a heap block allocated with 128-byte alignment. The class owns the block.
///
/// ```swift
/// let executed = PaddedAtomic(0)
/// executed.add(1)
/// ```
public final class PaddedAtomic: Sendable {
    // Safe to share: the pointee is an `Atomic`, accessed only through its
    // atomic operations; the pointer itself never changes.
    @usableFromInline nonisolated(unsafe) let pointer: UnsafeMutablePointer<Atomic<Int>>

    public init(_ value: Int = 0) {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: cacheLineStride, alignment: cacheLineStride)
        pointer = raw.bindMemory(to: Atomic<Int>.self, capacity: 1)
        pointer.initialize(to: Atomic(value))
    }

    deinit {
        pointer.deinitialize(count: 1)
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// The atomic itself, for orderings other than the defaults below.
    @inlinable public var atomic: UnsafeMutablePointer<Atomic<Int>> { pointer }

    @inlinable public var value: Int { load() }

    /// A relaxed load (use `atomic` for other orderings: Swift needs them
    /// as compile-time constants).
    @inlinable public func load() -> Int {
        pointer.pointee.load(ordering: .relaxed)
    }

    /// A relaxed store.
    @inlinable public func store(_ value: Int) {
        pointer.pointee.store(value, ordering: .relaxed)
    }

    /// Adds `delta` (wrapping, relaxed) and returns the new value.
    @inlinable @discardableResult
    public func add(_ delta: Int) -> Int {
        pointer.pointee.wrappingAdd(delta, ordering: .relaxed).newValue
    }
}

/// `count` atomic integers, each alone on its own 128-byte block: per-worker
/// counters that many threads update without false sharing.
///
/// Every element is updated atomically, so any thread may read or add to any
/// slot; typically each thread adds to its own slot and a reader sums them.
public final class PaddedCounters: Sendable {
    // Safe to share: every slot is an `Atomic`, accessed only atomically;
    // the base pointer never changes after init.
    private nonisolated(unsafe) let base: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "PaddedCounters(count:) needs count >= 0, got \(count)")
        self.count = count
        base = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * cacheLineStride, alignment: cacheLineStride)
        for i in 0..<count {
            (base + i * cacheLineStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
    }

    deinit {
        for i in 0..<count { slot(i).deinitialize(count: 1) }
        base.deallocate()
    }

    @inline(__always)
    private func slot(_ i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (base + i * cacheLineStride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inline(__always)
    public func add(_ delta: Int, at index: Int) {
        precondition(index >= 0 && index < count, "PaddedCounters.add(at:): index \(index) out of 0..<\(count)")
        slot(index).pointee.wrappingAdd(delta, ordering: .relaxed)
    }

    public subscript(index: Int) -> Int {
        precondition(index >= 0 && index < count, "PaddedCounters[\(index)] out of 0..<\(count)")
        return slot(index).pointee.load(ordering: .relaxed)
    }

    /// The sum over all slots (a relaxed snapshot; exact when quiescent).
    public var sum: Int {
        var total = 0
        for i in 0..<count { total &+= slot(i).pointee.load(ordering: .relaxed) }
        return total
    }
}
