import FlowAtomics

/// The thresholds a ``ConstraintAnalyzer`` judges stages by.
public struct ConstraintCriteria: Sendable, Equatable {
    /// Utilisation from which a stage counts as saturated (0 < x ≤ 1; default 0.75).
    public let saturation: Double
    /// Idle fraction above which the constraint counts as starving (0…1; default 0.1).
    public let starvation: Double
    /// Zones of input buffers.
    public let zones: BufferZones

    /// Throws ``FlowError`` naming a threshold out of range.
    public init(saturation: Double = 0.75, starvation: Double = 0.1, zones: BufferZones = .standard) throws(FlowError) {
        guard saturation.isFinite, saturation > 0, saturation <= 1 else {
            throw .invalid("saturation", saturation, "must be in (0, 1]")
        }
        guard starvation.isFinite, starvation >= 0, starvation <= 1 else {
            throw .invalid("starvation", starvation, "must be in 0...1")
        }
        self.saturation = saturation
        self.starvation = starvation
        self.zones = zones
    }

    /// Saturation 0.75, starvation 0.1, zones ⅓ / ⅔.
    public static let standard = try! ConstraintCriteria()
}

/// The signals one stage gave in one interval, and how the analyser read them.
public struct StageEvidence: Sendable, Equatable {
    /// The stage.
    public let stage: String
    /// Its interval statistics.
    public let interval: IntervalStats
    /// How full its input is: the buffer penetration, or 1 while someone
    /// waits to submit to it (0…1).
    public let inputPressure: Double
    /// How much whoever feeds it was held up by it (0…1): the largest output-
    /// blocked fraction among its predecessors, or the wait of its submitters.
    public let upstreamBlocked: Double
    /// The predecessor that was blocked most (nil for a head, or none blocked).
    public let blockedPredecessor: String?
    /// Utilisation at or above the saturation threshold, or backed up:
    /// whoever feeds it was blocked on it at least half the interval, more
    /// than twice as long as the stage itself was blocked on its output.
    /// (When stages share fewer CPUs than they have workers, the constraint's
    /// utilisation stays below the threshold: its workers wait for a CPU, not
    /// for input. The backlog in front of it names it all the same.)
    public let saturated: Bool
    /// The ranking score: utilisation + ½ input pressure + upstream blocked
    /// − output blocked. Time a stage spends blocked on the next one counts
    /// against it and, equally, for the next one. The saturated stage with
    /// the highest score is the constraint.
    public let score: Double
    /// Zone of the input buffer.
    public let zone: BufferZone

    /// Interval utilisation (0…1).
    public var utilization: Double { interval.utilization }

    /// Short reasons, e.g. `util 0.97`, `input red 8/8`, `read blocked 0.81`.
    public var reasons: [String] {
        var r = ["util " + ConstraintFormat.fixed(utilization, 2)]
        if interval.queueCapacity > 0 {
            r.append("input \(zone) \(interval.bufferedDepth)/\(interval.queueCapacity)")
        }
        if interval.waiters > 0 { r.append("waiters \(interval.waiters)") }
        if upstreamBlocked > 0 {
            r.append("\(blockedPredecessor ?? "submitters") blocked " + ConstraintFormat.fixed(upstreamBlocked, 2))
        }
        if interval.outputBlockedFraction > 0 {
            r.append("own output blocked " + ConstraintFormat.fixed(interval.outputBlockedFraction, 2))
        }
        return r
    }
}

/// What the analyser concluded for one interval.
public struct ConstraintVerdict: Sendable, Equatable, CustomStringConvertible {
    /// The constraint (the saturated stage ranked highest), or nil when no stage is saturated.
    public let constraint: String?
    /// The focusing step, given the previous verdict's constraint.
    public let step: FocusingStep
    /// Whether the constraint's workers waited for input more than the starvation threshold.
    public let starving: Bool
    /// One entry per stage, in topology order.
    public let stages: [StageEvidence]
    /// The interval's length.
    public let elapsed: Duration

