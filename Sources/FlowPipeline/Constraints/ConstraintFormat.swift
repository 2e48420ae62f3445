import Synchronization

/// Fixed-point rendering for report lines (no Foundation in the library).
enum ConstraintFormat {
    /// `x` with exactly `digits` decimals (digits in 0…6); "0" style for NaN and infinities.
    static func fixed(_ x: Double, _ digits: Int) -> String {
        let digits = max(0, min(6, digits))
        guard x.isFinite else { return digits == 0 ? "0" : "0." + String(repeating: "0", count: digits) }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(x) * scale).rounded()
        guard scaled < 9e17 else { return String(Int64(x.rounded())) }
        let n = Int64(scaled)
        let sign = x < 0 && n != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(n) }
        let whole = n / Int64(scale)
        var fraction = String(n % Int64(scale))
        while fraction.count < digits { fraction = "0" + fraction }
        return sign + String(whole) + "." + fraction
    }

    /// Bytes as MiB with one decimal, or "-" when unknown.
    static func mebibytes(_ bytes: Int?) -> String {
        guard let bytes else { return "-" }
        return fixed(Double(bytes) / 1_048_576, 1)
    }

    /// A duration in seconds with three decimals.
    static func seconds(_ d: Duration) -> String { fixed(d.seconds, 3) }
}

/// The `run()` loop that `ConstraintReporter` and `RopeController` share:
/// calls `tick` every `interval` until the calling task is cancelled, one
/// loop per owner at a time.
///
/// Lock-free: `running` is one flag, claimed by an exchange (the loser
/// returns false at once) and cleared by the winner when its loop ends;
/// acquiring-and-releasing / releasing, so a later loop sees everything the
/// previous one did. Any task may call `run`.
final class TickLoop: Sendable {
    private let running = Atomic<Bool>(false)

    func run(every interval: Duration, _ tick: () -> Void) async -> Bool {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        defer { running.store(false, ordering: .releasing) }
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            tick()
        }
        return true
    }
}
