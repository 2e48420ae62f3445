/// A snapshot of a ``Stage``'s counters, gauges and timers, taken under the
/// stage's lock (so one snapshot is self-consistent).
///
/// Invariants, after ``Stage/wait()`` returned and every `submit` returned:
/// - `submitted == completed + canceled` (every admitted item ended once);
/// - `failed <= completed`;
/// - for a piped stage, `received == submitted + forwarded + dropped`;
/// - `bufferedDepth == 0`, `admitted == 0`, `inFlightWeight == 0`, `waiters == 0`.
///
/// Durations add up across workers, so with several workers they can exceed wall-clock time.
public struct StageStats: Sendable, Equatable {
    /// Items admitted by `submit` (or by a pipe's feeder).
    public var submitted: Int64 = 0
    /// Items whose body returned or threw (includes `failed`).
    public var completed: Int64 = 0
    /// Subset of `completed` whose body threw.
    public var failed: Int64 = 0
    /// Items taken from the buffer after shutdown and answered with a
    /// `CancellationError` result without running the body (not in `completed`).
    public var canceled: Int64 = 0
    /// Pipe only: results consumed from the upstream sequence.
    public var received: Int64 = 0
    /// Pipe only: upstream failures sent straight to the output.
    public var forwarded: Int64 = 0
    /// Pipe only: upstream results neither submitted nor forwarded (after shutdown).
    public var dropped: Int64 = 0
    /// Time the body ran, summed over workers. Without the service-time
    /// distribution a worker reads the clock once per item, so this also
    /// covers the few nanoseconds of bookkeeping between two bodies.
    public var serviceTime: Duration = .zero
    /// Time workers waited for input, summed over workers.
    public var idleTime: Duration = .zero
    /// Time workers waited for room in the output buffer, summed over workers.
    public var outputBlockedTime: Duration = .zero
    /// Items admitted and waiting for a worker.
    public var bufferedDepth: Int = 0
    /// Weight of the items whose body is running.
    public var inFlightWeight: Int64 = 0
    /// Configured input capacity.
    public var queueCapacity: Int = 0
    /// Whether admission is paused.
    public var paused: Bool = false
    /// Current WIP limit (≥ 1).
    public var maxWIP: Int = 0
    /// Current weight limit (0: none).
    public var maxWIPWeight: Int64 = 0
    /// Accumulated weight of admitted items.
    public var admittedWeight: Int64 = 0
    /// Admitted items not yet finished (buffered + in flight). Can exceed
    /// `maxWIP` right after the limit is lowered (permits are not revoked).
    public var admitted: Int = 0
    /// Submits waiting for admission now.
    public var waiters: Int = 0
    /// Most submits ever waiting at once.
    public var maxWaiters: Int = 0
    /// Worker count asked for.
    public var targetWorkers: Int = 0
    /// Workers running (lags `targetWorkers` while excess workers finish their item).
    public var activeWorkers: Int = 0
    /// Submits that had to wait for admission (cumulative).
    public var wipWaits: Int64 = 0
    /// Time submits waited for admission (cumulative).
    public var wipWaitTime: Duration = .zero
    /// Service-time distribution; nil unless `tracksServiceTimeDistribution` is on.
    public var serviceTimeDistribution: StageServiceTimeSummary?

    /// All zero.
    public init() {}
}

/// Distribution of per-item service times (about 1% precision).
public struct StageServiceTimeSummary: Sendable, Equatable {
    /// Service times recorded.
    public var count: Int64
    /// Shortest and longest (exact).
    public var min: Duration
    public var max: Duration
    /// Mean and standard deviation (exact).
    public var mean: Duration
    public var standardDeviation: Duration
    /// Percentiles (within about 1%).
    public var p50: Duration
    public var p95: Duration
    public var p99: Duration
}

/// A log-linear histogram of nanoseconds: exact below 128 ns, then 128
/// sub-buckets per power of two (relative error below 1/128 ≈ 0.8%).
/// Values above 2^40 ns (about 18 minutes) land in the last bucket.
@usableFromInline
struct StageHistogram: Sendable {
    @usableFromInline static let subBits = 7
    @usableFromInline static let maxExponent = 40
    static let bucketCount = (maxExponent - subBits + 1) * 128 + 128
    @usableFromInline var counts: [UInt64]
    @usableFromInline var count: Int64 = 0
    @usableFromInline var minValue: UInt64 = .max
    @usableFromInline var maxValue: UInt64 = 0
    @usableFromInline var sum: Double = 0
    @usableFromInline var sumOfSquares: Double = 0

    init() { counts = Array(repeating: 0, count: Self.bucketCount) }

    @inlinable static func index(of value: UInt64) -> Int {
        let v = Swift.min(value, (UInt64(1) << maxExponent) - 1)
        let exponent = v == 0 ? 0 : 63 - v.leadingZeroBitCount
        let shift = exponent >= subBits ? exponent - subBits : 0
        return shift * 128 + Int(v >> UInt64(shift))
    }

    /// The middle of bucket `index`.
    private static func value(at index: Int) -> UInt64 {
        if index < 256 { return UInt64(index) }
        let shift = index / 128 - 1
        let mantissa = UInt64(index - shift * 128)
        return (mantissa << UInt64(shift)) + (UInt64(1) << UInt64(shift)) / 2
    }

    @inlinable mutating func record(_ nanoseconds: UInt64) {
        counts[Self.index(of: nanoseconds)] += 1
        count += 1
        minValue = Swift.min(minValue, nanoseconds)
        maxValue = Swift.max(maxValue, nanoseconds)
        let x = Double(nanoseconds)
        sum += x
        sumOfSquares += x * x
    }

    private func percentile(_ p: Double) -> UInt64 {
        let rank = Swift.max(1, UInt64((p * Double(count)).rounded(.up)))
        var seen: UInt64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank { return Swift.min(Swift.max(Self.value(at: i), minValue), maxValue) }
        }
        return maxValue
    }

    var summary: StageServiceTimeSummary {
        guard count > 0 else {
            return StageServiceTimeSummary(count: 0, min: .zero, max: .zero, mean: .zero,
                                           standardDeviation: .zero, p50: .zero, p95: .zero, p99: .zero)
        }
        let n = Double(count)
        let mean = sum / n
        let variance = Swift.max(0, sumOfSquares / n - mean * mean)
        return StageServiceTimeSummary(
            count: count,
            min: .stageNanoseconds(minValue),
            max: .stageNanoseconds(maxValue),
            mean: .nanoseconds(Int64(mean.rounded())),
            standardDeviation: .nanoseconds(Int64(variance.squareRoot().rounded())),
            p50: .stageNanoseconds(percentile(0.50)),
            p95: .stageNanoseconds(percentile(0.95)),
            p99: .stageNanoseconds(percentile(0.99)))
    }
}
