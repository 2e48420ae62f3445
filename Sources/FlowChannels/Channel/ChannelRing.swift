import Synchronization

// ChannelRing — the lock-free buffer of a `Channel` (capacity >= 1), plus the
// two "somebody waits" gates of the channel's wake-up protocol.
//
// Algorithm: Dmitry Vyukov's bounded MPMC queue ("Bounded MPMC queue",
// 1024cores.net, 2010) in the stamp encoding of crossbeam-channel's array
// flavor (crossbeam-channel/src/flavors/array.rs), which supports any
// capacity >= 1 — `MPMCQueue` in FlowAtomics needs a power of two, and a
// channel of capacity 3 must hold 3, never 4 — and a "closed" mark bit in
// the tail, so that no push can land after `markClosed()`.
//
// Encoding: `markBit` = (capacity + 1) rounded up to a power of two, `oneLap`
// = 2 * markBit. A position (head or tail) is `lap + index`, with index in
// 0..<capacity in the low bits and lap a multiple of `oneLap`; the tail also
// carries `markBit` once closed. Advancing from the last index goes to index
// 0 of the next lap. Slot i starts with stamp i. Between positions there is
// always `head <= tail <= head + capacity` (counting elements), so the ring
// is full exactly when `tail == head + oneLap` and empty when `tail == head`.
//
// - push at tail t (index i): the slot's stamp == t means it is free for this
//   lap: claim it by CAS tail t -> next, write the value, store stamp t + 1
//   ("full for lap t"). stamp + oneLap == t + 1 means it still holds the
//   previous lap's element: full if head + oneLap == t, otherwise a consumer
//   has claimed that element and is moving it out: wait for it (snooze).
// - pop at head h: stamp == h + 1 means written: claim by CAS head h -> next,
//   move the value out, store stamp h + oneLap ("free for the next lap").
//   stamp == h means not written: empty if tail == h (closed if the tail
//   carries the mark), otherwise a producer has claimed it and is writing:
//   wait for it. Between a won CAS and its stamp store a slot is owned by
//   exactly one thread, so any `Element` may live in it.
// - popIfFull (policy `.dropOldest`, under the channel's lock): pop the head
//   element only if the ring is full — tail == head + oneLap read before the
//   CAS on head — so an element is discarded only when a new one needs its
//   place; the CAS decides between the dropper and a concurrent receiver,
//   so the element is either received or dropped, never both or neither.
// - markClosed (under the channel's lock): fetch-or of the mark into the
//   tail. A push whose CAS expected an unmarked tail fails and then sees the
//   mark; pops drain what was claimed before the mark, then report closed.
//
// Who may call what: any thread may `push`, `pop` and read the counters;
// `popIfFull` and `markClosed` only under the channel's lock (the close
// must not slip between the drop and the push of a `.dropOldest` send). The
// gates are written only under the channel's lock.
//
// Orderings:
// - Data: the producer's release store of stamp t + 1 pairs with the
//   consumer's acquire load that sees it, so the consumer reads the written
//   value; the consumer's release store of h + oneLap pairs with the next
//   lap's producer's acquire load, so it writes only after the move-out.
// - Claims: the CASes on head and tail are seq_cst on success, and so are
//   the loads of tail in `pop` and of head in `push` that decide "empty" /
//   "full". They are the ring's half of the channel's Dekker handshake
//   (the other half — the gates — is below). On x86 a seq_cst CAS or load
//   costs what a relaxed one does (lock cmpxchg / mov).
// - ABA: positions only grow (a position is at most 4x the number of
//   operations, so Int positions last for 2^61 of them); a stale position
//   finds a stamp of another lap and reloads.
// - Departures from crossbeam: the empty / full decisions are seq_cst loads
//   rather than a seq_cst fence and relaxed loads (what the handshake below
//   needs, and free on x86); `push` re-reads the tail before reporting full,
//   to tell full from closed; `popIfFull` is new.
//
// The gates and the wake-up protocol (Dekker; the ordering argument):
// - `receiversWaiting` mirrors the number of receivers queued in the
//   channel's state machine, `backlog` the number of waiting senders plus
//   elements in the state machine's overflow list (the "spill", used when
//   the capacity is larger than the ring). Both are stored (seq_cst) only
//   under the channel's lock.
// - A receiver that must wait, under the lock: queues itself, stores
//   receiversWaiting (seq_cst), then re-checks the ring (a `pop`, whose
//   empty decision is a seq_cst load of tail). A fast-path sender: pushes
//   (seq_cst CAS of tail), then loads receiversWaiting (seq_cst) and, if
//   non-zero, takes the lock and hands ring elements to queued receivers.
//   All four are seq_cst, so they are totally ordered consistently with
//   program order: if the sender's load missed the store, the load came
//   first, so the CAS came before the re-check's tail load, which therefore
//   sees the element (and waits out a producer still writing it). Either
//   the re-check finds the element or the sender sees the waiter: no lost
//   wake-up.
// - Symmetrically for senders: a sender that must wait queues itself,
//   stores backlog (seq_cst), then re-checks with a `push` (full decision:
//   seq_cst load of head); a fast-path receiver pops (seq_cst CAS of head),
//   then loads backlog (seq_cst) and, if non-zero, takes the lock and moves
//   the backlog into the freed slots.
// - The re-check needs no decision load when it finds the slot written (it
//   takes the element) or freed (it pushes); a slot claimed but not yet
//   written or freed makes it wait for that thread, which never needs the
//   lock to finish, so a lock holder may spin on a fast-path thread but
//   never the other way round (no deadlock).
// - A gate is stored only when its value changes. Skipping the store is
//   safe: the queue was non-empty already, so the last store that made the
//   gate non-zero precedes the re-check in the same total order, and the
//   argument above applies to that store.
// - Close: `markClosed` happens under the lock before the waiting senders
//   are failed and the queued receivers drained. A fast-path receiver that
//   finds the ring closed and empty still loads backlog: spilled elements
//   are then taken from the spill under the lock, after the ring.
// - A fast-path sender also reads backlog (relaxed) before pushing and goes
//   to the lock when it is non-zero: waiting senders and spilled elements
//   keep their place (first come, first served). That read is a fairness
//   hint, not part of the correctness argument.

