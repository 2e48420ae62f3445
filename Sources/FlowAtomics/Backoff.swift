#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Exponential backoff for spin loops: spin a doubling number of times,
/// then yield the CPU to the OS scheduler.
///
/// Use it in retry loops of lock-free code (after a lost CAS) with `spin()`,
/// and in wait loops (waiting for another thread to make progress) with
/// `snooze()`, which starts yielding once spinning stops paying off. Check
/// `isCompleted` to know when to stop spinning and park instead.
///
/// The CPU pause hint: Swift has no portable intrinsic for x86 `pause` /
/// ARM `yield`, and FlowAtomics may not depend on a C shim (the layer check
/// allows only the toolchain), so each spin step is a relaxed load of a
/// private atomic, which the optimiser cannot remove. The OS yield after the
/// spin limit is what keeps a waiting thread from starving the one it waits for.
///
/// Not `Sendable` on purpose: each thread keeps its own.
public struct Backoff {
    @usableFromInline static let spinLimit = 6    // 2^6 = 64 spins at the top
    @usableFromInline static let yieldLimit = 10  // then up to 4 rounds of yields

    @usableFromInline var step = 0

    public init() {}

    /// Backs off in a lock-free retry loop (another thread won a CAS).
    @inlinable
    public mutating func spin() {
        Backoff.relax(1 << min(step, Backoff.spinLimit))
        if step <= Backoff.spinLimit { step += 1 }
    }

    /// Backs off while waiting for another thread: spins first, then yields.
    @inlinable
    public mutating func snooze() {
        if step <= Backoff.spinLimit {
            Backoff.relax(1 << step)
        } else {
            sched_yield()
        }
        if step <= Backoff.yieldLimit { step += 1 }
    }

    /// True once backing off further is pointless: park or block instead.
    @inlinable
    public var isCompleted: Bool { step > Backoff.yieldLimit }

    @inlinable
    public mutating func reset() { step = 0 }

    /// Spins `iterations` times doing a relaxed load, standing in for a CPU
    /// pause hint (see the type's comment).
    @inlinable
    public static func relax(_ iterations: Int) {
        for _ in 0..<iterations { _ = spinSink.load(ordering: .relaxed) }
    }

    @usableFromInline static let spinSink = Atomic<Int>(0)
}
