import FlowAtomics

/// Counters of a ``StageMerge``; aggregates are sums of the per-source arrays.
///
/// Invariants after ``StageMerge/wait()``: `received == forwarded + dropped`,
/// and per source `sourceReceived[i] == sourceForwarded[i] + sourceDropped[i]`.
public struct StageMergeStats: Sendable, Equatable {
    /// Per source (index = position in the `merge` argument): results consumed.
    public var sourceReceived: [Int64]
    /// Per source: results delivered to the output.
    public var sourceForwarded: [Int64]
    /// Per source: results dropped after cancellation.
    public var sourceDropped: [Int64]
    /// Totals over the sources.
    public var received: Int64 { sourceReceived.reduce(0, +) }
    public var forwarded: Int64 { sourceForwarded.reduce(0, +) }
    public var dropped: Int64 { sourceDropped.reduce(0, +) }
    init(sources: Int) {
        sourceReceived = Array(repeating: 0, count: sources)
        sourceForwarded = Array(repeating: 0, count: sources)
        sourceDropped = Array(repeating: 0, count: sources)
    }
}

/// A nondeterministic fan-in: one task per source forwards into one output.
/// Each source's order is kept; there is no order across sources. See ``merge(_:outputCapacity:)``.
public final class StageMerge<Element: Sendable>: Sendable {
    let core: StageOperatorCore<StageMergeStats>
    let output: StageOutput<Result<Element, any Error>>
    private let remaining: Locked<Int>  // sources still being read

    init(sources: Int, outputCapacity: Int) {
        core = StageOperatorCore(StageMergeStats(sources: sources))
        output = StageOutput(capacity: outputCapacity)
        remaining = Locked(sources)
    }

    /// The merged results; ends once every source ended.
    public var results: StageResults<Result<Element, any Error>> { StageResults(output: output) }

    /// A consistent snapshot of the counters; final after ``wait()``.
    public var stats: StageMergeStats { core.stats }

    /// Stops forwarding (blocked deliveries fail); every source is still read to its end.
    public func cancel() {
        if core.markCancelled() { output.abort() }
    }

    /// Waits until every source ended and the output was finished. Returns
    /// `CancellationError` if cancellation dropped something, else nil.
    public func wait() async -> (any Error)? { await core.wait() }

    func run(source index: Int, _ upstream: some AsyncSequence<Result<Element, any Error>, Never>) async {
        var discarding = false
        for await element in upstream {
            let cancelled = core.update { $0.sourceReceived[index] += 1 }
            var delivered = false
            if !discarding && !cancelled {
                delivered = await output.send(element).delivered
            }
            if delivered {
                _ = core.update { $0.sourceForwarded[index] += 1 }
            } else {
                if !discarding { core.noteCancelObserved() }
                discarding = true
                _ = core.update { $0.sourceDropped[index] += 1 }
            }
        }
        let last = remaining.withLock { n -> Bool in
            n -= 1
            return n == 0
        }
        if last {
            output.finish()
            core.finish()
        }
    }
}

/// Merges `sources` into one sequence of results (fan-in). Each source is
/// read to its end by its own task, also after cancellation.
/// Throws ``FlowError`` for an empty `sources` or `outputCapacity` < 1.
public func merge<Element: Sendable, Source: AsyncSequence<Result<Element, any Error>, Never> & Sendable>(
    _ sources: [Source],
    outputCapacity: Int = 1
) throws(FlowError) -> StageMerge<Element> {
    if sources.isEmpty { throw .invalid("sources", "[]", "merge needs at least one source") }
    if outputCapacity < 1 { throw .invalid("outputCapacity", outputCapacity, "must be ≥ 1") }
    let merged = StageMerge<Element>(sources: sources.count, outputCapacity: outputCapacity)
    for (i, source) in sources.enumerated() {
        Task { await merged.run(source: i, source) }
    }
    return merged
}
