import Synchronization

// WorkStealingDeque — the Chase–Lev work-stealing deque.
//
// Algorithm: D. Chase and Y. Lev, "Dynamic Circular Work-Stealing Deque",
// SPAA 2005, with the C11 orderings of N. M. Lê, A. Pop, A. Cohen and
// F. Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak Memory
// Models", PPoPP 2013 (figure 1). `top` and `bottom` only grow; the live
// elements are the indices top..<bottom of a power-of-two ring.
//
// Who may call what:
// - the owner (`WorkStealingDeque`, ~Copyable, not Sendable, one thread):
//   `push` at the bottom and `pop` from the bottom (LIFO);
// - any number of thieves (`WorkStealingDeque.Stealer`, Sendable, any
//   thread): `steal` from the top (FIFO), which returns empty / success /
//   retry (retry = lost a race, try again or elsewhere).
//
// Orderings (paper's names in brackets):
// - push: bottom relaxed (owner's own variable), top acquire (pairs with a
//   thief's CAS so a freed slot is not reused too early) — read only when
//   an owner-private cached copy of top says the ring may be full, since top
//   only grows and a stale copy errs towards "full" —, slot store relaxed,
//   then bottom+1 stored with release: a thief that reads the new bottom with
//   acquire sees the slot and everything the owner wrote before the push.
//   Departure from the paper, which uses a release fence and a relaxed
//   store: the guarantee is the same and costs the same on x86 and ARMv8,
//   and ThreadSanitizer understands a release store (it ignores fences), so
//   payloads handed through the deque are not reported as races.
// - pop, when a relaxed look at top finds exactly one element (t == b-1):
//   take it from the top with a seq_cst CAS t → t+1, exactly like a steal,
//   without touching bottom (departure from the paper, whose pop writes
//   bottom first and then CASes top anyway for the last element: this path
//   costs one locked instruction instead of two). Top only grows and the
//   owner is the only one to add, so the relaxed look can only overstate
//   the fill: if top has already moved to b, the CAS fails and the deque is
//   empty; if the look says empty (t >= b), it is. The CAS decides the race
//   with thieves for that element as two thieves' CASes would; the slot
//   holds the owner's own write. Otherwise (two or more at the look) the
//   paper's pop:
//   pop: write bottom-1, then load top, with a full store-load order
//   between them; the thief has a seq_cst fence between its load of top and
//   its load of bottom, so owner and thief are ordered: either the thief
//   sees the decremented bottom, or the owner sees the thief's incremented
//   top. Departure from the paper (relaxed store, seq_cst fence, relaxed
//   load): bottom is written with a seq_cst exchange and top read with a
//   seq_cst load. In C++20 terms: if the thief's load of bottom misses the
//   exchange, its fence precedes the exchange in the single total order S;
//   the CAS that produced the top value the thief read happens before that
//   fence, so the owner's seq_cst load of top, later in S, sees at least
//   that value. On x86 this is one `xchg` instead of a store and `mfence`.
//   Only when that exchange leaves one element (top == bottom-1, thieves
//   took the others meanwhile) do owner and thieves both CAS top (seq_cst),
//   and exactly one wins.
// - steal: load top acquire, seq_cst fence, load bottom acquire (pairs with
//   push's release store), load the buffer acquire (pairs with the owner's
//   release store of a grown buffer — the paper's consume), read the slot
//   relaxed, then CAS top seq_cst. The thief uses the element only if the
//   CAS won: a thief may read a slot whose element the owner already
//   popped; it then loses the CAS and throws the copied bits away. That is
//   why elements must be `WordRepresentable` (DESIGN decision 2).
// - ABA: top only increases, so a CAS on top cannot succeed against a stale
//   top; indices are Int and never wrap in practice (2^63 operations).
//
// Growth and reclamation: when full, the owner copies top..<bottom into a
// buffer twice the size and publishes it with a release store. A thief may
// still be reading the old buffer: its slot at index top is unchanged there
// (the owner writes only at bottom and beyond), so its read is valid; if the
// element was taken meanwhile its CAS fails. Retired buffers are therefore
// not freed while thieves may hold them: they are kept on a list (owner
// only) and freed with the deque's storage, when the last handle is gone.
// Because capacity doubles, all retired buffers together are smaller than
// the live one, so memory stays within 2x of the peak.
// Departure from the paper: the deque never shrinks.

