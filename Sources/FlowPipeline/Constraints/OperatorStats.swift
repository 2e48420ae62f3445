// The operators (batch, merge, tee, join) keep their own stats; these views
// express them as StageStats so that a topology can include them. An
// operator runs no body, so its service time is zero (it is never the
// constraint), but the time it waits to hand items on is output-blocked
// time: evidence against the stage after it.

extension StageBatcherStats {
    /// As stage stats: received → `received`, items emitted in batches →
    /// `submitted`, batches → `completed`, forwarded and dropped as they are,
    /// the partial batch → `bufferedDepth`, and the output-blocked time.
    public var stageStats: StageStats {
        var s = StageStats()
        s.received = received
        s.submitted = emitted
        s.completed = batchCount
        s.forwarded = forwarded
        s.dropped = dropped
        s.bufferedDepth = bufferedDepth
        s.outputBlockedTime = outputBlockedTime
        s.targetWorkers = 1
        s.activeWorkers = 1
        return s
    }
}

extension StageMergeStats {
    /// As stage stats: received → `received` and `submitted`, forwarded →
    /// `completed` and `forwarded`, dropped as it is.
    public var stageStats: StageStats {
        var s = StageStats()
        s.received = received
        s.submitted = received
        s.completed = forwarded
        s.forwarded = forwarded
        s.dropped = dropped
        s.targetWorkers = 1
        s.activeWorkers = 1
        return s
    }
}

extension StageTeeStats {
    /// As stage stats: received → `received` and `submitted`, fully delivered
    /// → `completed`, partially and not delivered → `dropped`, the branches'
    /// blocked times added up → `outputBlockedTime`.
    public var stageStats: StageStats {
        var s = StageStats()
        s.received = received
        s.submitted = received
        s.completed = fullyDelivered
        s.dropped = partiallyDelivered + undelivered
        s.outputBlockedTime = branchBlockedTime.reduce(.zero, +)
        s.targetWorkers = 1
        s.activeWorkers = 1
        return s
    }
}

extension StageJoinStats {
    /// As stage stats: items received from both sides → `received` and
    /// `submitted`, results (combined or failed) → `completed`, failed
    /// results → `failed`, and the output-blocked time.
    public var stageStats: StageStats {
        var s = StageStats()
        s.received = receivedA + receivedB
        s.submitted = receivedA + receivedB
        s.completed = combined + errors
        s.failed = errors
        s.outputBlockedTime = outputBlockedTime
        s.targetWorkers = 1
        s.activeWorkers = 1
        return s
    }
}

extension PipelineTopology {
    /// Registers a batcher under `name` (its stats seen through ``StageBatcherStats/stageStats``).
    public mutating func addStage<Element>(_ name: String, _ batcher: StageBatcher<Element>) {
        addStage(name, stats: { batcher.stats.stageStats })
    }

    /// Registers a merge under `name` (its stats seen through ``StageMergeStats/stageStats``).
    public mutating func addStage<Element>(_ name: String, _ merge: StageMerge<Element>) {
        addStage(name, stats: { merge.stats.stageStats })
    }

    /// Registers a tee under `name` (its stats seen through ``StageTeeStats/stageStats``).
    public mutating func addStage<Element>(_ name: String, _ tee: StageTee<Element>) {
        addStage(name, stats: { tee.stats.stageStats })
    }

    /// Registers a join under `name` (its stats seen through ``StageJoinStats/stageStats``).
    public mutating func addStage<A, B, Output>(_ name: String, _ join: StageJoin<A, B, Output>) {
        addStage(name, stats: { join.stats.stageStats })
    }
}
