import Synchronization

// MPMCQueue — Dmitry Vyukov's bounded multi-producer multi-consumer queue
// ("Bounded MPMC queue", 1024cores.net, 2010).
//
// Algorithm: a power-of-two ring of cells, each a sequence number with the
// value beside it (one cache line per operation).
// Cell i starts with sequence i. A producer that reads enqueuePos = p may
// write the cell p & mask only when its sequence equals p: it claims the
// position by CAS on enqueuePos, writes the value, then stores sequence
// p + 1 ("full for round p"). A consumer that reads dequeuePos = p may read
// the cell when its sequence equals p + 1: it claims it by CAS on
// dequeuePos, moves the value out, then stores sequence p + capacity
// ("empty for the next round"). Between the claim and the sequence store a
// cell is owned by exactly one thread, so any `Element` may live in it.
//
// Who may call what: any thread may call `tryEnqueue` and `tryDequeue`.
//
// Orderings:
// - The positions are claimed by CAS: they only hand out cell indices; no
//   data is published through them, so relaxed would do for the queue
//   itself. Claims: the enqueue CAS is seq_cst on success, so that a
//   producer can use it as the "write" of a Dekker handshake — enqueue, then
//   a seq_cst load of a "somebody sleeps" flag, against a consumer that
//   announces its sleep, fences, and re-checks `count` — without a separate
//   fence (the executor's outside submissions do this). On x86 and ARMv8
//   the seq_cst CAS costs the same as a relaxed one. A consumer that sees
//   `count` > 0 before the producer published the value retries and finds
//   it: the producer's store follows its claim.
// - A producer's release store of sequence p + 1 pairs with the consumer's
//   acquire load that sees p + 1: the consumer sees the written value.
// - A consumer's release store of sequence p + capacity pairs with the next
//   round's producer's acquire load: the producer writes the cell only
//   after the value was moved out.
// - ABA: positions are Int and only grow; a cell's sequence tells the round,
//   so a stale position finds a sequence that does not match and reloads.
//
// `full` is reported when the cell at enqueuePos still holds the previous
// round's element (its consumer may be between claiming and releasing it):
// the queue is then logically at capacity. FIFO per producer holds because
// one producer's positions increase and consumers take positions in order.

/// The result of `MPMCQueue.tryEnqueue`: the element comes back when full.
public enum EnqueueResult<Element> {
    case enqueued
    case full(Element)
}

extension EnqueueResult: Sendable where Element: Sendable {}

/// A bounded lock-free multi-producer multi-consumer FIFO ring (Vyukov).
/// See the file comment for the algorithm and its memory-ordering argument.
///
/// ```swift
/// let queue = try MPMCQueue<Int>(capacity: 1024)
/// if case .full(let item) = queue.tryEnqueue(42) { retryLater(item) }
/// let next = queue.tryDequeue()   // 42
/// ```
public final class MPMCQueue<Element: Sendable>: @unchecked Sendable {  // cells owned between sequence numbers (below)
    // Safe to share: the positions and sequences are atomics; a value cell
    // is accessed only by the one thread that owns it between a won CAS on a
    // position and its release store of the cell's sequence (file comment).
    @usableFromInline let positions: UnsafeMutableRawPointer  // enqueue at 0, dequeue at 128
    // The cells, each [sequence | value] side by side as in Vyukov's
    // original, so an operation touches one cache line, not two.
    @usableFromInline let cells: UnsafeMutableRawPointer
    @usableFromInline let cellStride: Int
    @usableFromInline let mask: Int

    /// Where a cell's value starts: after the sequence word, aligned for Element.
    @usableFromInline static var valueOffset: Int {
        let align = MemoryLayout<Element>.alignment
        let seq = MemoryLayout<Atomic<Int>>.stride
        return (seq + align - 1) / align * align
    }
    public let capacity: Int

