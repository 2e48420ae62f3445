import Synchronization

// WatchLane — one thread's slots in one watchdog: how `watch` hands tokens
// to the monitor without a lock and, in the usual case, without a
// read-modify-write of its own.
//
// What it holds: `slotCount` slot words, each a retained token pointer (0:
// empty), and `retired`, the head of an intrusive Treiber stack (Treiber,
// "Systems programming: coping with parallelism", IBM RJ 5118, 1986) of
// tokens evicted from the slots, and the owner's cursor (the slot to try
// first). The words live on one 128-byte block of their own, so that lanes
// of different threads never share a cache line; the hot path reaches them
// through that block, without a reference to the lane object.
//
// Who may call what:
// - The owning thread (the one whose WatchThreadCache holds the lane) is the
//   only writer of the slots: `watch` reuses the token in a slot in place
//   (WatchToken.reuse) or puts a new token into a slot, evicting the old
//   one onto `retired` (`replace`). `close` (at thread exit) evicts them all.
// - The processing thread (the monitor, `ManualClock.advance` or a cancel,
//   under the watchdog's state lock, so one at a time) reads the slots and
//   the tokens in them, and takes the whole `retired` stack with one
//   exchange (`takeRetired`). It never writes a slot.
// - Any thread may finish, heartbeat or cancel a token; those touch only
//   the token (WatchToken), never the lane.
//
// Why the processor may read a slot's token without holding a reference:
// a token leaves a slot only by eviction, which stores the new slot word
// first and then pushes the old token onto `retired`, handing the slot's
// reference to the stack; only the processor pops the stack, and it drops
// a token only after popping it. A processor that read the old word before
// the eviction therefore still finds the token alive (the stack holds it);
// one that popped it has synchronised with the push (acquire exchange
// against the release CAS), so the slot store before it is visible and
// later reads of the slot see the new word (write-read coherence).
//
// The retired stack is multi-producer in principle but has one producer in
// practice (the owner); the consumer takes all of it at once, so there is
// no single-node pop and no ABA problem: a token is pushed once, after it
// left its slot for good, and never goes back into a slot.
//
// Orderings:
// - Slot stores are sequentially consistent: besides publishing the new
//   token's fields (release), they are the producer's half of the sleep
//   protocol (WatchdogCore+Monitor): SC store, then SC load of the
//   monitor's sleep target. The processor's pre-sleep scan loads the slot
//   words SC after its SC store of the target. (A reused token is published
//   by the SC store of its state word instead; see WatchToken.)
// - The push is a CAS (SC for the same reason; release would do for the
//   stack itself); `takeRetired` exchanges with 0 (acquire), and since every
//   write of the head is a read-modify-write, the pushes form one release
//   sequence: the consumer sees every token's fields and links.
// - Owner-side loads of its own slots are relaxed (it is the only writer).
//
// Lifetime: the lane is held by its thread's WatchThreadCache and by the
// watchdog's MonitorState. `close` (the thread exits) empties the slots
// onto `retired` and sets `closed`; the processor then drains and forgets
// the lane. `detached` is set when the watchdog stops: its threads forget
// the lane the next time they look one up. Whoever drops the last reference
// runs deinit, which releases whatever the slots and the stack still hold.
final class WatchLane: @unchecked Sendable {  // atomics on a private block, owner-only and processor-only fields (below)
    // Safe to share: the slot words and the stack head are atomics on
    // `words`, which never moves and is freed in deinit; the cursor (on the
    // same block) and `evictions` are touched only by the owning thread;
    // `seenIDs` only by the processing thread, under the watchdog's state lock.
    static let slotCount = 4
    private static let retiredIndex = slotCount
    private static let cursorIndex = slotCount + 1

    /// The watchdog (WatchdogCore.serial) this lane belongs to.
    let coreSerial: UInt64
    /// Set by `close` (after the slots were emptied), read by the processor.
    let closed = Atomic<Bool>(false)
    /// Set when the watchdog stopped; its threads forget the lane.
    let detached = Atomic<Bool>(false)

    private let words: UnsafeMutablePointer<Atomic<UInt>>

    /// Owner only: the slot `watch` tries first (the last one it used).
    var cursor: Int {
        get { block.cursor }
        set { block.cursor = newValue }
    }
    /// Owner only: tokens evicted so far (for WatchdogCore.drainEvery).
    var evictions: UInt64 = 0
    /// Processor only: the id each slot held at the last scan (for the
    /// monitor's horizon: a changed id means activities went by).
    var seenIDs = [UInt64](repeating: 0, count: WatchLane.slotCount)

