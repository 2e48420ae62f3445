import Synchronization

// WatchToken — the shared record of one watched activity.
//
// Who calls what: the watched work (any thread) calls heartbeat, finish,
// isCancellationRequested and onCancel; any thread may call cancel (the
// watchdog's handler, `cancelAll`, the layers above); the watchdog's monitor
// (the monitor thread, or `ManualClock.advance`) reads the deadline, marks
// the token timed out, and follows `inboxNext` while draining the inbox.
//
// Algorithm: four atomic words, no lock.
// - `state` holds bits that are only ever set: finished, timedOut,
//   cancelRequested. The three transitions are read-modify-writes on this
//   one word, so they are totally ordered and each decision is made once:
//   finish sets `finished` unconditionally; the monitor sets `timedOut` by
//   CAS only if `finished` is clear (the activity is reported at most once,
//   and never after it finished); cancel sets `cancelRequested` by CAS only
//   if neither `finished` nor `cancelRequested` is set.
// - `deadline` is a relaxed word: heartbeat stores now + timeout, the monitor
//   loads it when the heap entry comes due and re-inserts the token when the
//   deadline moved (lazy re-scheduling). No data is published through it; a
//   heartbeat racing with the deadline instant may or may not save the token.
// - `callbacks` is 0 (none), 1 (cancelled: run new callbacks at once), 2
//   (closed after finish: drop new callbacks), or a retained pointer to the
//   head of a list of callback nodes. onCancel pushes a node by CAS (release,
//   publishing the node); cancel swaps in 1 (acquire-release) and runs the
//   list it took; finish swaps in 2 and drops the list, unless a cancel won
//   first (seen in `state`), in which case the cancel runs it. Exactly one
//   exchange takes the list, so each callback runs at most once, and exactly
//   once when cancellation was requested.
// - `inboxNext` links the token into its inbox shard. It is written by the
//   pushing thread before the publishing CAS on the shard head (release) and
//   read by the drainer after its exchange of that head (acquire), or by
//   finish's withdrawal, which happens after the push; see WatchInbox.
//   Relaxed accesses suffice given that pairing.
//
// Orderings on `state`: the RMWs are acquire-release and the loads acquire,
// so a thread that sees `cancelRequested` also sees whatever the canceller
// wrote before cancelling; the flags themselves need nothing stronger.
//
// Recycling: `finish` hands a token it withdrew from its inbox (so the
// monitor never saw it) to the finishing thread's WatchThreadCache, which
// reuses it for a later `watch` only while it holds the only reference; see
// WatchThreadCache for why that is safe. `reuse` then rewrites the words
// above and the per-activity words (`idWord`, `startWord`, `timeoutWord`)
// with relaxed stores, all atomic so that no access to a token is a plain
// data race; `name`, `clock` and `inboxSlot` never change (reuse requires
// them to match). A caller that still holds a finished token keeps it from
// being reused, so it never sees the token change.

/// One watched activity: keep it alive with `heartbeat()`, end it with
/// `finish()`, and stop early when `isCancellationRequested` turns true or
/// an `onCancel` callback runs.
///
/// Tokens come from `Watchdog.watch(name:timeout:)`. An unfinished token
/// whose deadline passes is reported once as `WatchdogEvent.taskTimedOut`.
/// A token that is dropped without `finish()` is still watched, and so is
/// reported when its deadline passes (a leaked activity is a hung one).
///
/// ```swift
/// let token = try watchdog.watch(name: "chunk-17", timeout: .seconds(30))
/// token.onCancel { reader.abort() }
/// for block in blocks {
///     if token.isCancellationRequested { break }
///     process(block)
///     token.heartbeat()
/// }
/// token.finish()
/// ```
public final class WatchToken: Sendable {
    /// The name given to `watch`, as reported in events.
    public let name: String
    /// The token's identity in events and in `Watchdog.cancel(_:)`.
    public var id: WatchID { WatchID(rawValue: idWord.load(ordering: .relaxed)) }
    var timeoutNanoseconds: UInt64 { timeoutWord.load(ordering: .relaxed) }
    var startNanoseconds: UInt64 { startWord.load(ordering: .relaxed) }
    let clock: WatchdogClock

    // Rewritten only when the token is recycled, while nobody else can
    // reach it (see WatchThreadCache); atomic so that no access races.
    private let idWord: Atomic<UInt64>
    private let timeoutWord: Atomic<UInt64>
    private let startWord: Atomic<UInt64>

    let deadline: Atomic<UInt64>
    let state = Atomic<Int>(0)
    private let callbacks = Atomic<UInt>(0)
    let inboxNext = Atomic<UInt>(0)
    // The head of the inbox shard the token was pushed on (nil: never
    // pushed). Safe to share: it points into WatchInbox's never-freed shard
    // pool and is only used through atomic operations.
    nonisolated(unsafe) let inboxSlot: UnsafeMutablePointer<Atomic<UInt>>?

