import FlowGraph
import FlowTestSupport
import Synchronization

/// A shared counter for node bodies and scope children.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)

    func add(_ n: Int = 1) { value.wrappingAdd(n, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
    func reset() { value.store(0, ordering: .relaxed) }
}

/// Counts how many bodies run at once and keeps the highest count seen.
final class ConcurrencyGauge: Sendable {
    private let running = Atomic<Int>(0)
    private let highest = Atomic<Int>(0)

    func enter() {
        let now = running.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue
        var seen = highest.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = highest.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    func leave() { running.wrappingSubtract(1, ordering: .acquiringAndReleasing) }

    /// The most bodies seen running at once.
    var peak: Int { highest.load(ordering: .relaxed) }
}

/// How a test node's body is written: synchronous or `async`.
enum BodyKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case sync, async
    var description: String { rawValue }
}
