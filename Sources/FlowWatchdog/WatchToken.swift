import Synchronization

// WatchToken — the shared record of one watched activity, reused in place
// for later activities of the same thread.
//
// Who calls what: the watched work (any thread) calls heartbeat, finish,
// isCancellationRequested and onCancel; any thread may call cancel (the
// watchdog's handler, `cancelAll`, the layers above); the watchdog's
// processing thread (the monitor thread, `ManualClock.advance`, or a cancel
// by id, one at a time under the watchdog's state lock) reads the token,
// schedules it, and marks it timed out; the thread that owns the lane slot
// holding the token (WatchLane) reuses it (`canBeReused`, `reuse`).
//
// Algorithm: a handful of atomic words, no lock.
// - `state` holds a generation (bits 3 and up: which activity of this token
//   it is) and three flags that are only ever set within a generation:
//   finished, timedOut, cancelRequested. The three transitions are
//   read-modify-writes on this one word, so they are totally ordered and
//   each decision is made once: finish sets `finished` unconditionally; the
//   processor sets `timedOut` by CAS only if the generation is the one it
//   scheduled and `finished` is clear (each activity is reported at most
//   once, and never after it finished); cancel sets `cancelRequested` by CAS
//   only if neither `finished` nor `cancelRequested` is set. Only `reuse`
//   starts a new generation (a plain store, see below).
// - `deadline` is a relaxed word: heartbeat stores now + timeout, the
//   processor loads it when the heap entry comes due and re-inserts the
//   token when the deadline moved (lazy re-scheduling). No data is published
//   through it; a heartbeat racing with the deadline instant may or may not
//   save the token.
// - `callbacks` is 0 (none), 1 (cancelled: run new callbacks at once), 2
//   (closed after finish: drop new callbacks), or a retained pointer to the
//   head of a list of callback nodes. onCancel pushes a node by CAS (release,
//   publishing the node); cancel swaps in 1 (acquire-release) and runs the
//   list it took; finish swaps in 2 and drops the list, unless a cancel won
//   first (seen in `state`), in which case the cancel runs it. Exactly one
//   exchange takes the list, so each callback runs at most once, and exactly
//   once when cancellation was requested.
// - `retiredNext` links the token into its lane's retired stack; written
//   before the publishing CAS, read after the consumer's exchange (WatchLane).
// - `scheduledGeneration` is the processor's own note of the last
//   generation it put into its heap (relaxed; only the processor touches it).
//
// Reuse (the owner thread, WatchLane's slot): `canBeReused` requires that
// the owner's slot holds the only reference (isKnownUniquelyReferenced,
// checked by the caller: no user, heap or other thread can reach the token,
// except a processor reading the slot, see below) and that the current
// generation finished without timing out or being cancelled (so the
// callback list is empty or closed). `reuse` then rewrites the
// per-activity words (`idWord`, `startWord`, `timeoutWord`, `deadline`,
// `callbacks`) with relaxed stores and publishes the new generation with a
// sequentially consistent store of `state`: its release half publishes the
// words; its SC half is the producer's side of the sleep protocol
// (WatchdogCore+Monitor). `name` and `clock` never change (reuse requires
// the name to match; a lane belongs to one watchdog, hence one clock).
//
// The processor reads tokens in slots without a reference of its own, so
// it can see a reuse in progress. It reads like a seqlock reader: state
// (acquire), then the words, then an acquire fence and state again, and
// keeps what it read only when the generation is unchanged and unfinished.
// That suffices because `reuse` first loads `state` with acquire (seeing
// `finished`, set by an acquire-release RMW) and issues a release fence
// before its first store: if the processor read any rewritten word, the
// fences synchronise and its second load sees `finished` at least. Once the
// processor retained the token (heap entry), the owner no longer reuses it.
// Every heap entry records its generation, and every decision the
// processor takes (time out, cancel) is a CAS that checks it.
//
// Orderings on `state`: the RMWs are acquire-release and the loads acquire,
// so a thread that sees `cancelRequested` also sees whatever the canceller
// wrote before cancelling; the flags themselves need nothing stronger.

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

    // Rewritten only by `reuse`, while only the owner's slot holds the token.
    let idWord: Atomic<UInt64>
    private let timeoutWord: Atomic<UInt64>
    private let startWord: Atomic<UInt64>

    let deadline: Atomic<UInt64>
    let state = Atomic<Int>(0)
    private let callbacks = Atomic<UInt>(0)
    let retiredNext = Atomic<UInt>(0)
    /// The processor's note: the generation it last scheduled (-1: none).
    let scheduledGeneration = Atomic<Int>(-1)

    static let finishedBit = 1
    static let timedOutBit = 2
    static let cancelRequestedBit = 4
    static let flagMask = 7
    static let generationShift = 3

    private static let noCallbacks: UInt = 0
    private static let cancelledMark: UInt = 1
    private static let closedMark: UInt = 2

    init(name: String, id: WatchID, start: UInt64, timeout: UInt64, clock: WatchdogClock) {
        self.name = name
        self.idWord = Atomic(id.rawValue)
        self.startWord = Atomic(start)
        self.timeoutWord = Atomic(timeout)
        self.clock = clock
        self.deadline = Atomic(start &+ timeout)
    }

    /// True when this token may serve a new `watch` named `name`: its
    /// current activity finished, in time and without a cancel request. The
    /// caller must hold the only reference (see the comment above).
    @inline(__always)
    func canBeReused(name: String) -> Bool {
        state.load(ordering: .acquiring) & Self.flagMask == Self.finishedBit && self.name == name
    }

    /// Starts the next generation (see `canBeReused` and the comment above):
    /// rewrites the per-activity words and publishes them with an SC store.
    @inline(__always)
    func reuse(id: UInt64, start: UInt64, timeout: UInt64) {
        let next = (state.load(ordering: .acquiring) | Self.flagMask) &+ 1  // generation + 1, no flags
        atomicMemoryFence(ordering: .releasing)  // a processor that sees any store below sees `finished`
        idWord.store(id, ordering: .relaxed)
        startWord.store(start, ordering: .relaxed)
        timeoutWord.store(timeout, ordering: .relaxed)
        deadline.store(start &+ timeout, ordering: .relaxed)
        if callbacks.load(ordering: .relaxed) != Self.noCallbacks { resetCallbacks() }
        // SC: publishes the words; orders this store before the sleep-target load (sleep protocol).
        state.store(next, ordering: .sequentiallyConsistent)
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
        if old & (Self.finishedBit | Self.cancelRequestedBit) == 0,
           callbacks.load(ordering: .relaxed) != Self.noCallbacks {
            closeCallbacks()
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
    public func cancel() -> Bool { cancel(generation: nil) }

    /// `cancel()`, but only while the token is in `generation` (nil: any).
    func cancel(generation: Int?) -> Bool {
        var old = state.load(ordering: .relaxed)
        while true {
            if old & (Self.finishedBit | Self.cancelRequestedBit) != 0 { return false }
            if let generation, old >> Self.generationShift != generation { return false }
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

    /// The generation and flags, read by the processor (`ordering`: SC in
    /// the monitor's pre-sleep scan, acquire otherwise).
    @inline(__always)
    func loadState(sequentiallyConsistent: Bool) -> Int {
        sequentiallyConsistent ? state.load(ordering: .sequentiallyConsistent) : state.load(ordering: .acquiring)
    }

    /// True while the token is in `generation`, neither finished nor timed out.
    func isPending(generation: Int) -> Bool {
        let word = state.load(ordering: .acquiring)
        return word >> Self.generationShift == generation && word & (Self.finishedBit | Self.timedOutBit) == 0
    }

    /// Marks the token timed out if it is still pending in `generation`;
    /// true when this call did it.
    func markTimedOut(generation: Int) -> Bool {
        var old = state.load(ordering: .relaxed)
        while true {
            if old & (Self.finishedBit | Self.timedOutBit) != 0 || old >> Self.generationShift != generation {
                return false
            }
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

    /// For `reuse`: the list is closed (2), or (an `onCancel` that raced
    /// with `finish` after finish had looked) holds nodes that will never
    /// run; either way nobody else can reach it any more.
    @inline(never)
    private func resetCallbacks() {
        let word = callbacks.exchange(Self.noCallbacks, ordering: .acquiring)
        if word > Self.closedMark { Unmanaged<CancelCallbackNode>.fromOpaque(pointer(word)).release() }
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
