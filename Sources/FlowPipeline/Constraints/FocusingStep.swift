/// Which of Goldratt's five focusing steps a pipeline is in, classified
/// from what can be observed in one interval. Not a state machine: call
/// ``classify(previousConstraint:constraint:ropeActive:rebalancing:starving:)``
/// (or read ``ConstraintVerdict/step``) every interval.
public enum FocusingStep: Int, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// 1. Identify the constraint: no stage is saturated (the pipeline is
    /// limited by its source), or there is no data yet.
    case identify = 1
    /// 2. Exploit it: a constraint is known, but no rope protects it yet, or
    /// it is starving (its workers wait for input).
    case exploit
    /// 3. Subordinate everything else: the rope is active and the constraint
    /// is busy; the other stages follow its pace.
    case subordinate
    /// 4. Elevate it: capacity is being added to the constraint (workers).
    case elevate
    /// 5. Prevent inertia: the constraint moved. Rebuild the rope for the new
    /// drum, and do not take capacity from the old one until the new
    /// constraint has held for several intervals.
    case preventInertia

    /// The classification, highest priority first: no constraint → identify;
    /// a different constraint than last interval → preventInertia;
    /// rebalancing → elevate; starving or no rope → exploit; else subordinate.
    public static func classify(previousConstraint: String?, constraint: String?,
                                ropeActive: Bool, rebalancing: Bool, starving: Bool) -> FocusingStep {
        guard let constraint else { return .identify }
        if let previousConstraint, previousConstraint != constraint { return .preventInertia }
        if rebalancing { return .elevate }
        if starving || !ropeActive { return .exploit }
        return .subordinate
    }

    /// `identify`, `exploit`, `subordinate`, `elevate`, `prevent-inertia`.
    public var description: String {
        switch self {
        case .identify: return "identify"
        case .exploit: return "exploit"
        case .subordinate: return "subordinate"
        case .elevate: return "elevate"
        case .preventInertia: return "prevent-inertia"
        }
    }
}
