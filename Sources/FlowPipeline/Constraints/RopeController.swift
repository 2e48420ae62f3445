import FlowAtomics

/// A snapshot of a ``RopeController``.
public struct RopeStats: Sendable, Equatable {
    /// The rope length now: the head stage's WIP limit asked for.
    public var length: Int
    /// Items between release and the drum now: admitted in the stages from
    /// the head up to the drum (exclusive), plus those buffered at the drum.
    public var wip: Int
    /// wip / length (0 when length is 0).
    public var utilization: Double
    /// The drum's goodput, smoothed (items per second; 0 before a measurement).
    public var drumGoodput: Double
    /// The drum's error rate, smoothed.
    public var drumErrorRate: Double
    /// The time an item takes from release to the drum, smoothed: the sum of
    /// the mean service times of the stages from the head to the drum (exclusive).
    public var upstreamFlowTime: Duration
    /// What the head stage applied on the last tick (its WIP limit is clamped).
    public var headAppliedWIP: Int
    /// Whether the length came from measurements (false: still the initial length).
    public var measured: Bool
    /// How many ticks changed the length.
    public var adjustments: Int64
    /// Ticks so far.
    public var ticks: Int64
}

/// The rope of Drum-Buffer-Rope: every interval it sets the head stage's WIP
/// limit so that the work released into the pipeline is what the drum (the
/// constraint) can take, plus a safety margin.
///
/// By Little's law, the items in flight between release and the drum are
/// throughput × flow time. The rope length is
/// `⌈drum goodput × upstream flow time × safety factor⌉` (at least 1), where
/// the goodput and the per-stage mean service times are smoothed
/// exponentially (`smoothing` is the weight of the newest interval). Until
/// both have been measured (an interval in which the drum and every
/// upstream stage completed something), the length is `initialLength`.
/// Queueing time is left out of the flow time on purpose: counting it would
/// let a long rope justify itself; the safety factor covers variation.
///
/// ```swift
/// let rope = try RopeController(topology: frozen, drum: "parse", interval: .milliseconds(200)) {
///     reader.setMaxWIP($0)
/// }
/// let control = Task { await rope.run() }      // ends when `control` is cancelled
/// ```
///
/// Scope: one head feeding the drum through a linear chain (no branch or
/// join between them), counting items, not weight. It is soft control:
/// lowering a stage's WIP limit does not revoke permits already granted.
public final class RopeController: Sendable {
    /// The constraint whose pace the rope follows.
    public let drum: String
    /// The stage whose WIP limit the rope sets.
    public let head: String
    /// The stages from the head to the drum, both included.
    public let chain: [String]
    /// Time between ticks of ``run()``.
    public let interval: Duration
    /// Multiplier on the Little's-law length.
    public let safetyFactor: Double
    /// Length before the first measurement.
    public let initialLength: Int
    /// Weight of the newest interval in the smoothed averages (0 < x ≤ 1).
    public let smoothing: Double

    let accessors: [@Sendable () -> StageStats]  // chain order
    let setHeadWIP: @Sendable (Int) -> Int

    struct State {
        var previous: [StageStats]
        var previousTime: ContinuousClock.Instant
        var goodput: Double?
        var errorRate: Double = 0
        var serviceSeconds: [Double?]  // per upstream stage, smoothed
        var stats: RopeStats
    }

    let state: Locked<State>
    /// The `run()` loop.
    let loop = TickLoop()

    /// A rope for `drum` in `topology`; `setHeadWIP` applies a WIP limit to
    /// the head stage and returns the applied value (``Stage/setMaxWIP(_:)``).
    /// Applies `initialLength` at once.
    ///
    /// Throws ``FlowError`` for an unknown drum, a drum that is a head, more
    /// than one head feeding it, a chain with a branch or join, or a bad
    /// parameter (interval ≤ 0, safety factor ≤ 0, initial length < 1,
    /// smoothing outside (0, 1]).
    public init(topology: FrozenTopology, drum: String, interval: Duration = .milliseconds(200),
                safetyFactor: Double = 1.5, initialLength: Int = 1, smoothing: Double = 0.3,
                setHeadWIP: @escaping @Sendable (Int) -> Int) throws(FlowError) {
        guard interval > .zero else { throw .invalid("interval", interval, "must be positive") }
        guard safetyFactor.isFinite, safetyFactor > 0 else {
            throw .invalid("safetyFactor", safetyFactor, "must be positive")
        }
        guard initialLength >= 1 else { throw .invalid("initialLength", initialLength, "must be ≥ 1") }
        guard smoothing.isFinite, smoothing > 0, smoothing <= 1 else {
            throw .invalid("smoothing", smoothing, "must be in (0, 1]")
        }
        var node = try topology.position(drum, "drum")
        guard !topology.predecessorIndices[node].isEmpty else {
            throw .invalid("drum", drum, "is a head stage: a rope needs at least one stage upstream of the drum")
        }
        var chainIndices = [node]
        while let first = topology.predecessorIndices[node].first {
            let preds = topology.predecessorIndices[node]
            guard preds.count == 1 else {
                throw .invalid("drum", drum, "needs a linear chain from one head: \(topology.stages[node]) is fed by "
                               + preds.map { topology.stages[$0] }.joined(separator: ", "))
            }
            node = first
            guard topology.successorIndices[node].count == 1 else {
                throw .invalid("drum", drum, "needs a linear chain from one head: \(topology.stages[node]) branches to "
                               + topology.successorIndices[node].map { topology.stages[$0] }.joined(separator: ", "))
            }
            chainIndices.insert(node, at: 0)
        }
        self.drum = drum
        head = topology.stages[chainIndices[0]]
        chain = chainIndices.map { topology.stages[$0] }
        self.interval = interval
        self.safetyFactor = safetyFactor
        self.initialLength = initialLength
        self.smoothing = smoothing
        accessors = chainIndices.map { topology.accessors[$0] }
        self.setHeadWIP = setHeadWIP

        let snapshot = accessors.map { $0() }
        let applied = setHeadWIP(initialLength)
        let stats = RopeStats(length: initialLength, wip: Self.wip(snapshot), utilization: 0, drumGoodput: 0,
                              drumErrorRate: 0, upstreamFlowTime: .zero, headAppliedWIP: applied, measured: false,
                              adjustments: 0, ticks: 0)
        state = Locked(State(previous: snapshot, previousTime: .now,
                             serviceSeconds: Array(repeating: nil, count: chainIndices.count - 1), stats: stats))
    }

