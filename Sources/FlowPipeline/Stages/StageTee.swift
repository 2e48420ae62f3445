import FlowAtomics

/// Counters of a ``StageTee``.
///
/// Invariant after ``StageTee/wait()``:
/// `received == fullyDelivered + partiallyDelivered + undelivered`
/// (`partiallyDelivered` is at most 1: after an interrupted delivery the tee discards).
public struct StageTeeStats: Sendable, Equatable {
    /// Results consumed from the upstream.
    public var received: Int64 = 0
    /// Results delivered to every branch.
    public var fullyDelivered: Int64 = 0
    /// Results delivered to some branches before cancellation.
    public var partiallyDelivered: Int64 = 0
    /// Results delivered to no branch (cancellation).
    public var undelivered: Int64 = 0
    /// Per branch: results delivered.
    public var branchDelivered: [Int64]
    /// Per branch: time spent waiting for room in that branch.
    public var branchBlockedTime: [Duration]
    init(branches: Int) {
        branchDelivered = Array(repeating: 0, count: branches)
        branchBlockedTime = Array(repeating: .zero, count: branches)
    }
}

/// A lockstep broadcast: each upstream result goes to branch 0, then 1, …;
/// the slowest branch sets the pace. Payloads are not copied: reference
/// payloads are shared by the branches. See ``tee(from:branches:outputCapacity:)``.
public final class StageTee<Element: Sendable>: Sendable {
    let core: StageOperatorCore<StageTeeStats>
    let outputs: [StageOutput<Result<Element, any Error>>]

    init(branches: Int, outputCapacity: Int) {
        core = StageOperatorCore(StageTeeStats(branches: branches))
        outputs = (0..<branches).map { _ in StageOutput(capacity: outputCapacity) }
    }

    /// The branches' results; every branch must be read to its end (or the tee cancelled).
    public var branches: [StageResults<Result<Element, any Error>>] { outputs.map { StageResults(output: $0) } }

    /// A consistent snapshot of the counters; final after ``wait()``.
    public var stats: StageTeeStats { core.stats }

    /// Stops delivering (blocked deliveries fail); the upstream is still read to its end.
    public func cancel() {
        if core.markCancelled() { for output in outputs { output.abort() } }
    }

    /// Waits until the upstream ended and every branch was finished. Returns
    /// `CancellationError` if cancellation dropped something, else nil.
    public func wait() async -> (any Error)? { await core.wait() }

    func run(_ upstream: some AsyncSequence<Result<Element, any Error>, Never>) async {
        var discarding = false
        for await element in upstream {
            let cancelled = core.update { $0.received += 1 }
            if discarding || cancelled {
                if !discarding { core.noteCancelObserved() }
                discarding = true
                _ = core.update { $0.undelivered += 1 }
                continue
            }
            var delivered = 0
            for (i, output) in outputs.enumerated() {
                let (ok, blocked) = await output.send(element)
                guard ok else { break }
                delivered += 1
                _ = core.update {
                    $0.branchDelivered[i] += 1
                    $0.branchBlockedTime[i] += .stageNanoseconds(blocked)
                }
            }
            if delivered == outputs.count {
                _ = core.update { $0.fullyDelivered += 1 }
            } else {
                core.noteCancelObserved()
                discarding = true
                let n = delivered
                _ = core.update { if n == 0 { $0.undelivered += 1 } else { $0.partiallyDelivered += 1 } }
            }
        }
        for output in outputs { output.finish() }
        core.finish()
    }
}

/// Broadcasts every result of `upstream` to `branches` outputs in lockstep.
/// Throws ``FlowError`` for `branches` < 1 or `outputCapacity` < 1.
public func tee<Element: Sendable>(
    from upstream: some AsyncSequence<Result<Element, any Error>, Never> & Sendable,
    branches: Int,
    outputCapacity: Int = 1
) throws(FlowError) -> StageTee<Element> {
    if branches < 1 { throw .invalid("branches", branches, "must be ≥ 1") }
    if outputCapacity < 1 { throw .invalid("outputCapacity", outputCapacity, "must be ≥ 1") }
    let tee = StageTee<Element>(branches: branches, outputCapacity: outputCapacity)
    Task { await tee.run(upstream) }
    return tee
}