/// The result of a steal.
public enum Steal<Element> {
    /// The deque was empty.
    case empty
    /// This thief won the element; ownership is now the thief's.
    case success(Element)
    /// The thief lost a race with the owner or another thief; try again.
    case retry
}

extension Steal: Sendable where Element: Sendable {}
extension Steal: Equatable where Element: Equatable {}

/// The owner handle of a Chase–Lev work-stealing deque (see the file
/// comment for the algorithm and its memory-ordering argument).
///
/// The owner pushes and pops at the bottom (LIFO) from one thread; thieves
/// steal from the top (FIFO) through `makeStealer()`.
///
/// ```swift
/// let deque = WorkStealingDeque<Int>()
/// let stealer = deque.makeStealer()
/// deque.push(1); deque.push(2)
/// deque.pop()          // 2 (LIFO)
/// stealer.steal()      // .success(1) (FIFO)
/// ```
public struct WorkStealingDeque<Element: WordRepresentable>: ~Copyable {
    @usableFromInline let core: DequeCore

    /// Creates an empty deque whose ring starts with `initialCapacity` slots
    /// (rounded up to a power of two, at least 2) and doubles when full.
    public init(initialCapacity: Int = 64) throws(FlowError) {
        guard initialCapacity >= 1 else {
            throw .invalid("initialCapacity", initialCapacity, "must be at least 1")
        }
        guard initialCapacity <= 1 << 40 else {
            throw .invalid("initialCapacity", initialCapacity, "must be at most 2^40")
        }
        core = DequeCore(capacity: max(2, initialCapacity).nextPowerOfTwo)
    }

    /// Pushes at the bottom. Owner thread only. Grows the ring when full.
    @inlinable
    public func push(_ element: Element) {
        core.push(element.word)
    }

    /// Pops the most recently pushed element. Owner thread only.
    @inlinable
    public func pop() -> Element? {
        core.pop().map(Element.init(word:))
    }

    /// A handle for other threads to steal with.
    public func makeStealer() -> Stealer { Stealer(core: core) }

    /// Elements currently in the deque: exact on the owner thread when no
    /// thief is active, an estimate otherwise.
    @inlinable public var count: Int { core.count }
    @inlinable public var isEmpty: Bool { core.count <= 0 }
    /// The current ring size (grows by doubling).
    public var capacity: Int { core.capacity }

    /// The thief handle: steals the oldest element, from any thread.
    public struct Stealer: Sendable {
        @usableFromInline let core: DequeCore

        /// Steals the oldest element: `.success` transfers it to the caller,
        /// `.retry` means a race was lost, `.empty` that nothing was there.
        @inlinable
        public func steal() -> Steal<Element> {
            switch core.steal() {
            case .empty: return .empty
            case .retry: return .retry
            case .success(let word): return .success(Element(word: word))
            }
        }

        /// Steals until it wins or finds the deque empty.
        @inlinable
        public func stealRetrying() -> Element? {
            var backoff = Backoff()
            while true {
                switch steal() {
                case .success(let e): return e
                case .empty: return nil
                case .retry: backoff.spin()
                }
            }
        }

        /// An estimate of the elements in the deque.
        @inlinable public var count: Int { core.count }
        @inlinable public var isEmpty: Bool { core.count <= 0 }
    }
}