    static let finishedBit = 1
    static let timedOutBit = 2
    static let cancelRequestedBit = 4

    private static let noCallbacks: UInt = 0
    private static let cancelledMark: UInt = 1
    private static let closedMark: UInt = 2

    init(
        name: String, id: WatchID, start: UInt64, timeout: UInt64, clock: WatchdogClock,
        inboxSlot: UnsafeMutablePointer<Atomic<UInt>>?
    ) {
        self.inboxSlot = inboxSlot
        self.name = name
        self.idWord = Atomic(id.rawValue)
        self.startWord = Atomic(start)
        self.timeoutWord = Atomic(timeout)
        self.clock = clock
        self.deadline = Atomic(start &+ timeout)
    }

    /// True when this finished token may serve a new `watch` with these
    /// arguments: it finished without a cancel request (so its callback
    /// list is empty or closed) and its fixed fields match. The caller must
    /// hold the only reference (see WatchThreadCache).
    @inline(__always)
    func canBeReused(name: String, clock: WatchdogClock, inboxSlot: UnsafeMutablePointer<Atomic<UInt>>) -> Bool {
        state.load(ordering: .relaxed) == Self.finishedBit
            && callbacks.load(ordering: .relaxed) != Self.cancelledMark
            && self.inboxSlot == inboxSlot && clock.isSame(as: self.clock) && self.name == name
    }

    /// Turns a finished token into a fresh one (see `canBeReused`). Relaxed
    /// stores: the caller holds the only reference, and the push that
    /// publishes the token to the monitor releases them.
    @inline(__always)
    func reuse(id: UInt64, start: UInt64, timeout: UInt64) {
        idWord.store(id, ordering: .relaxed)
        startWord.store(start, ordering: .relaxed)
        timeoutWord.store(timeout, ordering: .relaxed)
        deadline.store(start &+ timeout, ordering: .relaxed)
        callbacks.store(Self.noCallbacks, ordering: .relaxed)  // was empty or closed: nothing to free
        state.store(0, ordering: .relaxed)
    }

    deinit {
        let word = callbacks.load(ordering: .acquiring)
        if word > Self.closedMark { _ = Unmanaged<CancelCallbackNode>.fromOpaque(pointer(word)).takeRetainedValue() }
    }

    /// The time allowed between heartbeats (or from `watch` to `finish`).
    public var timeout: Duration { Duration(watchdogNanoseconds: timeoutNanoseconds) }

    /// Postpones the deadline to now + `timeout`. Has no effect on a token
    /// that has already been reported as timed out.
    @inline(__always)
    public func heartbeat() {
        deadline.store(clock.nanoseconds() &+ timeoutNanoseconds, ordering: .relaxed)  // read by the monitor
    }

    /// Ends the watch. Calling it again is harmless. Returns true when the
    /// activity finished before it was reported as timed out.
    ///
    /// Callbacks registered with `onCancel` are released, and are not run
    /// unless cancellation was requested before `finish`.
    @discardableResult
    @inline(__always)
    public func finish() -> Bool {
        let old = state.bitwiseOr(Self.finishedBit, ordering: .acquiringAndReleasing).oldValue
        if old & Self.finishedBit == 0 {
            // Still at the head of its inbox shard (the usual case for a short
            // activity): take it back, so the monitor never has to see it.
            let withdrawn = inboxSlot.map { WatchInbox.withdraw(self, from: $0) } ?? false
            if old & Self.cancelRequestedBit == 0, callbacks.load(ordering: .relaxed) != Self.noCallbacks {
                closeCallbacks()
            }
            if withdrawn {
                // The inbox's retain (the caller holds another) moves to this thread's cache,
                // which may hand the token to a later `watch` once nobody else holds it.
                WatchThreadCache.current.pointee.store(Unmanaged.passUnretained(self))
            }
        }
        return old & Self.timedOutBit == 0
    }

    /// True once `finish()` was called.
    public var isFinished: Bool { state.load(ordering: .acquiring) & Self.finishedBit != 0 }

    /// True once the watchdog reported this activity as timed out.
    public var hasTimedOut: Bool { state.load(ordering: .acquiring) & Self.timedOutBit != 0 }

    /// True once cancellation was requested (by `cancel()`, the watchdog's
    /// handler, `cancelAll()` or a cancellation policy) before `finish()`.
    public var isCancellationRequested: Bool {
        state.load(ordering: .acquiring) & Self.cancelRequestedBit != 0
    }