    /// The evidence of `stage`, if it is in the topology.
    public subscript(stage: String) -> StageEvidence? { stages.first { $0.stage == stage } }

    /// `constraint parse (exploit): util 0.97, input red 8/8, read blocked 0.81`
    /// or `no constraint (identify): no stage saturated`.
    public var description: String {
        guard let constraint, let evidence = self[constraint] else {
            return "no constraint (\(step)): no stage saturated"
        }
        return "constraint \(constraint) (\(step)): " + evidence.reasons.joined(separator: ", ")
            + (starving ? ", starving" : "")
    }
}

/// Finds the constraint of a pipeline: the stage that is saturated (busy
/// nearly all the time), whose input buffer fills, and whose upstream is
/// held up waiting for it.
///
/// ```swift
/// let analyzer = ConstraintAnalyzer(topology: frozen)
/// // … every interval:
/// let verdict = analyzer.sample()
/// print(verdict)   // constraint parse (exploit): util 0.98, input red 8/8, read blocked 0.77
/// ```
///
/// ``sample(elapsed:ropeActive:rebalancing:)`` reads every stage's stats,
/// compares them with the previous sample and ranks the stages
/// (``analyze(_:topology:criteria:previousConstraint:ropeActive:rebalancing:)``
/// is the same ranking as a pure function of interval statistics). The
/// analyser also counts how often each stage was named, and can judge the
/// whole run since it was made (``cumulative(elapsed:)``). Samples are
/// serialised by a lock; reading stats never blocks a stage for longer than
/// a snapshot.
public final class ConstraintAnalyzer: Sendable {
    /// The topology analysed.
    public let topology: FrozenTopology
    /// The thresholds used.
    public let criteria: ConstraintCriteria

    struct State {
        var baseline: [StageStats]
        var started: ContinuousClock.Instant
        var elapsedTotal: Duration = .zero  // sum of the intervals sampled (injected or measured)
        var previous: [StageStats]
        var previousTime: ContinuousClock.Instant
        var last: ConstraintVerdict?
        var counts: [String: Int] = [:]
        var samples = 0
        var allInjected = true  // every sample was given its elapsed time
    }

    let state: Locked<State>

    /// An analyser whose first interval starts now (it reads every stage once).
    public init(topology: FrozenTopology, criteria: ConstraintCriteria = .standard) {
        self.topology = topology
        self.criteria = criteria
        let now = ContinuousClock.now
        let snapshot = topology.snapshot()
        state = Locked(State(baseline: snapshot, started: now, previous: snapshot, previousTime: now))
    }

    /// Reads every stage, judges the interval since the previous sample and
    /// returns the verdict. `elapsed` overrides the measured interval (for
    /// tests with synthetic stats); `ropeActive` and `rebalancing` feed the
    /// focusing-step classification.
    @discardableResult
    public func sample(elapsed: Duration? = nil, ropeActive: Bool = false, rebalancing: Bool = false) -> ConstraintVerdict {
        let current = topology.snapshot()
        let now = ContinuousClock.now
        return state.withLock { s in
            let interval = elapsed ?? (now - s.previousTime)
            let intervals = zip(s.previous, current).map { IntervalStats(from: $0, to: $1, elapsed: interval) }
            let verdict = Self.rank(intervals, topology: topology, criteria: criteria,
                                    previousConstraint: s.last?.constraint,
                                    ropeActive: ropeActive, rebalancing: rebalancing)
            if elapsed == nil { s.allInjected = false }
            s.previous = current
            s.previousTime = now
            s.elapsedTotal += interval
            s.last = verdict
            s.samples += 1
            if let c = verdict.constraint { s.counts[c, default: 0] += 1 }
            return verdict
        }
    }

