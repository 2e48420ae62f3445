import FlowAtomics
import FlowExecutor

/// How a ``Stage`` is started: buffer, workers, WIP limits and error policy.
///
/// Total stage WIP (item count) is at most `capacity` (buffered) + `workers`
/// (in flight); ``maxWIP`` can lower it. Bad values make ``Stage/init(options:_:)``
/// throw a ``FlowError`` naming the field.
public struct StageOptions<Input>: Sendable {
    /// Items the input buffer holds beyond those being processed. 0 means a
    /// submit is admitted only when a worker slot is free. Must be ≥ 0.
    public var capacity: Int
    /// Concurrent body invocations. Must be ≥ 1. With 1, results keep submit order.
    public var workers: Int
    /// Admitted items (buffered + in flight) at most; 0 means `capacity + workers`.
    /// Clamped to 1…`capacity + workers`. Must be ≥ 0.
    public var maxWIP: Int
    /// Accumulated weight of admitted items at most; 0 disables the weight limit.
    /// An item heavier than the limit is rejected at once. Must be ≥ 0.
    public var maxWIPWeight: Int64
    /// The weight of an item (nil: every item weighs 1). Called on the submit
    /// path: keep it cheap and pure; it must return a value ≥ 0.
    public var weight: (@Sendable (Input) -> Int64)?
    /// When true, a body error becomes a failed result and the stage goes on;
    /// when false (the default) the first body error shuts the stage down (fail-fast).
    public var continueOnError: Bool
    /// Record every service time into a histogram (``StageStats/serviceTimeDistribution``).
    public var tracksServiceTimeDistribution: Bool
    /// Results buffered before workers block handing results to the consumer. Must be ≥ 1.
    public var outputCapacity: Int
    /// The executor the workers run on (nil: the global concurrent executor).
    public var executor: Executor?

    /// Options with the seed's defaults: unbuffered input, one worker
    /// (results in submit order), WIP = capacity + workers, no weight limit, fail-fast.
    public init(
        capacity: Int = 0,
        workers: Int = 1,
        maxWIP: Int = 0,
        maxWIPWeight: Int64 = 0,
        weight: (@Sendable (Input) -> Int64)? = nil,
        continueOnError: Bool = false,
        tracksServiceTimeDistribution: Bool = false,
        outputCapacity: Int = 16,
        executor: Executor? = nil
    ) {
        self.capacity = capacity
        self.workers = workers
        self.maxWIP = maxWIP
        self.maxWIPWeight = maxWIPWeight
        self.weight = weight
        self.continueOnError = continueOnError
        self.tracksServiceTimeDistribution = tracksServiceTimeDistribution
        self.outputCapacity = outputCapacity
        self.executor = executor
    }

    @usableFromInline func validate() throws(FlowError) {
        if capacity < 0 { throw .invalid("capacity", capacity, "must be ≥ 0") }
        if workers < 1 { throw .invalid("workers", workers, "must be ≥ 1") }
        if maxWIP < 0 { throw .invalid("maxWIP", maxWIP, "must be ≥ 0 (0 means capacity + workers)") }
        if maxWIPWeight < 0 { throw .invalid("maxWIPWeight", maxWIPWeight, "must be ≥ 0 (0 disables it)") }
        if outputCapacity < 1 { throw .invalid("outputCapacity", outputCapacity, "must be ≥ 1") }
    }
}

/// Errors the stage family reports on its own (body errors pass through unchanged).
public enum StageError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `submit` after `closeInput()`, fail-fast or cancellation; also a blocked
    /// submit released by one of those.
    case closed
    /// The item's weight is above the current `maxWIPWeight`; it was never admitted.
    case weightExceedsLimit(weight: Int64, limit: Int64)
    /// `setWorkers` on a stage that is stopping or stopped.
    case stopping
    /// A join source ended without an item; `source` is "A" or "B".
    case missingResult(source: String)

    public var description: String {
        switch self {
        case .closed: return "stage closed"
        case let .weightExceedsLimit(weight, limit): return "item weight \(weight) exceeds maxWIPWeight \(limit)"
        case .stopping: return "stage is stopping"
        case let .missingResult(source): return "join source \(source) ended without a result"
        }
    }
}

/// Several errors at once (a join whose both sides failed, or failed and went missing).
public struct StageCombinedError: Error, Sendable, CustomStringConvertible {
    /// The errors, side A first.
    public let errors: [any Error]
    /// Wraps `errors`, side A first.
    public init(_ errors: [any Error]) { self.errors = errors }
    public var description: String { errors.map { "\($0)" }.joined(separator: "; ") }
}

/// How a stage ended, latched once when its last worker finished.
public enum StageCause: Sendable, CustomStringConvertible {
    /// Every admitted item went through (or `continueOnError` and no cancellation).
    case completed
    /// The first body error, which shut the stage down (fail-fast).
    case failed(any Error)
    /// ``Stage/cancel()`` was called before any fail-fast error.
    case cancelled

    /// The fail-fast error, if that is how the stage ended.
    public var error: (any Error)? {
        if case let .failed(error) = self { return error }
        return nil
    }

    /// Whether the stage completed / was cancelled.
    public var isCompleted: Bool { if case .completed = self { return true } else { return false } }
    public var isCancelled: Bool { if case .cancelled = self { return true } else { return false } }

    public var description: String {
        switch self {
        case .completed: return "completed"
        case let .failed(error): return "failed(\(error))"
        case .cancelled: return "cancelled"
        }
    }
}
