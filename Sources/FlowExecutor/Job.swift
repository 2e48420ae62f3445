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
/// a name.
///
/// Boxes are recycled through a per-worker free list (owner thread only),
/// so a closure submitted from inside the pool costs no allocation beyond
/// its own context. A box is touched by one thread at a time: the
/// submitter fills it before the push that publishes it, the worker that
/// took its word empties and recycles it — hence the unchecked exclusivity.
final class ClosureJob {
    @exclusivity(unchecked) var body: @Sendable () -> Void
    @exclusivity(unchecked) var name: String?

    init(name: String?, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}

/// A unit of work in the shared rings (central shards, high, low, affinity
/// inboxes). Vyukov rings own each cell exclusively between two sequence
/// numbers, so they may hold any value (DESIGN decision 2): an unnamed
/// closure travels as itself, with no box (the outside fast path: nothing
/// to allocate or recycle beyond the closure's own context); everything
/// else as a job word. 17 bytes, a 32-byte ring cell.
enum QueuedJob: Sendable {
    case closure(@Sendable () -> Void)
    case word(UInt)   // a JobWord, owned by whoever holds the QueuedJob
}

/// One word per unit of work in the deques (DESIGN decision 2): a retained
/// `ClosureJob` pointer (low bit 0) or a Swift `UnownedJob` (low bit 1).
/// Both are heap objects aligned to at least 8 bytes, so the low bit is free.
/// Whoever takes the word out of a queue owns it and must run it exactly once.
enum JobWord {
    static let swiftTag: UInt = 1

    @inline(__always)
    static func make(_ job: ClosureJob) -> UInt {
        UInt(bitPattern: Unmanaged.passRetained(job).toOpaque())
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

    /// Takes ownership of the closure job back (balances `make`).
    @inline(__always)
    static func closureJob(_ word: UInt) -> ClosureJob {
        Unmanaged<ClosureJob>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeRetainedValue()
    }

    /// Reads the closure job's name without taking ownership.
    static func peekName(_ word: UInt) -> String? {
        if isSwiftJob(word) { return nil }
        return Unmanaged<ClosureJob>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeUnretainedValue().name
    }
}
