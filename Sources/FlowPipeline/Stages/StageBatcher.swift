import FlowAtomics

/// Counters of a ``StageBatcher``.
///
/// Invariant after ``StageBatcher/wait()``: `received == emitted + forwarded + dropped`.
public struct StageBatcherStats: Sendable, Equatable {
    /// Results consumed from the upstream.
    public var received: Int64 = 0
    /// Successful items delivered inside batches.
    public var emitted: Int64 = 0
    /// Upstream failures delivered downstream.
    public var forwarded: Int64 = 0
    /// Items lost to cancellation (including a partial batch).
    public var dropped: Int64 = 0
    /// Items in the partial batch now.
    public var bufferedDepth: Int = 0
    /// Weight of the partial batch now (weighted batches only).
    public var bufferedWeight: Int = 0
    /// Batches delivered.
    public var batchCount: Int64 = 0
    /// Time spent waiting for room in the output.
    public var outputBlockedTime: Duration = .zero
    /// All zero.
    public init() {}
}

/// Groups the successes of an upstream into batches (see ``batch(from:size:outputCapacity:)``
/// and ``weightedBatch(from:threshold:outputCapacity:weight:)``).
///
/// A failure is a batch boundary: the partial batch is flushed, the failure
/// forwarded, and a new batch starts. The batcher reads its upstream to the
/// end even after ``cancel()``, dropping (and counting) what it reads.
public final class StageBatcher<Element: Sendable>: Sendable {
    @usableFromInline let core = StageOperatorCore(StageBatcherStats())
    @usableFromInline let output: StageOutput<Result<[Element], any Error>>
    @usableFromInline let limit: Int
    @usableFromInline let weight: (@Sendable (Element) -> Int)?

    @inlinable init(limit: Int, outputCapacity: Int, weight: (@Sendable (Element) -> Int)?) {
        self.limit = limit
        self.weight = weight
        output = StageOutput(capacity: outputCapacity)
    }

    /// The batches and forwarded failures; ends once the upstream ended.
    @inlinable public var results: StageResults<Result<[Element], any Error>> { StageResults(output: output) }

    /// A consistent snapshot of the counters; final after ``wait()``.
    public var stats: StageBatcherStats { core.stats }

    /// Stops delivering: a blocked delivery fails, the partial batch and
    /// every later item are dropped (and counted); the upstream is still read to its end.
    public func cancel() {
        if core.markCancelled() { output.abort() }
    }

    /// Waits until the upstream ended and the results were finished. Returns
    /// `CancellationError` if cancellation dropped something, else nil.
    public func wait() async -> (any Error)? { await core.wait() }

    @inlinable func run(_ upstream: some AsyncSequence<Result<Element, any Error>, Never>) async {
        var batch: [Element] = []
        if weight == nil { batch.reserveCapacity(min(limit, 4096)) }
        var batchWeight = 0
        var discarding = false

        func discard(_ n: Int) {
            if !discarding { core.noteCancelObserved() }
            discarding = true
            _ = core.update { $0.dropped += Int64(n); $0.bufferedDepth = 0; $0.bufferedWeight = 0 }
        }

        func flush() async {
            guard !batch.isEmpty else { return }
            let n = batch.count
            let full = batch
            batch = []
            // A count-bounded batch is filled to `limit` (the last one aside):
            // reserve it once instead of growing through 1, 2, 4, 8, ...
            if weight == nil { batch.reserveCapacity(min(limit, 4096)) }
            batchWeight = 0
            if core.isCancelled { discard(n); return }
            let (delivered, blocked) = await output.send(.success(full))
            if delivered {
                _ = core.update {
                    $0.emitted += Int64(n); $0.batchCount += 1; $0.bufferedDepth = 0; $0.bufferedWeight = 0
                    $0.outputBlockedTime += .stageNanoseconds(blocked)
                }
            } else {
                discard(n)
            }
        }

        for await element in upstream {
            // One lock round trip per item: count it and, for a success
            // that will join the batch, publish the new partial-batch gauges.
            var w = 0
            if !discarding, case let .success(item) = element, let weight {
                w = weight(item)
                precondition(w >= 0, "weightedBatch: the weight function returned \(w); weights must be ≥ 0")
            }
            let isSuccess: Bool = { if case .success = element { return true } else { return false } }()
            let depth = batch.count + 1, total = batchWeight + w, publish = isSuccess && !discarding
            let cancelled = core.update {
                $0.received += 1
                if publish { $0.bufferedDepth = depth; $0.bufferedWeight = total }
            }
            if discarding || cancelled {
                if !batch.isEmpty { discard(batch.count); batch = [] }
                discard(1)
                continue
            }
            switch element {
            case let .success(item):
                batch.append(item)
                batchWeight += w
                if batch.count >= limit || (weight != nil && batchWeight >= limit) { await flush() }
            case let .failure(error):
                await flush()
                if discarding { discard(1); continue }
                let (delivered, blocked) = await output.send(.failure(error))
                if delivered {
                    _ = core.update { $0.forwarded += 1; $0.outputBlockedTime += .stageNanoseconds(blocked) }
                } else {
                    discard(1)
                }
            }
        }
        if discarding || core.isCancelled {
            if !batch.isEmpty { discard(batch.count) }
        } else {
            await flush()
        }
        output.finish()
        core.finish()
    }
}

/// Batches the successes of `upstream` into arrays of `size` items (the
/// last may be shorter). Failures flush the partial batch and pass through.
/// Throws ``FlowError`` for `size` < 1 or `outputCapacity` < 1.
@inlinable public func batch<Element: Sendable>(
    from upstream: some AsyncSequence<Result<Element, any Error>, Never> & Sendable,
    size: Int,
    outputCapacity: Int = 1
) throws(FlowError) -> StageBatcher<Element> {
    if size < 1 { throw .invalid("size", size, "must be ≥ 1") }
    if outputCapacity < 1 { throw .invalid("outputCapacity", outputCapacity, "must be ≥ 1") }
    let batcher = StageBatcher<Element>(limit: size, outputCapacity: outputCapacity, weight: nil)
    Task { await batcher.run(upstream) }
    return batcher
}

/// Batches the successes of `upstream`, flushing when the accumulated
/// `weight` or the item count reaches `threshold` (the count bound stops
/// zero-weight items from piling up). Failures flush and pass through.
/// `weight` must return values ≥ 0 (a negative weight is a precondition failure).
/// Throws ``FlowError`` for `threshold` < 1 or `outputCapacity` < 1.
@inlinable public func weightedBatch<Element: Sendable>(
    from upstream: some AsyncSequence<Result<Element, any Error>, Never> & Sendable,
    threshold: Int,
    outputCapacity: Int = 1,
    weight: @escaping @Sendable (Element) -> Int
) throws(FlowError) -> StageBatcher<Element> {
    if threshold < 1 { throw .invalid("threshold", threshold, "must be ≥ 1") }
    if outputCapacity < 1 { throw .invalid("outputCapacity", outputCapacity, "must be ≥ 1") }
    let batcher = StageBatcher<Element>(limit: threshold, outputCapacity: outputCapacity, weight: weight)
    Task { await batcher.run(upstream) }
    return batcher
}
