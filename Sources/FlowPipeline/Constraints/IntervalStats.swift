/// What one stage did between two ``StageStats`` snapshots: counter deltas,
/// rates, an approximate utilisation, and the gauges of the later snapshot.
///
/// ```swift
/// let before = stage.stats
/// // … an interval later …
/// let interval = IntervalStats(from: before, to: stage.stats, elapsed: .seconds(1))
/// print(interval.throughput, interval.utilization, interval.bufferZone())
/// ```
///
/// Rates are per second of `duration` and are 0 when `duration` is not
/// positive or the denominator is 0. Time deltas add up over workers, so the
/// fractions divide by `duration × workers`, where `workers` is the average
/// of the two snapshots' target worker counts (at least 1).
///
/// When a cumulative counter went backwards (the stage was replaced or its
/// stats reset), ``resetDetected`` is true and the deltas are the later
/// snapshot's values, counted from zero.
public struct IntervalStats: Sendable, Equatable {
    /// Time between the two snapshots.
    public var duration: Duration
    /// Some cumulative counter decreased: deltas count from zero instead.
    public var resetDetected: Bool

    /// Items admitted during the interval.
    public var submitted: Int64
    /// Items whose body returned or threw during the interval (includes `failed`).
    public var completed: Int64
    /// Completed items whose body threw.
    public var failed: Int64
    /// Buffered items answered with cancellation without running.
    public var canceled: Int64
    /// Admissions that had to wait (the rope held them).
    public var wipWaits: Int64

    /// Body time, summed over workers.
    public var serviceTime: Duration
    /// Time workers waited for input, summed over workers.
    public var idleTime: Duration
    /// Time workers waited for room in the output, summed over workers.
    public var outputBlockedTime: Duration
    /// Time submitters (or the pipe's feeder) waited for admission.
    public var wipWaitTime: Duration

    /// Average worker count over the interval (≥ 1).
    public var workers: Double
    /// Completed items per second (failures included).
    public var throughput: Double
    /// Successful items per second: (completed − failed) / duration.
    public var goodput: Double
    /// Admitted items per second.
    public var arrivalRate: Double
    /// failed / completed, in 0…1.
    public var errorRate: Double
    /// serviceTime / completed.
    public var meanServiceTime: Duration
    /// serviceTime / (duration × workers), clamped to 0…1. Approximate: a
    /// body's time is counted when it ends, so an item that spans intervals
    /// lands in the interval it finished in.
    public var utilization: Double
    /// idleTime / (duration × workers), clamped to 0…1.
    public var idleFraction: Double
    /// outputBlockedTime / (duration × workers), clamped to 0…1: how much
    /// the stage was held up by the stage after it.
    public var outputBlockedFraction: Double
    /// wipWaitTime / duration, clamped to 0…1: how much whoever feeds the
    /// stage waited for it.
    public var admissionWaitFraction: Double
    /// Change of the buffered depth per second (negative: draining).
    public var queueGrowthRate: Double

    /// Items buffered now (gauge of the later snapshot, like the fields below).
    public var bufferedDepth: Int
    /// The input buffer's capacity.
    public var queueCapacity: Int
    /// bufferedDepth / queueCapacity, clamped to 0…1 (0 when unbuffered).
    public var bufferPenetration: Double
    /// Workers running now.
    public var activeWorkers: Int
    /// Workers asked for.
    public var targetWorkers: Int
    /// Admitted items not finished (buffered + in flight).
    public var admitted: Int
    /// The WIP limit now.
    public var maxWIP: Int
    /// Submits waiting for admission now.
    public var waiters: Int

    /// The interval from `previous` to `current`, taken `elapsed` apart.
    public init(from previous: StageStats, to current: StageStats, elapsed: Duration) {
        let reset = current.submitted < previous.submitted || current.completed < previous.completed
            || current.failed < previous.failed || current.canceled < previous.canceled
            || current.wipWaits < previous.wipWaits || current.serviceTime < previous.serviceTime
            || current.idleTime < previous.idleTime || current.outputBlockedTime < previous.outputBlockedTime
            || current.wipWaitTime < previous.wipWaitTime
        let base = reset ? StageStats() : previous
        duration = elapsed
        resetDetected = reset
        submitted = current.submitted - base.submitted
        completed = current.completed - base.completed
        failed = current.failed - base.failed
        canceled = current.canceled - base.canceled
        wipWaits = current.wipWaits - base.wipWaits
        serviceTime = current.serviceTime - base.serviceTime
        idleTime = current.idleTime - base.idleTime
        outputBlockedTime = current.outputBlockedTime - base.outputBlockedTime
        wipWaitTime = current.wipWaitTime - base.wipWaitTime

        let targets = [previous.targetWorkers, current.targetWorkers].filter { $0 > 0 }
        workers = targets.isEmpty ? Double(max(1, current.activeWorkers))
            : max(1, Double(targets.reduce(0, +)) / Double(targets.count))
        let seconds = elapsed.seconds
        func perSecond(_ x: Double) -> Double { seconds > 0 ? x / seconds : 0 }
        func fraction(_ d: Duration, per workers: Double) -> Double {
            seconds > 0 ? min(1, max(0, d.seconds / (seconds * workers))) : 0
        }
        throughput = perSecond(Double(completed))
        goodput = perSecond(Double(completed - failed))
        arrivalRate = perSecond(Double(submitted))
        errorRate = completed > 0 ? min(1, max(0, Double(failed) / Double(completed))) : 0
        meanServiceTime = completed > 0 ? serviceTime / Int(completed) : .zero
        utilization = fraction(serviceTime, per: workers)
        idleFraction = fraction(idleTime, per: workers)
        outputBlockedFraction = fraction(outputBlockedTime, per: workers)
        admissionWaitFraction = fraction(wipWaitTime, per: 1)
        queueGrowthRate = perSecond(Double(current.bufferedDepth - (reset ? 0 : previous.bufferedDepth)))

        bufferedDepth = current.bufferedDepth
        queueCapacity = current.queueCapacity
        bufferPenetration = current.queueCapacity > 0
            ? min(1, max(0, Double(current.bufferedDepth) / Double(current.queueCapacity))) : 0
        activeWorkers = current.activeWorkers
        targetWorkers = current.targetWorkers
        admitted = current.admitted
        maxWIP = current.maxWIP
        waiters = current.waiters
    }