    init(coreSerial: UInt64) {
        self.coreSerial = coreSerial
        let raw = UnsafeMutableRawPointer.allocate(byteCount: cacheLineStride, alignment: cacheLineStride)
        words = raw.bindMemory(to: Atomic<UInt>.self, capacity: Self.slotCount + 2)
        for index in 0...Self.cursorIndex { (words + index).initialize(to: Atomic(0)) }
    }

    /// The lane's words, for the hot path (which then needs no reference
    /// to the lane object: no retain and release of it per `watch`).
    var block: Block { Block(words: words) }

    /// A view of a lane's words; valid while the lane lives (its thread's
    /// cache holds it).
    struct Block {
        let words: UnsafeMutablePointer<Atomic<UInt>>

        /// Slot `index`'s word: a retained token pointer, or 0.
        @inline(__always)
        func slot(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt>> { words + index }

        /// Owner only: the slot `watch` tries first (the last one it used).
        /// Stored relaxed: only the owner reads or writes it.
        var cursor: Int {
            @inline(__always) get { Int(bitPattern: words[WatchLane.cursorIndex].load(ordering: .relaxed)) }
            @inline(__always) nonmutating set {
                words[WatchLane.cursorIndex].store(UInt(bitPattern: newValue), ordering: .relaxed)
            }
        }
    }

    deinit {
        for index in 0..<Self.slotCount {
            let word = words[index].load(ordering: .acquiring)
            if word != 0 { Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).release() }
        }
        takeRetired(sequentiallyConsistent: false) { _ in }
        words.deinitialize(count: Self.slotCount + 2)
        UnsafeMutableRawPointer(words).deallocate()
    }

    /// Slot `index`'s word: a retained token pointer, or 0.
    @inline(__always)
    func slot(_ index: Int) -> UnsafeMutablePointer<Atomic<UInt>> { words + index }

    /// Owner only: puts `token` (whose retain the caller hands over) into
    /// slot `index` and evicts the token that was there onto `retired`.
    /// Returns the evicted token's deadline when it is still unfinished
    /// (the caller must then check it against the monitor's sleep target
    /// too), else `UInt64.max`.
    func replace(slot index: Int, with token: Unmanaged<WatchToken>) -> UInt64 {
        let old = words[index].load(ordering: .relaxed)  // only this thread writes it
        // SC: publishes the new token, and orders this store before the sleep-target load.
        words[index].store(UInt(bitPattern: token.toOpaque()), ordering: .sequentiallyConsistent)
        guard old != 0 else { return .max }
        let evicted = Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: old)!)
        // Read before the push: once pushed, the processor may drop the token.
        let deadline = evicted._withUnsafeGuaranteedRef { $0.isFinished ? UInt64.max : $0.deadline.load(ordering: .relaxed) }
        push(evicted)  // the slot's reference moves to the stack
        evictions &+= 1
        return deadline
    }

    /// Owner only, at thread exit: moves every slot's token onto `retired`
    /// (unfinished ones stay watched) and marks the lane closed.
    func close() {
        for index in 0..<Self.slotCount {
            let word = words[index].load(ordering: .relaxed)
            guard word != 0 else { continue }
            words[index].store(0, ordering: .sequentiallyConsistent)
            push(Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!))
        }
        closed.store(true, ordering: .releasing)  // after the pushes: the processor drains, then forgets
    }

    /// True when `retired` holds something (relaxed: a hint).
    var hasRetired: Bool { words[Self.retiredIndex].load(ordering: .relaxed) != 0 }

    private func push(_ token: Unmanaged<WatchToken>) {
        let raw = UInt(bitPattern: token.toOpaque())
        let head = words + Self.retiredIndex
        var old = head.pointee.load(ordering: .relaxed)
        while true {
            token._withUnsafeGuaranteedRef { $0.retiredNext.store(old, ordering: .relaxed) }  // published by the CAS
            let (won, seen) = head.pointee.compareExchange(
                expected: old, desired: raw, successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
            if won { return }
            old = seen
        }
    }

    /// Processor only: takes the whole retired stack, passing each token
    /// (with the stack's retain) to `body`. `sequentiallyConsistent`: the
    /// emptiness check is SC (the monitor's pre-sleep scan), else relaxed.
    func takeRetired(sequentiallyConsistent: Bool, _ body: (WatchToken) -> Void) {
        let head = words + Self.retiredIndex
        let seen = sequentiallyConsistent
            ? head.pointee.load(ordering: .sequentiallyConsistent) : head.pointee.load(ordering: .relaxed)
        if seen == 0 { return }
        var word = head.pointee.exchange(0, ordering: .acquiring)  // pairs with the pushes' CAS
        while word != 0 {
            let token = Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeRetainedValue()
            word = token.retiredNext.load(ordering: .relaxed)  // ordered by the exchange above
            body(token)
        }
    }
}
