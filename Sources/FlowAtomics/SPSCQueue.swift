import Synchronization

// SPSCQueue — a bounded single-producer single-consumer ring (Lamport's
// queue) with cached opposite indices, as in Rigtorp's SPSCQueue and
// folly::ProducerConsumerQueue.
//
// Algorithm: `tail` (next write) belongs to the producer, `head` (next
// read) to the consumer; both only grow. The producer keeps a private copy
// of `head` and reloads it only when the ring looks full; the consumer keeps
// a private copy of `tail` and reloads it only when the ring looks empty. So
// in steady state each side touches only its own cache line.
//
// Who may call what: exactly one producer thread calls `tryEnqueue` and
// exactly one consumer thread calls `tryDequeue` at a time (a handoff to
// another thread needs its own happens-before, such as a lock or a join).
// `count` may be read from anywhere (an estimate).
//
// Orderings: the producer writes the slot, then stores tail + 1 with
// release; the consumer loads tail with acquire before reading the slot.
// The consumer moves the value out, then stores head + 1 with release; the
// producer loads head with acquire before reusing the slot. The cached
// copies are plain fields read and written only by their own side.

/// A bounded lock-free FIFO for exactly one producer and one consumer.
/// See the file comment for the algorithm and its memory-ordering argument.
public final class SPSCQueue<Element: Sendable>: @unchecked Sendable {  // one producer, one consumer (below)
    // Safe to share under the one-producer one-consumer contract: `tail` and
    // `head` are atomics; `cachedHead` is the producer's own, `cachedTail`
    // the consumer's own; a slot is written only by the producer before its
    // release of tail and read only by the consumer after its acquire.
    @usableFromInline let indices: UnsafeMutableRawPointer  // [0] tail, [8] cachedHead | [128] head, [136] cachedTail
    @usableFromInline let slots: UnsafeMutablePointer<Element>
    @usableFromInline let mask: Int
    public let capacity: Int

    /// Creates a ring holding at most `capacity` elements (at least 1).
    public init(capacity: Int) throws(FlowError) {
        guard capacity >= 1 else { throw .invalid("capacity", capacity, "must be at least 1") }
        guard capacity <= 1 << 40 else { throw .invalid("capacity", capacity, "must be at most 2^40") }
        self.capacity = capacity
        let ring = capacity.nextPowerOfTwo
        mask = ring - 1
        slots = UnsafeMutablePointer<Element>.allocate(capacity: ring)
        indices = UnsafeMutableRawPointer.allocate(byteCount: 2 * cacheLineStride, alignment: cacheLineStride)
        indices.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (indices + 8).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)
        (indices + cacheLineStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (indices + cacheLineStride + 8).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)
    }

    deinit {
        var h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .relaxed)
        while h < t { (slots + (h & mask)).deinitialize(count: 1); h += 1 }
        slots.deallocate()
        tail.deinitialize(count: 1)
        head.deinitialize(count: 1)
        indices.deallocate()
    }

    @inlinable @inline(__always) var tail: UnsafeMutablePointer<Atomic<Int>> {
        indices.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) var cachedHead: UnsafeMutablePointer<Int> {
        (indices + 8).assumingMemoryBound(to: Int.self)
    }
    @inlinable @inline(__always) var head: UnsafeMutablePointer<Atomic<Int>> {
        (indices + cacheLineStride).assumingMemoryBound(to: Atomic<Int>.self)
    }
    @inlinable @inline(__always) var cachedTail: UnsafeMutablePointer<Int> {
        (indices + cacheLineStride + 8).assumingMemoryBound(to: Int.self)
    }

    /// Enqueues unless full (then hands the element back). Producer only.
    @inlinable @inline(__always)
    public func tryEnqueue(_ element: Element) -> EnqueueResult<Element> {
        let t = tail.pointee.load(ordering: .relaxed)             // the producer's own index
        if t &- cachedHead.pointee == capacity {
            cachedHead.pointee = head.pointee.load(ordering: .acquiring)  // pairs with the consumer's release
            if t &- cachedHead.pointee == capacity { return .full(element) }
        }
        (slots + (t & mask)).initialize(to: element)
        tail.pointee.store(t &+ 1, ordering: .releasing)          // publishes the slot
        return .enqueued
    }

    /// Dequeues the oldest element, or nil when empty. Consumer only.
    @inlinable @inline(__always)
    public func tryDequeue() -> Element? {
        let h = head.pointee.load(ordering: .relaxed)             // the consumer's own index
        if h == cachedTail.pointee {
            cachedTail.pointee = tail.pointee.load(ordering: .acquiring)  // pairs with the producer's release
            if h == cachedTail.pointee { return nil }
        }
        let element = (slots + (h & mask)).move()
        head.pointee.store(h &+ 1, ordering: .releasing)          // frees the slot for the producer
        return element
    }

    /// An estimate of the elements in the ring (exact when quiescent).
    public var count: Int {
        let h = head.pointee.load(ordering: .relaxed)
        let t = tail.pointee.load(ordering: .relaxed)
        return min(capacity, max(0, t - h))
    }

    public var isEmpty: Bool { count == 0 }
}
