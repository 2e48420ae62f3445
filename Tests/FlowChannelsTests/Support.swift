import FlowChannels
import FlowTestSupport
import Synchronization

/// Polls `condition` until it holds or `timeout` passes (a condition wait
/// with a deadline, not a sleep standing in for synchronisation).
func eventually(_ timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .microseconds(200))
    }
    return true
}

/// An item tagged with its producer and its sequence number there.
struct Tagged: Hashable, Sendable {
    var producer: Int
    var seq: Int
}

/// Checks FIFO per producer within one consumer's log.
func fifoViolation(_ log: [Tagged]) -> String? {
    var last: [Int: Int] = [:]
    for item in log {
        if let previous = last[item.producer], previous >= item.seq {
            return "producer \(item.producer): \(item.seq) after \(previous)"
        }
        last[item.producer] = item.seq
    }
    return nil
}

/// Checks the quiescent stats invariant.
func statsViolation(_ stats: ChannelStats) -> String? {
    if stats.sent != stats.received + stats.dropped + stats.depth { return "stats do not add up: \(stats)" }
    if stats.depth > stats.capacity { return "depth above capacity: \(stats)" }
    return nil
}

/// A shared atomic counter (an `Atomic` cannot be captured by escaping closures).
final class Counter: Sendable {
    private let value: Atomic<Int>
    init(_ initial: Int = 0) { value = Atomic(initial) }
    /// Adds `n` and returns the new value.
    @discardableResult
    func add(_ n: Int = 1) -> Int { value.wrappingAdd(n, ordering: .acquiringAndReleasing).newValue }
    var current: Int { value.load(ordering: .acquiring) }
    /// Raises the recorded peak to `candidate` if it is higher.
    func raise(to candidate: Int) {
        var seen = value.load(ordering: .relaxed)
        while candidate > seen {
            let (done, now) = value.compareExchange(expected: seen, desired: candidate, ordering: .relaxed)
            if done { return }
            seen = now
        }
    }
}