/// The shared state of a deque: indices on separate cache lines and the
/// current ring buffer.
@usableFromInline
final class DequeCore: @unchecked Sendable {  // atomics and owner-only fields (below)
    // Safe to share: `top`, `bottom` and `buffer` are atomics used as the
    // file comment describes; slots are atomic words; `retired` and
    // `cachedBuffer` are touched only by the owner thread (push/pop/grow) and
    // by deinit, which runs when no handle is left.
    @usableFromInline let indices: UnsafeMutableRawPointer  // top at 0, bottom at 128, 128-aligned
    @usableFromInline let buffer: Atomic<UnsafeMutableRawPointer>
    @usableFromInline var retired: [UnsafeMutableRawPointer] = []  // owner thread only

    @usableFromInline var top: UnsafeMutablePointer<Atomic<Int>> {
        indices.assumingMemoryBound(to: Atomic<Int>.self)
    }
    @usableFromInline var bottom: UnsafeMutablePointer<Atomic<Int>> {
        (indices + cacheLineStride).assumingMemoryBound(to: Atomic<Int>.self)
    }
    /// The owner's last reading of top, beside bottom on the owner's line
    /// (owner thread only; a plain Int, never read by thieves).
    @usableFromInline var cachedTop: UnsafeMutablePointer<Int> {
        (indices + cacheLineStride + 8).assumingMemoryBound(to: Int.self)
    }