    /// The verdict over the whole run: from the analyser's creation to now.
    /// `elapsed` overrides the measured time; by default it is the time since
    /// creation, or, when every sample so far was given its `elapsed`, their
    /// sum. Does not change the sampling state.
    public func cumulative(elapsed: Duration? = nil) -> ConstraintVerdict {
        let current = topology.snapshot()
        let now = ContinuousClock.now
        let (baseline, total) = state.withLock { s in
            (s.baseline, elapsed ?? (s.samples > 0 && s.allInjected ? s.elapsedTotal : now - s.started))
        }
        let intervals = zip(baseline, current).map { IntervalStats(from: $0, to: $1, elapsed: total) }
        return Self.rank(intervals, topology: topology, criteria: criteria, previousConstraint: nil,
                         ropeActive: false, rebalancing: false)
    }

    /// Time covered by the samples so far (their intervals added up).
    public var sampledTime: Duration { state.withLock { $0.elapsedTotal } }

    /// The last verdict (nil before the first sample).
    public var lastVerdict: ConstraintVerdict? { state.withLock { $0.last } }

    /// How many samples named each stage the constraint.
    public var constraintCounts: [String: Int] { state.withLock { $0.counts } }

    /// Samples taken so far.
    public var sampleCount: Int { state.withLock { $0.samples } }

    /// The run-level verdict: the stage named the constraint in the most
    /// samples (a tie goes to the cumulative verdict's pick, else to the
    /// earlier stage); without any such sample, the cumulative verdict's
    /// constraint. Nil when no stage was ever saturated.
    public var bottleneck: String? {
        let counts = constraintCounts
        let overall = cumulative().constraint
        guard let best = counts.values.max() else { return overall }
        let tied = topology.stages.filter { counts[$0] == best }
        if let overall, tied.contains(overall) { return overall }
        return tied.first
    }

    /// Ranks the stages of one interval (`intervals` in topology order) and
    /// names the constraint. Pure: the same input gives the same verdict.
    /// Throws ``FlowError`` when there is not exactly one interval per stage.
    public static func analyze(_ intervals: [IntervalStats], topology: FrozenTopology,
                               criteria: ConstraintCriteria = .standard, previousConstraint: String? = nil,
                               ropeActive: Bool = false, rebalancing: Bool = false) throws(FlowError) -> ConstraintVerdict {
        guard intervals.count == topology.stages.count else {
            throw .invalid("intervals", intervals.count, "need one per stage, in topology order (\(topology.stages.count))")
        }
        return rank(intervals, topology: topology, criteria: criteria, previousConstraint: previousConstraint,
                    ropeActive: ropeActive, rebalancing: rebalancing)
    }

    static func rank(_ intervals: [IntervalStats], topology: FrozenTopology, criteria: ConstraintCriteria,
                     previousConstraint: String?, ropeActive: Bool, rebalancing: Bool) -> ConstraintVerdict {
        var evidence: [StageEvidence] = []
        for (i, interval) in intervals.enumerated() {
            var blocked = interval.admissionWaitFraction
            var blockedBy: String? = nil
            for p in topology.predecessorIndices[i] where intervals[p].outputBlockedFraction > blocked {
                blocked = intervals[p].outputBlockedFraction
                blockedBy = topology.stages[p]
            }
            let pressure = max(interval.bufferPenetration, interval.waiters > 0 ? 1 : 0)
            let score = interval.utilization + 0.5 * pressure + blocked - interval.outputBlockedFraction
            let backedUp = blocked >= 0.5 && interval.outputBlockedFraction < blocked / 2
            evidence.append(StageEvidence(
                stage: topology.stages[i], interval: interval, inputPressure: pressure,
                upstreamBlocked: blocked, blockedPredecessor: blockedBy,
                saturated: interval.utilization >= criteria.saturation || backedUp, score: score,
                zone: interval.bufferZone(criteria.zones)))
        }
        let best = evidence.filter(\.saturated).max { $0.score < $1.score }
        let starving = best.map { $0.interval.idleFraction > criteria.starvation } ?? false
        let step = FocusingStep.classify(previousConstraint: previousConstraint, constraint: best?.stage,
                                         ropeActive: ropeActive, rebalancing: rebalancing, starving: starving)
        return ConstraintVerdict(constraint: best?.stage, step: step, starving: starving, stages: evidence,
                                 elapsed: intervals.first?.duration ?? .zero)
    }
}
