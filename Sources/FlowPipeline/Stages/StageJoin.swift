import FlowAtomics

/// Counters of a ``StageJoin``.
///
/// Invariants after ``StageJoin/wait()``: `receivedA == combined + discardedA + extraA`,
/// `receivedB == combined + discardedB + extraB`, `combined + errors <= 1`.
public struct StageJoinStats: Sendable, Equatable {
    /// Results consumed from source A / B.
    public var receivedA: Int64 = 0
    public var receivedB: Int64 = 0
    /// Successful combinations delivered (0 or 1).
    public var combined: Int64 = 0
    /// Error results delivered (0 or 1).
    public var errors: Int64 = 0
    /// First items consumed but not part of a delivered combination
    /// (an error on either side, a missing side, a throwing combiner, cancellation).
    public var discardedA: Int64 = 0
    public var discardedB: Int64 = 0
    /// Items after the first, drained and dropped (a contract violation upstream).
    public var extraA: Int64 = 0
    public var extraB: Int64 = 0
    /// Time spent waiting for room in the output.
    public var outputBlockedTime: Duration = .zero
    /// All zero.
    public init() {}
}

/// Recombines two branches: the first result of each side makes one output
/// result, then both sources are drained. See ``join(_:_:_:)``.
public final class StageJoin<A: Sendable, B: Sendable, Output: Sendable>: Sendable {
    private enum Side<Value: Sendable>: Sendable {
        case pending
        case first(Result<Value, any Error>)
        case missing

        var isPending: Bool { if case .pending = self { return true } else { return false } }
        var isPresent: Bool { if case .first = self { return true } else { return false } }
    }

    private struct Decision: Sendable {
        var a: Side<A> = .pending
        var b: Side<B> = .pending
        var remaining = 2
    }

    let core = StageOperatorCore(StageJoinStats())
    let output = StageOutput<Result<Output, any Error>>(capacity: 1)
    private let decision = Locked(Decision())
    private let combine: @Sendable (A, B) throws -> Output

    init(_ combine: @escaping @Sendable (A, B) throws -> Output) { self.combine = combine }

    /// At most one result; ends once both sources ended.
    public var results: StageResults<Result<Output, any Error>> { StageResults(output: output) }

    /// A consistent snapshot of the counters; final after ``wait()``.
    public var stats: StageJoinStats { core.stats }

    /// Stops delivering (a blocked delivery fails; consumed first items are
    /// discarded); both sources are still drained.
    public func cancel() {
        if core.markCancelled() { output.abort() }
    }

    /// Waits until both sources ended and the output was finished. Returns
    /// `CancellationError` if cancellation was observed, else nil.
    public func wait() async -> (any Error)? { await core.wait() }

    func runA(_ upstream: some AsyncSequence<Result<A, any Error>, Never>) async {
        await run(isA: true, upstream) { d, first in d.a = first.map { .first($0) } ?? .missing }
    }

    func runB(_ upstream: some AsyncSequence<Result<B, any Error>, Never>) async {
        await run(isA: false, upstream) { d, first in d.b = first.map { .first($0) } ?? .missing }
    }

    private func run<Element>(
        isA: Bool, _ upstream: some AsyncSequence<Result<Element, any Error>, Never>,
        record: (inout Decision, Result<Element, any Error>?) -> Void
    ) async {
        var first = true
        for await element in upstream {
            if first {
                first = false
                _ = core.update { if isA { $0.receivedA += 1 } else { $0.receivedB += 1 } }
                await decide { record(&$0, element) }
            } else {
                _ = core.update {
                    if isA { $0.receivedA += 1; $0.extraA += 1 } else { $0.receivedB += 1; $0.extraB += 1 }
                }
            }
        }
        if first { await decide { record(&$0, nil) } }
        let last = decision.withLock { d -> Bool in
            d.remaining -= 1
            return d.remaining == 0
        }
        if last {
            output.finish()
            core.finish()
        }
    }

    /// Records one side's first item (or its absence); the side that
    /// completes the pair emits the result.
    private func decide(_ record: (inout Decision) -> Void) async {
        let pair = decision.withLock { d -> (Side<A>, Side<B>)? in
            record(&d)
            if d.a.isPending || d.b.isPending { return nil }
            return (d.a, d.b)
        }
        guard let (a, b) = pair else { return }
        let aPresent = a.isPresent, bPresent = b.isPresent
        func discardFirsts() {
            _ = core.update {
                if aPresent { $0.discardedA += 1 }
                if bPresent { $0.discardedB += 1 }
            }
        }
        let outcome: Result<Output, any Error>
        var success = false
        switch (a, b) {
        case (.missing, .missing):
            return
        case let (.first(.success(x)), .first(.success(y))):
            do {
                outcome = .success(try combine(x, y))
                success = true
            } catch {
                outcome = .failure(error)
            }
        case let (.first(.success), .first(.failure(e))), let (.first(.failure(e)), .first(.success)):
            outcome = .failure(e)
        case let (.first(.failure(ea)), .first(.failure(eb))):
            outcome = .failure(StageCombinedError([ea, eb]))
        case (.first(.success), .missing):
            outcome = .failure(StageError.missingResult(source: "B"))
        case (.missing, .first(.success)):
            outcome = .failure(StageError.missingResult(source: "A"))
        case let (.first(.failure(e)), .missing):
            outcome = .failure(StageCombinedError([e, StageError.missingResult(source: "B")]))
        case let (.missing, .first(.failure(e))):
            outcome = .failure(StageCombinedError([StageError.missingResult(source: "A"), e]))
        case (.pending, _), (_, .pending):
            preconditionFailure("StageJoin: decided with a pending side")
        }
        if core.isCancelled {
            core.noteCancelObserved()
            discardFirsts()
            return
        }
        let (delivered, blocked) = await output.send(outcome)
        if delivered {
            _ = core.update {
                $0.outputBlockedTime += .stageNanoseconds(blocked)
                if success { $0.combined += 1 } else { $0.errors += 1 }
            }
            if !success { discardFirsts() }
        } else {
            core.noteCancelObserved()
            discardFirsts()
        }
    }
}

/// Joins the first result of `a` with the first result of `b`:
///
/// | A | B | output |
/// |---|---|---|
/// | success x | success y | `combine(x, y)` (a thrown error becomes the failure) |
/// | success | failure e | e |
/// | failure e | success | e |
/// | failure ea | failure eb | ``StageCombinedError`` [ea, eb] |
/// | success | missing | ``StageError/missingResult(source:)`` "B" |
/// | missing | success | ``StageError/missingResult(source:)`` "A" |
/// | failure e | missing | ``StageCombinedError`` [e, missing "B"] |
/// | missing | failure e | ``StageCombinedError`` [missing "A", e] |
/// | missing | missing | no output |
///
/// Each source is drained to its end; items after the first are counted as
/// `extraA` / `extraB`. `combine` must be quick and synchronous (use a
/// downstream ``pipe(from:options:_:)`` for anything slow).
public func join<A: Sendable, B: Sendable, Output: Sendable>(
    _ a: some AsyncSequence<Result<A, any Error>, Never> & Sendable,
    _ b: some AsyncSequence<Result<B, any Error>, Never> & Sendable,
    _ combine: @escaping @Sendable (A, B) throws -> Output
) -> StageJoin<A, B, Output> {
    let joined = StageJoin<A, B, Output>(combine)
    Task { await joined.runA(a) }
    Task { await joined.runB(b) }
    return joined
}