    init(capacity: Int) {
        indices = UnsafeMutableRawPointer.allocate(byteCount: 2 * cacheLineStride, alignment: cacheLineStride)
        indices.bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (indices + cacheLineStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        (indices + cacheLineStride + 8).bindMemory(to: Int.self, capacity: 1).initialize(to: 0)
        buffer = Atomic(RingBuffer.allocate(capacity: capacity))
    }

    deinit {
        top.deinitialize(count: 1)
        bottom.deinitialize(count: 1)
        indices.deallocate()
        RingBuffer.free(buffer.load(ordering: .relaxed))
        for old in retired { RingBuffer.free(old) }
    }

    var capacity: Int { RingBuffer.capacity(buffer.load(ordering: .relaxed)) }

    @inlinable var count: Int {
        let b = bottom.pointee.load(ordering: .relaxed)
        let t = top.pointee.load(ordering: .relaxed)
        return max(0, b - t)
    }

    @inlinable @inline(__always)
    func push(_ word: UInt) {
        let b = bottom.pointee.load(ordering: .relaxed)           // owner's own index
        var ring = buffer.load(ordering: .relaxed)                // only the owner stores buffer
        // Fullness against the owner's cached top first: top only grows, so a
        // stale copy can only overstate the fill; reload (acquire, pairs with
        // the thieves' CAS) only when the ring looks full.
        if b &- cachedTop.pointee > RingBuffer.capacity(ring) &- 1 {
            let t = top.pointee.load(ordering: .acquiring)
            cachedTop.pointee = t
            if b &- t > RingBuffer.capacity(ring) &- 1 {
                ring = grow(ring, top: t, bottom: b)
            }
        }
        RingBuffer.slot(ring, b).pointee.store(word, ordering: .relaxed)
        bottom.pointee.store(b &+ 1, ordering: .releasing)        // publishes the slot (steal's acquire load of bottom)
    }

    @inlinable @inline(__always)
    func pop() -> UInt? {
        let b = bottom.pointee.load(ordering: .relaxed)           // owner's own index
        // A first look at top, relaxed: top only grows and never passes
        // bottom, so the value read can only overstate the elements left.
        let t0 = top.pointee.load(ordering: .relaxed)
        let n = b &- t0
        if n <= 0 { return nil }                                  // empty (exact: only the owner adds)
        let ring = buffer.load(ordering: .relaxed)                // only the owner stores buffer
        if n == 1 {
            // At most one element, at index t0 == b-1: take it from the top
            // as a thief would, by CAS on top; bottom is not touched, so no
            // store-load fence is needed. The CAS orders the owner against
            // the thieves racing for that element: exactly one wins. A lost
            // CAS means top moved past t0, to b: the deque is empty.
            let word = RingBuffer.slot(ring, t0).pointee.load(ordering: .relaxed)  // the owner's own write
            let won = top.pointee.compareExchange(
                expected: t0, desired: t0 &+ 1,
                successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed).exchanged
            cachedTop.pointee = t0 &+ 1                           // top is b now, either way
            return won ? word : nil
        }
        // Two or more at the first look: the paper's pop. A seq_cst exchange
        // of bottom then a seq_cst load of top: the same store-load order as
        // the paper's relaxed store + seq_cst fence + relaxed load (see the
        // file comment), but one `xchg` on x86 instead of a store and an
        // `mfence`, which is slower.
        let nb = b &- 1
        _ = bottom.pointee.exchange(nb, ordering: .sequentiallyConsistent)  // vs steal's fence
        let t = top.pointee.load(ordering: .sequentiallyConsistent)
        guard t <= nb else {
            bottom.pointee.store(b, ordering: .relaxed)           // thieves emptied it meanwhile: restore
            return nil
        }
        let word = RingBuffer.slot(ring, nb).pointee.load(ordering: .relaxed)
        if t == nb {
            // The last element: race the thieves for it on top.
            let won = top.pointee.compareExchange(
                expected: t, desired: t &+ 1,
                successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed).exchanged
            bottom.pointee.store(b, ordering: .relaxed)
            return won ? word : nil
        }
        return word
    }

    @inlinable @inline(__always)
    func steal() -> Steal<UInt> {
        let t = top.pointee.load(ordering: .acquiring)
        atomicMemoryFence(ordering: .sequentiallyConsistent)      // pairs with pop's fence
        let b = bottom.pointee.load(ordering: .acquiring)         // pairs with push's release store
        guard t < b else { return .empty }
        let ring = buffer.load(ordering: .acquiring)              // pairs with grow's release store
        let word = RingBuffer.slot(ring, t).pointee.load(ordering: .relaxed)
        let won = top.pointee.compareExchange(
            expected: t, desired: t &+ 1,
            successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed).exchanged
        return won ? .success(word) : .retry
    }

    @usableFromInline @inline(never)
    func grow(_ old: UnsafeMutableRawPointer, top t: Int, bottom b: Int) -> UnsafeMutableRawPointer {
        let capacity = RingBuffer.capacity(old)
        let new = RingBuffer.allocate(capacity: capacity * 2)
        var i = t
        while i < b {
            let w = RingBuffer.slot(old, i).pointee.load(ordering: .relaxed)
            RingBuffer.slot(new, i).pointee.store(w, ordering: .relaxed)
            i &+= 1
        }
        buffer.store(new, ordering: .releasing)                   // thieves load it with acquire
        retired.append(old)                                       // a thief may still read it
        return new
    }
}

/// A ring of atomic words with its capacity in a header word:
/// [capacity][pad to 16][slot 0][slot 1]... Free functions over a raw
/// pointer so thieves can read a buffer without retaining an object.
@usableFromInline
enum RingBuffer {
    @usableFromInline static let header = 16

    static func allocate(capacity: Int) -> UnsafeMutableRawPointer {
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: header + capacity * MemoryLayout<Atomic<UInt>>.stride, alignment: cacheLineStride)
        raw.storeBytes(of: capacity, as: Int.self)
        let slots = (raw + header).bindMemory(to: Atomic<UInt>.self, capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: Atomic(0)) }
        return raw
    }

    static func free(_ raw: UnsafeMutableRawPointer) {
        let capacity = raw.load(as: Int.self)
        (raw + header).assumingMemoryBound(to: Atomic<UInt>.self).deinitialize(count: capacity)
        raw.deallocate()
    }

    @inlinable @inline(__always)
    static func capacity(_ raw: UnsafeMutableRawPointer) -> Int { raw.load(as: Int.self) }

    @inlinable @inline(__always)
    static func slot(_ raw: UnsafeMutableRawPointer, _ index: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
        (raw + header).assumingMemoryBound(to: Atomic<UInt>.self) + (index & (capacity(raw) &- 1))
    }
}

extension Int {
    /// The smallest power of two >= self (self >= 1).
    @usableFromInline var nextPowerOfTwo: Int {
        self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
    }
}
