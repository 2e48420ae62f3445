/// What `Scope` does when a child fails.
public enum ScopeErrorPolicy: Sendable, Equatable {
    /// The first error cancels every other child and is rethrown by
    /// `withScope` (the default).
    case cancelOnFirstError
    /// Children keep running; `withScope` throws `ScopeErrors` with every
    /// error, in the order they happened.
    case collectAll
}

/// The errors of a scope run under `ScopeErrorPolicy.collectAll`.
public struct ScopeErrors: Error, CustomStringConvertible {
    /// Every child error, in the order they happened.
    public let errors: [any Error]

    public var description: String {
        "\(errors.count) child error(s): " + errors.map { String(describing: $0) }.joined(separator: "; ")
    }
}

/// The pure state machine of `Scope`: live children, join waiters,
/// errors, cancellation. The scope runs each step under its lock and
/// performs the returned action (cancelling tasks, resuming joiners) after
/// releasing it.
///
/// Invariants: `outstanding` counts children spawned and not yet ended;
/// `joiners` is non-empty only while `outstanding > 0`; once `cancelled`
/// it stays so.
struct ScopeState {
    private(set) var outstanding = 0
    private(set) var cancelled = false
    private(set) var errors: [any Error] = []
    /// Children that ended with a `CancellationError` (cut short, or never run).
    private(set) var endedByCancellation = 0
    /// Live children: `nil` until the spawner registered how to cancel it.
    private var children: [UInt64: (@Sendable () -> Void)?] = [:]
    /// Nested scopes (run inline by their caller, so not outstanding children).
    private var subscopes: [UInt64: @Sendable () -> Void] = [:]
    private var joiners: [Joiner] = []
    private var nextID: UInt64 = 0
    let policy: ScopeErrorPolicy

    init(policy: ScopeErrorPolicy) { self.policy = policy }

    /// A child is about to start; returns its id.
    mutating func childWillStart() -> UInt64 {
        nextID += 1
        outstanding += 1
        children[nextID] = .some(nil)
        return nextID
    }

    /// Stores how to cancel child `id`, unless it already ended. Returns
    /// true when the caller must cancel it at once (the scope is cancelled).
    mutating func register(_ id: UInt64, canceller: @escaping @Sendable () -> Void) -> Bool {
        if cancelled { return true }
        // A child that already ended is gone from `children`: nothing to keep.
        if children[id] != nil { children[id] = canceller }
        return false
    }

    /// Who waits for the children to end: a suspended `join()`, or a
    /// callback (`Scope.whenJoined`, for callers that cannot suspend).
    enum Joiner {
        case continuation(UnsafeContinuation<Void, Never>)
        case callback(@Sendable () -> Void)

        func resume() {
            switch self {
            case .continuation(let continuation): continuation.resume()
            case .callback(let callback): callback()
            }
        }
    }

    struct EndAction {
        var cancel: [@Sendable () -> Void] = []
        var resume: [Joiner] = []
    }

    /// Child `id` ended (with `error` if it threw). Cancellation errors do
    /// not count as failures: they are how cancelled children end.
    mutating func childDidEnd(_ id: UInt64, error: (any Error)?) -> EndAction {
        var action = EndAction()
        children[id] = nil
        if error is CancellationError {
            endedByCancellation += 1
        } else if let error {
            errors.append(error)
            if policy == .cancelOnFirstError && !cancelled {
                action.cancel = cancelAll()
            }
        }
        outstanding -= 1
        if outstanding == 0 {
            action.resume = joiners
            joiners = []
        }
        return action
    }

    /// Marks the scope cancelled; returns the cancellers of live children.
    mutating func cancelAll() -> [@Sendable () -> Void] {
        cancelled = true
        let all = children.values.compactMap { $0 } + subscopes.values
        children = [:]
        subscopes = [:]
        return all
    }

    /// Adds a nested scope; returns its id, or nil when this scope is
    /// cancelled (the caller then cancels the nested scope at once).
    mutating func addSubscope(canceller: @escaping @Sendable () -> Void) -> UInt64? {
        if cancelled { return nil }
        nextID += 1
        subscopes[nextID] = canceller
        return nextID
    }

    mutating func removeSubscope(_ id: UInt64) {
        subscopes[id] = nil
    }

    /// Queues a joiner; returns false (not queued) when nothing is outstanding.
    mutating func join(_ joiner: Joiner) -> Bool {
        if outstanding == 0 { return false }
        joiners.append(joiner)
        return true
    }

    /// The error `withScope` rethrows, if any.
    var failure: (any Error)? {
        guard !errors.isEmpty else { return nil }
        switch policy {
        case .cancelOnFirstError: return errors[0]
        case .collectAll: return ScopeErrors(errors: errors)
        }
    }
}