    /// Requests cancellation: `isCancellationRequested` turns true and the
    /// `onCancel` callbacks run, on this thread, exactly once. Returns false,
    /// and does nothing, if cancellation was already requested or the token
    /// already finished.
    @discardableResult
    public func cancel() -> Bool {
        var old = state.load(ordering: .relaxed)
        while true {
            if old & (Self.finishedBit | Self.cancelRequestedBit) != 0 { return false }
            let (won, seen) = state.compareExchange(
                expected: old, desired: old | Self.cancelRequestedBit,
                successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
            if won { break }
            old = seen
        }
        // Take the list exactly once; later registrations see `cancelledMark` and run at once.
        let word = callbacks.exchange(Self.cancelledMark, ordering: .acquiringAndReleasing)
        if word > Self.closedMark {
            CancelCallbackNode.runAll(Unmanaged<CancelCallbackNode>.fromOpaque(pointer(word)).takeRetainedValue())
        }
        return true
    }

    /// Registers `body` to run once when cancellation is requested. If it
    /// already was, `body` runs now, on this thread. If the token finished
    /// without cancellation, `body` is dropped and never runs. Callbacks run
    /// in registration order, with no lock held.
    public func onCancel(_ body: @escaping @Sendable () -> Void) {
        let node = CancelCallbackNode(body)
        let raw = UInt(bitPattern: Unmanaged.passRetained(node).toOpaque())
        var current = callbacks.load(ordering: .acquiring)
        while true {
            if current == Self.cancelledMark || current == Self.closedMark {
                // A failed attempt may have left a link to a list we never owned: clear it, or
                // the node's deinit would release that list a second time.
                node.nextWord = 0
                _ = Unmanaged<CancelCallbackNode>.fromOpaque(pointer(raw)).takeRetainedValue()
                if current == Self.cancelledMark { body() }
                return
            }
            // The node is not shared until the CAS succeeds, so writing its link is private.
            // The link is a raw word: `current` may already have been taken and freed by a
            // cancel or finish, so it must not be dereferenced before the CAS proves it is ours.
            node.nextWord = current > Self.closedMark ? current : 0
            let (won, seen) = callbacks.compareExchange(
                expected: current, desired: raw,
                successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            // On success the list's +1 on the old head now belongs to `node.nextWord`.
            if won { return }
            current = seen
        }
    }

    /// Marks the token timed out unless it finished; true when this call did it.
    func markTimedOut() -> Bool {
        var old = state.load(ordering: .relaxed)
        while true {
            if old & (Self.finishedBit | Self.timedOutBit) != 0 { return false }
            let (won, seen) = state.compareExchange(
                expected: old, desired: old | Self.timedOutBit,
                successOrdering: .acquiringAndReleasing, failureOrdering: .relaxed)
            if won { return true }
            old = seen
        }
    }

    private func closeCallbacks() {
        var current = callbacks.load(ordering: .acquiring)
        while current != Self.cancelledMark && current != Self.closedMark {
            let (won, seen) = callbacks.compareExchange(
                expected: current, desired: Self.closedMark,
                successOrdering: .acquiringAndReleasing, failureOrdering: .acquiring)
            if won {
                if current > Self.closedMark { Unmanaged<CancelCallbackNode>.fromOpaque(pointer(current)).release() }
                return
            }
            current = seen
        }
    }

    @inline(__always)
    private func pointer(_ word: UInt) -> UnsafeRawPointer { UnsafeRawPointer(bitPattern: word)! }
}

/// One registered cancellation callback; a list, newest first. Shared only
/// through `WatchToken.callbacks`, whose CAS publishes it (see above). Each
/// node owns one retain of the next node, held as a raw word.
private final class CancelCallbackNode {
    let body: @Sendable () -> Void
    var nextWord: UInt = 0  // written only before the node is published

    init(_ body: @escaping @Sendable () -> Void) { self.body = body }

    deinit {
        if nextWord != 0 { Unmanaged<CancelCallbackNode>.fromOpaque(UnsafeRawPointer(bitPattern: nextWord)!).release() }
    }

    /// Runs the list that `head` owns, oldest first; the list is freed after.
    static func runAll(_ head: CancelCallbackNode) {
        var bodies: [@Sendable () -> Void] = [head.body]
        var word = head.nextWord
        while word != 0 {
            let node = Unmanaged<CancelCallbackNode>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeUnretainedValue()
            bodies.append(node.body)
            word = node.nextWord
        }
        for body in bodies.reversed() { body() }
    }
}

/// The identity of a watched activity: unique within one `Watchdog`.
public struct WatchID: Hashable, Sendable, CustomStringConvertible {
    /// The raw number: unique in the process, increasing on each thread,
    /// not dense (each thread takes ids in blocks).
    public let rawValue: UInt64

    /// An id from its raw number (as printed in events).
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// "#" followed by the raw number.
    public var description: String { "#\(rawValue)" }
}