/// The outcome of `ChannelRing.push`: the element comes back unless pushed.
@usableFromInline
enum RingPush<Element> {
    case pushed
    case full(Element)
    case closed(Element)
}

/// The outcome of `ChannelRing.pop`.
@usableFromInline
enum RingPop<Element> {
    case element(Element)
    /// Empty and open.
    case empty
    /// Empty and closed: nothing will ever be pushed again.
    case closed
}

/// The lock-free bounded ring of a channel (any capacity >= 1), with a
/// closed mark and the wake-up gates. See the file comment.
///
/// A struct of pointers (no reference counting on the fast path): the
/// `Channel` that creates it owns the memory and calls `deallocate()` in
/// its deinit; the state machine keeps a copy of the pointers.
@usableFromInline
struct ChannelRing<Element: Sendable>: @unchecked Sendable {  // shared memory: atomics, and cells owned between stamps
    // Safe to share: positions, stamps and gates are atomics; a value cell is
    // touched only by the one thread that owns it between a won CAS on a
    // position and its release store of the slot's stamp (file comment).

    /// The number of slots: the channel's capacity, or the ring limit.
    @usableFromInline let capacity: Int
    @usableFromInline let markBit: Int
    @usableFromInline let oneLap: Int
    @usableFromInline let lapShift: Int
    // Four 128-byte blocks: tail, head, the two gates (64 bytes apart: both
    // are read on every operation and written rarely), the lock-free drop
    // counter.
    @usableFromInline let words: UnsafeMutableRawPointer
    // The slots, each [stamp | value] side by side (one cache line per operation).
    @usableFromInline let slots: UnsafeMutableRawPointer
    @usableFromInline let slotStride: Int

    /// The largest ring a channel allocates; a larger capacity keeps the
    /// excess in the state machine's overflow list (allocated as it grows).
    @usableFromInline static var limit: Int { 4096 }

    @usableFromInline static var valueOffset: Int {
        let align = MemoryLayout<Element>.alignment
        let stamp = MemoryLayout<Atomic<Int>>.stride
        return (stamp + align - 1) / align * align
    }

