/// The error every Flow layer throws for configuration that is wrong at run
/// time, and for refused or failed work.
///
/// Each case names what was wrong so a message can be acted on without a
/// debugger: `invalidArgument` carries the parameter's name and the value
/// that was given, `rejected` says which operation refused and why.
///
/// ```swift
/// do { _ = try MPMCQueue<Int>(capacity: 3) }
/// catch let error as FlowError { print(error) }
/// // invalid argument capacity = 3: must be a power of two, at least 2
/// ```
public enum FlowError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A parameter had a value the API cannot accept.
    case invalidArgument(parameter: String, value: String, reason: String)
    /// An operation was refused: for example a submit after shutdown.
    case rejected(operation: String, reason: String)
    /// A wait or an activity went past its time limit.
    case timedOut(what: String, after: Duration)
    /// A cycle was found; the names are the nodes on it, in order.
    case cycle([String])

    /// Builds `invalidArgument` from any value, rendering it with `String(describing:)`.
    public static func invalid(_ parameter: String, _ value: some Any, _ reason: String) -> FlowError {
        .invalidArgument(parameter: parameter, value: String(describing: value), reason: reason)
    }

    public var description: String {
        switch self {
        case let .invalidArgument(parameter, value, reason):
            return "invalid argument \(parameter) = \(value): \(reason)"
        case let .rejected(operation, reason):
            return "\(operation) rejected: \(reason)"
        case let .timedOut(what, after):
            return "\(what) timed out after \(after)"
        case let .cycle(names):
            return "cycle: \((names + names.prefix(1)).joined(separator: " -> "))"
        }
    }
}
