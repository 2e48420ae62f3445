/// What happened to a node in a run.
public enum NodeState: Sendable, Equatable, CustomStringConvertible {
    /// Not run (the run has not reached it: only seen in a run that ended early by throwing).
    case pending
    /// The body returned a value.
    case succeeded
    /// The body threw (or a node timed out); see `GraphRun.failures`.
    case failed
    /// Not run because a node it runs after failed or was not run
    /// (the `.continue` policy runs everything else).
    case skipped
    /// Not run because the run was cancelled: by the caller's task, or by
    /// the first failure under `.failFast`.
    case cancelled

    public var description: String {
        switch self {
        case .pending: "pending"
        case .succeeded: "succeeded"
        case .failed: "failed"
        case .skipped: "skipped"
        case .cancelled: "cancelled"
        }
    }

    static let codeMask: UInt8 = 0x07
    static let hasValue: UInt8 = 0x40   // the output slot was written
    static let released: UInt8 = 0x80   // ... and since moved out or destroyed

    init(code: UInt8) {
        switch code & NodeState.codeMask {
        case 1: self = .succeeded
        case 2: self = .failed
        case 3: self = .skipped
        case 4: self = .cancelled
        default: self = .pending
        }
    }

    var code: UInt8 {
        switch self {
        case .pending: 0
        case .succeeded: 1
        case .failed: 2
        case .skipped: 3
        case .cancelled: 4
        }
    }
}
