import Synchronization

// MPMCQueue extensions that move elements instead of copying them:
// `tryEnqueue(taking:)`, and a batch dequeue that claims several
// consecutive cells by one CAS.
//
// tryEnqueue(taking:) moves the element out of the caller's optional into
// its cell, where `tryEnqueue` (a borrowed parameter) copies it and the
// caller then destroys its own copy — for an element holding a reference,
// a retain and a release per enqueue, on a cache line that the consumer's
// final release touches too. Same algorithm and orderings as `tryEnqueue`
// (MPMCQueue.swift); the element leaves the slot only after the claim won.
//
// Batch dequeue. Algorithm: as `tryDequeue` (Vyukov's bounded MPMC ring, see
// MPMCQueue.swift), but after finding the cell at dequeuePos = p published
// (sequence p + 1) the consumer also looks at the cells p+1, p+2, … and
// counts those published for their own round (sequence q + 1 for position
// q), stopping at the first that is not or at `maxCount`. One CAS of
// dequeuePos from p to p + k then claims all k cells; afterwards it moves
// each value out and frees each cell (sequence q + capacity), as a single
// dequeue does.
//
// Who may call what: any thread, like `tryDequeue`; batch and single
// dequeues and enqueues may run concurrently.
//
// Orderings: each cell's sequence is loaded with acquire and pairs with its
// producer's release store of q + 1, so the consumer sees every value it
// moves out. Only positions below dequeuePos are ever consumed, and a
// consumer owns the positions its CAS moved dequeuePos over, so the k cells
// belong to this consumer alone until it frees them (release store of
// q + capacity, which the next round's producer acquires). A sequence of
// q + 1 names the round exactly (positions only grow), so a cell seen
// published cannot belong to another round when the CAS succeeds: the CAS
// succeeding means no consumer moved past p meanwhile, and no producer can
// reuse a cell before a consumer frees it. The claim CAS is relaxed, as in
// `tryDequeue`: positions only hand out cells.

extension MPMCQueue {
    /// `tryEnqueue` that moves the element out of `slot` (which must hold
    /// one) instead of copying it: true when enqueued (`slot` is then nil),
    /// false when the queue is full (`slot` is left as it was). An `inout`
    /// optional rather than a `consuming` parameter, so callers can hand
    /// an element through non-escaping closures without a copy.
    @inlinable @inline(__always)
    public func tryEnqueue(taking slot: inout Element?) -> Bool {
        precondition(slot != nil, "MPMCQueue.tryEnqueue(taking:): the slot is empty")
        guard let pos = claimEnqueuePosition() else { return false }
        value(pos).initializeMemory(as: Element.self, to: slot.take().unsafelyUnwrapped)
        sequence(pos).pointee.store(pos &+ 1, ordering: .releasing)     // publishes the value to a consumer
        return true
    }

    /// Removes up to `maxCount` of the oldest elements in one claim and
    /// moves them, in FIFO order, into `buffer` (uninitialized memory for at
    /// least `maxCount` elements, initialized by this call); returns how
    /// many it moved (0 when the queue is empty). Never blocks.
    ///
    /// Takes only elements that are already published, so it may return
    /// fewer than are logically queued (a producer between its claim and
    /// its store stops the batch).
    @inlinable @inline(__always)
    public func tryDequeue(upTo maxCount: Int, into buffer: UnsafeMutablePointer<Element>) -> Int {
        precondition(maxCount >= 1, "MPMCQueue.tryDequeue(upTo:into:): maxCount must be at least 1, got \(maxCount)")
        var pos = dequeuePosition.pointee.load(ordering: .relaxed)
        var k = 0
        while true {
            let seq = sequence(pos).pointee.load(ordering: .acquiring)  // pairs with a producer's release
            let diff = seq &- (pos &+ 1)
            if diff == 0 {
                k = 1
                while k < maxCount
                    && sequence(pos &+ k).pointee.load(ordering: .acquiring) == pos &+ k &+ 1 {
                    k &+= 1
                }
                let (won, current) = dequeuePosition.pointee.weakCompareExchange(
                    expected: pos, desired: pos &+ k, successOrdering: .relaxed, failureOrdering: .relaxed)
                if won { break }
                pos = current
            } else if diff < 0 {
                return 0
            } else {
                pos = dequeuePosition.pointee.load(ordering: .relaxed)
            }
        }
        for i in 0..<k {
            let p = pos &+ i
            (buffer + i).moveInitialize(from: value(p).assumingMemoryBound(to: Element.self), count: 1)
            sequence(p).pointee.store(p &+ mask &+ 1, ordering: .releasing)  // frees the cell for the next round
        }
        return k
    }
}