    /// Creates a ring of `capacity` slots (1...`limit`).
    @usableFromInline init(capacity: Int) {
        precondition(
            capacity >= 1 && capacity <= ChannelRing.limit,
            "ChannelRing(capacity:) needs 1...\(ChannelRing.limit), got \(capacity)")
        self.capacity = capacity
        markBit = 1 << (Int.bitWidth - capacity.leadingZeroBitCount)   // (capacity + 1) rounded up to a power of two
        oneLap = markBit << 1
        lapShift = oneLap.trailingZeroBitCount
        words = UnsafeMutableRawPointer.allocate(byteCount: 4 * cacheLineStride, alignment: cacheLineStride)
        for offset in Self.wordOffsets {
            (words + offset).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(0))
        }
        let alignment = max(MemoryLayout<Atomic<Int>>.alignment, MemoryLayout<Element>.alignment)
        let end = Self.valueOffset + MemoryLayout<Element>.size
        slotStride = (end + alignment - 1) / alignment * alignment
        slots = UnsafeMutableRawPointer.allocate(byteCount: capacity * slotStride, alignment: max(alignment, cacheLineStride))
        for i in 0..<capacity {
            (slots + i * slotStride).bindMemory(to: Atomic<Int>.self, capacity: 1).initialize(to: Atomic(i))
        }
    }

    /// Releases the elements still buffered and the memory. Only the owning
    /// channel calls it, from its deinit (no other thread holds the ring).
    @usableFromInline
    func deallocate() {
        // The elements still in the ring are the positions head..<tail.
        var position = head.pointee.load(ordering: .relaxed)
        let end = tail.pointee.load(ordering: .relaxed) & ~markBit
        while position != end {
            let index = position & (markBit - 1)
            value(index).deinitialize(count: 1)
            position = index + 1 < capacity ? position &+ 1 : (position & ~(oneLap - 1)) &+ oneLap
        }
        for i in 0..<capacity { stamp(i).deinitialize(count: 1) }
        slots.deallocate()
        for offset in Self.wordOffsets { word(offset).deinitialize(count: 1) }
        words.deallocate()
    }

    // MARK: layout

    /// Byte offsets of tail, head, receiversWaiting, backlog, droppedNewest.
    @usableFromInline static var wordOffsets: [Int] {
        [0, cacheLineStride, 2 * cacheLineStride, 2 * cacheLineStride + 64, 3 * cacheLineStride]
    }

    @inlinable @inline(__always)
    func word(_ offset: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (words + offset).assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inlinable @inline(__always) var tail: UnsafeMutablePointer<Atomic<Int>> { word(0) }
    @inlinable @inline(__always) var head: UnsafeMutablePointer<Atomic<Int>> { word(cacheLineStride) }
    /// Queued receivers (written under the channel lock).
    @inlinable @inline(__always) var receiversWaiting: UnsafeMutablePointer<Atomic<Int>> { word(2 &* cacheLineStride) }
    /// Waiting senders plus spilled elements (written under the channel lock).
    @inlinable @inline(__always) var backlog: UnsafeMutablePointer<Atomic<Int>> { word(2 &* cacheLineStride &+ 64) }
    /// Elements dropped by `.dropNewest` on the lock-free path.
    @inlinable @inline(__always) var droppedNewest: UnsafeMutablePointer<Atomic<Int>> { word(3 &* cacheLineStride) }

    @inlinable @inline(__always)
    func stamp(_ index: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (slots + index &* slotStride).assumingMemoryBound(to: Atomic<Int>.self)
    }

    @inlinable @inline(__always)
    func value(_ index: Int) -> UnsafeMutablePointer<Element> {
        (slots + index &* slotStride + Self.valueOffset).assumingMemoryBound(to: Element.self)
    }

    /// The position after `position` (index + 1, or index 0 of the next lap).
    @inlinable @inline(__always)
    func successor(_ position: Int) -> Int {
        (position & (markBit - 1)) + 1 < capacity ? position &+ 1 : (position & ~(oneLap - 1)) &+ oneLap
    }

    /// How many operations a position stands for (laps * capacity + index).
    @inlinable @inline(__always)
    func ordinal(_ position: Int) -> Int {
        (position >> lapShift) &* capacity &+ (position & (markBit - 1))
    }

    // MARK: operations

    /// Appends `element` unless the ring is full or closed (then it comes
    /// back). Lock-free; waits only for a consumer that is moving out the
    /// previous lap's element of the very slot it needs.
    @inlinable
    func push(_ element: Element) -> RingPush<Element> {
        var backoff = Backoff()
        var position = tail.pointee.load(ordering: .relaxed)
        while true {
            if position & markBit != 0 { return .closed(element) }
            let index = position & (markBit - 1)
            let seen = stamp(index).pointee.load(ordering: .acquiring)  // pairs with the previous consumer's release
            if seen == position {
                // seq_cst: the sender's half of the Dekker handshake (file comment).
                let (won, current) = tail.pointee.weakCompareExchange(
                    expected: position, desired: successor(position),
                    successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
                if won {
                    value(index).initialize(to: element)
                    stamp(index).pointee.store(position &+ 1, ordering: .releasing)  // publishes the value
                    return .pushed
                }
                position = current
                backoff.spin()
            } else if seen &+ oneLap == position &+ 1 {
                // The slot still holds the previous lap's element.
                let first = head.pointee.load(ordering: .sequentiallyConsistent)  // the "full" decision (Dekker)
                if first &+ oneLap == position {
                    let now = tail.pointee.load(ordering: .sequentiallyConsistent)
                    if now & markBit != 0 { return .closed(element) }
                    if now == position { return .full(element) }
                    position = now
                } else {
                    backoff.snooze()  // a consumer claimed it and is moving it out
                    position = tail.pointee.load(ordering: .relaxed)
                }
            } else {
                backoff.snooze()  // another producer took this position
                position = tail.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Removes the oldest element; `.empty` or `.closed` when there is
    /// none. Lock-free; waits only for a producer that has claimed the head
    /// slot and is writing it.
    @inlinable
    func pop() -> RingPop<Element> {
        var backoff = Backoff()
        var position = head.pointee.load(ordering: .relaxed)
        while true {
            let index = position & (markBit - 1)
            let seen = stamp(index).pointee.load(ordering: .acquiring)  // pairs with the producer's release
            if seen == position &+ 1 {
                // seq_cst: the receiver's half of the Dekker handshake (file comment).
                let (won, current) = head.pointee.weakCompareExchange(
                    expected: position, desired: successor(position),
                    successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
                if won {
                    let element = value(index).move()
                    stamp(index).pointee.store(position &+ oneLap, ordering: .releasing)  // frees the slot for the next lap
                    return .element(element)
                }
                position = current
                backoff.spin()
            } else if seen == position {
                let last = tail.pointee.load(ordering: .sequentiallyConsistent)  // the "empty" decision (Dekker)
                if last & ~markBit == position { return last & markBit != 0 ? .closed : .empty }
                backoff.snooze()  // a producer claimed the slot and is writing it
                position = head.pointee.load(ordering: .relaxed)
            } else {
                backoff.snooze()  // another consumer took this position
                position = head.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Removes the oldest element only if the ring is full (`.dropOldest`).
    /// Call only under the channel's lock, with the ring open.
    @usableFromInline
    func popIfFull() -> Element? {
        var backoff = Backoff()
        var position = head.pointee.load(ordering: .relaxed)
        while true {
            let index = position & (markBit - 1)
            let seen = stamp(index).pointee.load(ordering: .acquiring)  // pairs with the producer's release
            let last = tail.pointee.load(ordering: .sequentiallyConsistent) & ~markBit
            if last != position &+ oneLap {
                // Not full (or head was stale: then re-read it).
                let now = head.pointee.load(ordering: .relaxed)
                if now == position { return nil }
                position = now
                continue
            }
            if seen == position &+ 1 {
                // Full when read: tail cannot pass head + capacity, so if the
                // CAS finds head unchanged the ring is full at the CAS.
                let (won, current) = head.pointee.weakCompareExchange(
                    expected: position, desired: successor(position),
                    successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
                if won {
                    let element = value(index).move()
                    stamp(index).pointee.store(position &+ oneLap, ordering: .releasing)
                    return element
                }
                position = current
                backoff.spin()
            } else {
                backoff.snooze()  // the head's producer is still writing, or head is stale
                position = head.pointee.load(ordering: .relaxed)
            }
        }
    }

    /// Closes the ring: no push succeeds afterwards. Under the channel's lock.
    @usableFromInline
    func markClosed() {
        tail.pointee.bitwiseOr(markBit, ordering: .sequentiallyConsistent)
    }

    /// Elements taken out (received or dropped by `popIfFull`) and put in
    /// so far: exact when no operation is in flight. Reads head first, then
    /// tail, and keeps `0 <= enqueued - dequeued <= capacity`.
    @usableFromInline
    func counts() -> (dequeued: Int, enqueued: Int) {
        let first = ordinal(head.pointee.load(ordering: .sequentiallyConsistent))
        let last = ordinal(tail.pointee.load(ordering: .sequentiallyConsistent) & ~markBit)
        return (max(first, last - capacity), last)
    }
}