    /// A rope that sets the WIP limit of `headStage` (the topology's head of the chain).
    public convenience init<Input, Output>(topology: FrozenTopology, drum: String, headStage: Stage<Input, Output>,
                                           interval: Duration = .milliseconds(200), safetyFactor: Double = 1.5,
                                           initialLength: Int = 1, smoothing: Double = 0.3) throws(FlowError) {
        try self.init(topology: topology, drum: drum, interval: interval, safetyFactor: safetyFactor,
                      initialLength: initialLength, smoothing: smoothing, setHeadWIP: { headStage.setMaxWIP($0) })
    }

    /// Admitted in the upstream stages plus buffered at the drum.
    static func wip(_ chain: [StageStats]) -> Int {
        chain.dropLast().reduce(0) { $0 + max(0, $1.admitted) } + max(0, chain.last?.bufferedDepth ?? 0)
    }

    /// One control step: reads the chain's stats, updates the smoothed drum
    /// goodput and upstream service times, sets the head's WIP limit and
    /// returns the new state. `elapsed` overrides the measured time since the
    /// previous tick (for tests with synthetic stats).
    @discardableResult
    public func tick(elapsed: Duration? = nil) -> RopeStats {
        let current = accessors.map { $0() }
        let now = ContinuousClock.now
        let length = state.withLock { s -> Int in
            let duration = elapsed ?? (now - s.previousTime)
            let intervals = zip(s.previous, current).map { IntervalStats(from: $0, to: $1, elapsed: duration) }
            s.previous = current
            s.previousTime = now
            let a = smoothing
            let drumInterval = intervals[intervals.count - 1]
            if drumInterval.completed > 0 && duration > .zero {
                if let previous = s.goodput {
                    s.goodput = a * drumInterval.goodput + (1 - a) * previous
                    s.errorRate = a * drumInterval.errorRate + (1 - a) * s.errorRate
                } else {
                    s.goodput = drumInterval.goodput
                    s.errorRate = drumInterval.errorRate
                }
            }
            for i in s.serviceSeconds.indices where intervals[i].completed > 0 {
                let x = intervals[i].meanServiceTime.seconds
                s.serviceSeconds[i] = s.serviceSeconds[i].map { a * x + (1 - a) * $0 } ?? x
            }
            let flow = s.serviceSeconds.allSatisfy { $0 != nil } ? s.serviceSeconds.reduce(0) { $0 + $1! } : nil
            var length = s.stats.measured ? s.stats.length : initialLength
            var measured = s.stats.measured
            if let goodput = s.goodput, let flow, goodput > 0, flow > 0 {
                let raw = (goodput * flow * safetyFactor).rounded(.up)
                length = raw >= Double(Int.max / 2) ? Int.max / 2 : max(1, Int(raw))
                measured = true
            }
            if length != s.stats.length { s.stats.adjustments += 1 }
            s.stats.length = length
            s.stats.measured = measured
            s.stats.drumGoodput = s.goodput ?? 0
            s.stats.drumErrorRate = s.errorRate
            s.stats.upstreamFlowTime = flow.map { .nanoseconds(Int64(($0 * 1e9).rounded())) } ?? .zero
            s.stats.wip = Self.wip(current)
            s.stats.utilization = length > 0 ? Double(s.stats.wip) / Double(length) : 0
            s.stats.ticks += 1
            return length
        }
        // Outside the lock: the head stage takes its own lock.
        let applied = setHeadWIP(length)
        return state.withLock { s in
            s.stats.headAppliedWIP = applied
            return s.stats
        }
    }

    /// The controller's state now.
    public var stats: RopeStats { state.withLock { $0.stats } }

    /// Ticks every ``interval`` until the calling task is cancelled. Returns
    /// false at once (doing nothing) when another `run()` is already going.
    @discardableResult
    public func run() async -> Bool {
        await loop.run(every: interval) { tick() }
    }
}
