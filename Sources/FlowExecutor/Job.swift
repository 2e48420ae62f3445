/// How urgently a closure should run.
///
/// `high` runs before `normal` and `low` when several wait; `low` runs when
/// nothing else waits, and at least once every 127 scheduling ticks of a
/// worker even under a flood of other work, so it is never starved forever.
public enum Priority: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case low, normal, high

    public static func < (a: Priority, b: Priority) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .low: "low"
        case .normal: "normal"
        case .high: "high"
        }
    }

    /// Swift's task priorities mapped onto Flow's three levels: above
    /// `.medium` is high, below it low, `.medium` and unspecified normal.
    init(_ job: JobPriority) {
        let medium = TaskPriority.medium.rawValue
        if job.rawValue == 0 || job.rawValue == medium { self = .normal }
        else if job.rawValue > medium { self = .high }
        else { self = .low }
    }
}

/// A submitted closure, boxed so one word can stand for it in a worker's
/// deque (which holds words only, DESIGN decision 2), or because it carries
/// a name. The box is plain memory (`UnsafeMutablePointer<ClosureBox>`,
/// see `JobWord`), not an object: filling and emptying it costs no
/// reference counting of the box, and the closure moves in and out with
/// `swap` (no retain or release of its context either).
///
/// Boxes are recycled through a per-worker free list (owner thread only),
/// so a closure submitted from inside the pool costs no allocation beyond
/// its own context. A box is touched by one thread at a time: the
/// submitter fills it before the push that publishes it, the worker that
/// took its word empties and recycles it.
struct ClosureBox {
    /// The closure; empty while the box sits in a free list.
    var body: JobBody
    var name: String?
    /// A function job instead of a closure (`Executor.submit(context:argument:_:)`).
    var function: FunctionJob? = nil
}

/// `function(context, argument)`: a job without a closure, so without a
/// closure context to allocate. The executor neither retains nor frees
/// `context`.
struct FunctionJob {
    let function: @convention(c) (UnsafeMutableRawPointer?, UInt) -> Void
    let context: UnsafeMutableRawPointer?
    let argument: UInt

    @inline(__always) func run() { function(context, argument) }
}

/// An optional closure in a struct of its own: swapped between a ring's
/// job and a box by the generic `swap`, a struct moves as it is, where a
/// bare function value would be converted to the generic representation and
/// back (two thunk allocations per swap).
struct JobBody: Sendable {
    var closure: (@Sendable () -> Void)?

    static var empty: JobBody { JobBody(closure: nil) }
    var isEmpty: Bool { closure == nil }

    /// Runs the closure, if any, and releases it (moved out first: no retain).
    @inline(__always)
    mutating func run() {
        var taken = JobBody.empty
        swap(&taken, &self)
        taken.closure?()
    }
}

/// A unit of work in the shared rings (central shards, high, low, affinity
/// inboxes). Vyukov rings own each cell exclusively between two sequence
/// numbers, so they may hold any value (DESIGN decision 2): an unnamed
/// closure travels as itself, with no box (the outside fast path: nothing
/// to allocate or recycle beyond the closure's own context); everything
/// else as a job word. 24 bytes, a 32-byte ring cell. A struct rather than
/// an enum so the closure can be moved out (`body.take()`) without the
/// retain and release that binding an enum payload costs.
struct QueuedJob: Sendable {
    /// The closure of an unnamed closure job; empty when `word` is the job.
    var body: JobBody
    /// A JobWord (owned by whoever holds the QueuedJob) when `body` is nil.
    var word: UInt

    @inline(__always)
    static func closure(_ body: consuming @escaping @Sendable () -> Void) -> QueuedJob {
        QueuedJob(body: JobBody(closure: body), word: 0)
    }

    @inline(__always)
    static func word(_ word: UInt) -> QueuedJob { QueuedJob(body: .empty, word: word) }
}

/// One word per unit of work in the deques (DESIGN decision 2): a
/// `ClosureBox` pointer (low bit 0) or a Swift `UnownedJob` (low bit 1).
/// Both are allocations aligned to at least 8 bytes, so the low bit is free.
/// Whoever takes the word out of a queue owns it and must run it exactly once.
enum JobWord {
    static let swiftTag: UInt = 1

    /// A new, empty box (freed with `free`).
    @inline(never)
    static func allocateBox() -> UInt {
        let box = UnsafeMutablePointer<ClosureBox>.allocate(capacity: 1)
        box.initialize(to: ClosureBox(body: .empty, name: nil))
        return UInt(bitPattern: box)
    }

    /// Moves the closure of `job` (an unnamed closure job) into the empty
    /// box `word`, with `name`; returns `word`. `job` is left empty.
    @inline(__always)
    static func box(_ job: inout QueuedJob?, name: String?, in word: UInt) -> UInt {
        swap(&box(word).pointee.body, &job!.body)
        if name != nil { box(word).pointee.name = name }
        return word
    }

    /// Puts `function` into the empty box `word`; returns `word`.
    @inline(__always)
    static func box(_ function: FunctionJob, in word: UInt) -> UInt {
        box(word).pointee.function = function
        return word
    }

    /// Frees a box and whatever it still holds.
    static func free(_ word: UInt) {
        let box = box(word)
        box.deinitialize(count: 1)
        box.deallocate()
    }

    @inline(__always)
    static func box(_ word: UInt) -> UnsafeMutablePointer<ClosureBox> {
        UnsafeMutablePointer(bitPattern: word).unsafelyUnwrapped
    }

    @inline(__always)
    static func make(_ job: UnownedJob) -> UInt {
        let bits = unsafeBitCast(job, to: UInt.self)
        assert(bits & swiftTag == 0, "UnownedJob pointer is not 2-byte aligned")
        return bits | swiftTag
    }

    @inline(__always)
    static func isSwiftJob(_ word: UInt) -> Bool { word & swiftTag != 0 }

    @inline(__always)
    static func swiftJob(_ word: UInt) -> UnownedJob {
        unsafeBitCast(word & ~swiftTag, to: UnownedJob.self)
    }

    /// Reads the closure's name without taking ownership.
    static func peekName(_ word: UInt) -> String? {
        if isSwiftJob(word) { return nil }
        return box(word).pointee.name
    }
}