    /// The fever-chart zone of the input buffer (by ``bufferPenetration``).
    public func bufferZone(_ zones: BufferZones = .standard) -> BufferZone {
        zones.zone(penetration: bufferPenetration)
    }
}

/// Goldratt's fever-chart zone of a buffer.
public enum BufferZone: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Below the yellow threshold: little queued. In front of the constraint
    /// this means it may starve soon (the rope may be too tight).
    case green
    /// Between the thresholds: the healthy operating zone.
    case yellow
    /// At or above the red threshold: the buffer is nearly full; whatever
    /// feeds it is about to be held back.
    case red

    public var description: String { rawValue }
}

/// How close the process is to running out of memory.
public enum MemoryZone: String, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// The headroom or the limit could not be read.
    case unknown
    /// Used less than the yellow threshold of the limit.
    case green
    /// Used between the thresholds.
    case yellow
    /// Used at least the red threshold: little headroom left.
    case red

    public var description: String { rawValue }
}

/// The two thresholds that split a penetration (fill fraction, 0…1) into
/// green, yellow and red. The convention is ⅓ and ⅔ (``standard``).
public struct BufferZones: Sendable, Equatable {
    /// Penetration from which a buffer is yellow.
    public let yellowAt: Double
    /// Penetration from which a buffer is red.
    public let redAt: Double

    /// Goldratt's convention: yellow from ⅓, red from ⅔.
    public static let standard = BufferZones(uncheckedYellowAt: 1.0 / 3, redAt: 2.0 / 3)

    /// Thresholds with 0 ≤ `yellowAt` ≤ `redAt` ≤ 1; throws ``FlowError`` naming a bad one.
    public init(yellowAt: Double, redAt: Double) throws(FlowError) {
        guard yellowAt.isFinite, yellowAt >= 0, yellowAt <= 1 else {
            throw .invalid("yellowAt", yellowAt, "must be in 0...1")
        }
        guard redAt.isFinite, redAt >= yellowAt, redAt <= 1 else {
            throw .invalid("redAt", redAt, "must be in yellowAt...1 (yellowAt = \(yellowAt))")
        }
        self.init(uncheckedYellowAt: yellowAt, redAt: redAt)
    }

    private init(uncheckedYellowAt yellowAt: Double, redAt: Double) {
        self.yellowAt = yellowAt
        self.redAt = redAt
    }

    /// The zone of a buffer filled to `penetration` (0…1).
    public func zone(penetration: Double) -> BufferZone {
        if penetration >= redAt { return .red }
        if penetration >= yellowAt { return .yellow }
        return .green
    }

    /// The memory zone for `headroom` bytes left out of `limit`:
    /// penetration = 1 − headroom / limit. Unknown when either is nil or the limit is not positive.
    public func memoryZone(headroom: Int?, limit: Int?) -> MemoryZone {
        guard let headroom, let limit, limit > 0 else { return .unknown }
        let penetration = 1 - Double(max(0, min(headroom, limit))) / Double(limit)
        switch zone(penetration: penetration) {
        case .green: return .green
        case .yellow: return .yellow
        case .red: return .red
        }
    }
}

/// How many items a buffer must hold to keep a stage running at
/// `throughput` items per second through `protectionTime` without input
/// (Goldratt's buffer sizing): ⌈throughput × protectionTime⌉. 0 when
/// either is not positive. `protectionTime` may come from the upstream lead
/// time, the drum's p95 service time, or configuration.
public func bufferCapacity(throughput: Double, protectionTime: Duration) -> Int {
    let seconds = protectionTime.seconds
    guard throughput > 0, throughput.isFinite, seconds > 0 else { return 0 }
    let items = (throughput * seconds).rounded(.up)
    return items >= Double(Int.max) ? Int.max : Int(items)
}

/// The memory of this process: resident bytes and the headroom (bytes it
/// may still use, from ``MemoryBudget/availableMemory()``).
public struct ProcessMemory: Sendable, Equatable {
    /// Resident set size in bytes (nil when it cannot be read).
    public var resident: Int?
    /// Bytes this process may still use (nil when unknown).
    public var available: Int?

    /// Memory figures as given.
    public init(resident: Int?, available: Int?) {
        self.resident = resident
        self.available = available
    }

    /// Reads both figures now (`/proc/self/statm`, `/proc/meminfo` and the cgroup files).
    public static func current() -> ProcessMemory {
        ProcessMemory(resident: MemoryBudget.residentMemory(), available: MemoryBudget.availableMemory())
    }

    /// What the process could reach: resident + available (nil when either is unknown).
    public var limit: Int? {
        guard let resident, let available else { return nil }
        return resident + available
    }

    /// The zone of the headroom within ``limit``.
    public func zone(_ zones: BufferZones = .standard) -> MemoryZone {
        zones.memoryZone(headroom: available, limit: limit)
    }
}

extension Duration {
    /// The duration in seconds, as a Double.
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}
