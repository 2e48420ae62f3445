import Synchronization

// MPMCQueue batch dequeue — several consecutive cells claimed by one CAS.
//
// Algorithm: as `tryDequeue` (Vyukov's bounded MPMC ring, see
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
