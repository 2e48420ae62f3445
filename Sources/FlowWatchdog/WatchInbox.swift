#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// WatchInbox — the sharded multi-producer, single-consumer inbox through
// which `watch` hands new tokens to the monitor without a lock.
//
// Algorithm: `shardCount` intrusive Treiber stacks (Treiber, "Systems
// programming: coping with parallelism", IBM RJ 5118, 1986), each on its own
// 128-byte block together with a push counter (`claim`; `watch` now takes
// its ids from WatchThreadCache instead). A producer picks the shard of
// its thread (a hash of pthread_self, so two threads rarely share a line),
// links the token in front of the shard's head and publishes it with a CAS. The
// consumer takes a whole shard at once by exchanging its head with 0 and
// walks the list it got. There is no single-node pop, so the ABA problem of
// Treiber stacks does not arise: a node is pushed once per activity, and
// leaves in a whole-list exchange by its one consumer or in its own
// withdrawal (below); it is pushed again only after it was recycled, which
// needs it out of the stack and referenced by nobody (WatchThreadCache).
//
// Withdrawal: `WatchToken.finish()` may take its own token back out when
// the token is still the head of its shard, by CAS(head: token -> token's
// link). That is a single-node pop, but not the ABA-prone kind: the
// finishing thread holds a reference, so meanwhile the token can be neither
// freed (its address reused) nor recycled (pushed again); only one finish
// per activity withdraws (the `finished` bit decides); and its link never
// changes while it is in the stack. So if the head still equals the token,
// the token has been in the stack all along and its link is still the node
// below it. The CAS is acquire-release, and since
// every write to a head is a read-modify-write, the release sequences of the
// pushes beneath it stay intact for the consumer's exchange.
//
// Shard memory comes from a process-wide pool and is recycled, never freed:
// a token may outlive its watchdog, and a late withdrawal then reads and
// CASes a head that is still valid memory; the CAS fails because no other
// live token can have that token's address.
//
// Who may call what: any thread may call `claim`, `push` and `withdraw`. `drain` is the
// consumer side: callers serialise it (the watchdog calls it only under its
// state lock, from the monitor thread, `ManualClock.advance` or a cancel).
//
// Orderings:
// - `claim` is a relaxed fetch-add: it only hands out unique numbers.
// - The push CAS is sequentially consistent. Its release half publishes the
//   token's fields and its `inboxNext` link to the consumer; its SC half is
//   the producer's side of the sleep protocol (WatchdogCore+Monitor): the
//   producer's CAS then SC load of the monitor's sleep target, against the
//   monitor's SC store of the target then SC loads of the heads, ensure
//   that either the monitor sees the token or the producer sees the target.
// - `drain` loads each head (SC in the monitor's pre-sleep check) and, when
//   it is not empty, exchanges it with 0 with acquire. Every push
//   is a read-modify-write on the head, so the pushes form one release
//   sequence and the exchange synchronises with all of them: the consumer
//   sees each token's fields and links.
// - Each token in the list holds one retain taken by `push`; `drain` takes
//   it over.

/// The sharded lock-free inbox of newly watched tokens (see the comment above).
final class WatchInbox: @unchecked Sendable {  // atomic heads, recycled shard memory (below)
    // Safe to share: the only state is the shard blocks, whose two words
    // are atomics accessed only through atomic operations; the base pointer
    // never changes after init and is freed in deinit.
    static let shardBits = 5
    static let shardCount = 1 << shardBits
    private let base: UnsafeMutableRawPointer

    init() {
        if let recycled = WatchInbox.pool.withLock({ $0.popLast() }) {
            base = UnsafeMutableRawPointer(bitPattern: recycled)!
            for shard in 0..<Self.shardCount { counter(shard).pointee.store(0, ordering: .relaxed) }
        } else {
            base = UnsafeMutableRawPointer.allocate(
                byteCount: Self.shardCount * cacheLineStride, alignment: cacheLineStride)
            for shard in 0..<Self.shardCount {
                head(shard).initialize(to: Atomic(0))
                counter(shard).initialize(to: Atomic(0))
            }
        }
    }