    /// Creates a queue of `capacity` cells: a power of two, at least 2.
    public init(capacity: Int) throws(FlowError) {
        guard capacity >= 2 else {
            throw .invalid("capacity", capacity, "must be a power of two, at least 2")
        }
        guard capacity & (capacity - 1) == 0 else {
            throw .invalid("capacity", capacity, "must be a power of two (try \(capacity.nextPowerOfTwo))")
        }
        guard capacity <= 1 << 40 else {
            throw .invalid("capacity", capacity, "must be at most 2^40")
        }
        self.capacity = capacity
        mask = capacity - 1
        positions = UnsafeMutableRawPointer.allocate(byteCount: 2 * cacheLineStride, alignment: cacheLineStride)
        positions.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (positions + cacheLineStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        let alignment = max(MemoryLayout<Atomic<Int>>.alignment, MemoryLayout<Element>.alignment)
        let end = Self.valueOffset + MemoryLayout<Element>.size
        cellStride = (end + alignment - 1) / alignment * alignment
        cells = UnsafeMutableRawPointer.allocate(byteCount: capacity * cellStride, alignment: max(alignment, cacheLineStride))
        for i in 0..<capacity {
            (cells + i * cellStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(i))
        }
    }

    @inlinable @inline(__always)
    func sequence(_ index: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (cells + (index & mask) &* cellStride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inlinable @inline(__always)
    func value(_ index: Int) -> UnsafeMutableRawPointer {
        cells + (index & mask) &* cellStride + Self.valueOffset
    }

    deinit {
        // No other thread holds the queue: the elements still in it are
        // the positions dequeue..<enqueue.
        var p = dequeuePosition.pointee.load(ordering: .relaxed)
        let end = enqueuePosition.pointee.load(ordering: .relaxed)
        while p < end { value(p).assumingMemoryBound(to: Element.self).deinitialize(count: 1); p += 1 }
        for i in 0..<capacity { sequence(i).deinitialize(count: 1) }
        cells.deallocate()
        enqueuePosition.deinitialize(count: 1)
        dequeuePosition.deinitialize(count: 1)
        positions.deallocate()
    }

    @inlinable @inline(__always)
    var enqueuePosition: UnsafeMutablePointer<Atomic<Int>> {
        positions.assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inlinable @inline(__always)
    var dequeuePosition: UnsafeMutablePointer<Atomic<Int>> {
        (positions + cacheLineStride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Claims the cell at the enqueue position for one element; nil when
    /// the queue is full. The caller must then initialize `value(pos)` and
    /// publish it (release store of `pos + 1` into `sequence(pos)`).
    @inlinable @inline(__always)
    func claimEnqueuePosition() -> Int? {
        var pos = enqueuePosition.pointee.load(ordering: .relaxed)
        while true {
            let seq = sequence(pos).pointee.load(ordering: .acquiring)  // pairs with a consumer's release
            let diff = seq &- pos
            if diff == 0 {
                // seq_cst on success (see "Claims" in the file comment).
                let (won, current) = enqueuePosition.pointee.weakCompareExchange(
                    expected: pos, desired: pos &+ 1, successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
                if won { return pos }
                pos = current
            } else if diff < 0 {
                return nil
            } else {
                pos = enqueuePosition.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Enqueues `element` unless the queue is full, in which case the
    /// element is handed back. Never blocks; lock-free.
    @inlinable @inline(__always)
    public func tryEnqueue(_ element: Element) -> EnqueueResult<Element> {
        guard let pos = claimEnqueuePosition() else { return .full(element) }
        value(pos).initializeMemory(as: Element.self, to: element)
        sequence(pos).pointee.store(pos &+ 1, ordering: .releasing)     // publishes the value to a consumer
        return .enqueued
    }

    /// Removes the oldest element, or returns nil when empty. Never blocks.
    @inlinable @inline(__always)
    public func tryDequeue() -> Element? {
        var pos = dequeuePosition.pointee.load(ordering: .relaxed)
        while true {
            let seq = sequence(pos).pointee.load(ordering: .acquiring)  // pairs with a producer's release
            let diff = seq &- (pos &+ 1)
            if diff == 0 {
                let (won, current) = dequeuePosition.pointee.weakCompareExchange(
                    expected: pos, desired: pos &+ 1, successOrdering: .relaxed, failureOrdering: .relaxed)
                if won { break }
                pos = current
            } else if diff < 0 {
                return nil
            } else {
                pos = dequeuePosition.pointee.load(ordering: .relaxed)
            }
        }
        let element = value(pos).assumingMemoryBound(to: Element.self).move()
        sequence(pos).pointee.store(pos &+ mask &+ 1, ordering: .releasing)  // frees the cell for the next round
        return element
    }

    /// The number of elements: exact when no operation is in flight, an
    /// estimate in 0...capacity otherwise.
    @inlinable public var count: Int {
        let d = dequeuePosition.pointee.load(ordering: .relaxed)
        let e = enqueuePosition.pointee.load(ordering: .relaxed)
        return min(capacity, max(0, e - d))
    }

    @inlinable public var isEmpty: Bool { count == 0 }
}