    deinit {
        drain(ordering: .acquire) { _ in }
        // Never freed: late withdrawals of surviving tokens may still touch it.
        WatchInbox.pool.withLock { $0.append(UInt(bitPattern: base)) }
    }

    /// Shard blocks of dead inboxes, reused by new ones (addresses as words).
    private static let pool = Locked<[UInt]>([])

    /// The head word of `shard`, which tokens keep for `withdraw`.
    @inline(__always)
    func headPointer(_ shard: Int) -> UnsafeMutablePointer<Atomic<UInt>> { head(shard) }

    @inline(__always)
    private func head(_ shard: Int) -> UnsafeMutablePointer<Atomic<UInt>> {
        (base + shard * cacheLineStride).assumingMemoryBound(to: Atomic<UInt>.self)
    }

    @inline(__always)
    private func counter(_ shard: Int) -> UnsafeMutablePointer<Atomic<UInt64>> {
        (base + shard * cacheLineStride + 8).assumingMemoryBound(to: Atomic<UInt64>.self)
    }

    /// The calling thread's shard: a multiplicative hash of its pthread id.
    @inline(__always)
    func currentShard() -> Int {
        #if canImport(Darwin)
        let word = UInt64(UInt(bitPattern: pthread_self()))
        #else
        let word = UInt64(pthread_self())
        #endif
        return Int(truncatingIfNeeded: (word &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - Self.shardBits))
    }

    /// A fresh sequence number of `shard`: 1, 2, 3, ... (relaxed: uniqueness only).
    @inline(__always)
    func claim(_ shard: Int) -> UInt64 {
        counter(shard).pointee.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Publishes `token` on `shard`; the inbox keeps one retain until drained.
    @inline(__always)
    func push(_ token: WatchToken, shard: Int) {
        let raw = UInt(bitPattern: Unmanaged.passRetained(token).toOpaque())
        let slot = head(shard)
        var old = slot.pointee.load(ordering: .relaxed)
        while true {
            token.inboxNext.store(old, ordering: .relaxed)  // published by the CAS below
            // SC: releases the token to the drainer; orders the push before the sleep-target load.
            let (won, seen) = slot.pointee.compareExchange(
                expected: old, desired: raw,
                successOrdering: .sequentiallyConsistent, failureOrdering: .relaxed)
            if won { return }
            old = seen
        }
    }

    /// Takes `token` back out if it is still the head of `slot` (see the
    /// comment above); true when it did, and the inbox's retain is the caller's.
    @inline(__always)
    static func withdraw(_ token: WatchToken, from slot: UnsafeMutablePointer<Atomic<UInt>>) -> Bool {
        let me = UInt(bitPattern: Unmanaged.passUnretained(token).toOpaque())
        guard slot.pointee.load(ordering: .relaxed) == me else { return false }
        let below = token.inboxNext.load(ordering: .relaxed)  // fixed since the push
        return slot.pointee.compareExchange(
            expected: me, desired: below,
            successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed).exchanged
    }

    enum DrainOrdering { case acquire, sequentiallyConsistent }

    /// Takes every pushed token, passing each (retained) to `body`. Callers
    /// serialise calls (single consumer). Returns the number of tokens.
    @discardableResult
    func drain(ordering: DrainOrdering, _ body: (WatchToken) -> Void) -> Int {
        var taken = 0
        for shard in 0..<Self.shardCount {
            let slot = head(shard)
            // A load first, since most shards are empty most of the time. In the SC
            // variant this load is the monitor's side of the sleep protocol.
            let seen: UInt
            switch ordering {
            case .acquire: seen = slot.pointee.load(ordering: .relaxed)
            case .sequentiallyConsistent: seen = slot.pointee.load(ordering: .sequentiallyConsistent)
            }
            if seen == 0 { continue }
            var word = slot.pointee.exchange(0, ordering: .acquiring)  // pairs with push's CAS (release sequence)
            while word != 0 {
                let token = Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeRetainedValue()
                word = token.inboxNext.load(ordering: .relaxed)  // ordered by the exchange above
                body(token)
                taken += 1
            }
        }
        return taken
    }
}
