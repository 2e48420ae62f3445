import FlowTestSupport
import FlowWatchdog
import Synchronization

/// A watchdog on a fresh manual clock whose handler collects every event.
struct ManualFixture {
    let clock = ManualClock()
    let events = Collector<WatchdogEvent>()
    let watchdog: Watchdog

    init(
        configuration: Watchdog.Configuration = Watchdog.Configuration(),
        onEvent: (@Sendable (WatchdogEvent, WatchdogControl) -> Void)? = nil
    ) throws {
        let events = self.events
        watchdog = try Watchdog(configuration: configuration, clock: .manual(clock)) { event, control in
            events.append(event)
            onEvent?(event, control)
        }
    }

    /// The ids of the timed-out activities reported so far, in order.
    var timedOutIDs: [WatchID] {
        events.values.compactMap { event in
            if case let .taskTimedOut(_, _, id) = event { return id }
            return nil
        }
    }
}

/// A counter that many threads bump (test-only).
final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    init() {}
    func increment() { value.wrappingAdd(1, ordering: .relaxed) }
    var count: Int { value.load(ordering: .relaxed) }
}


/// A flag one thread sets and others poll (test-only).
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    init() {}
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

/// Extracts the parameter named by a thrown `FlowError.invalidArgument`.
func invalidParameter(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let FlowError.invalidArgument(parameter, _, _) {
        return parameter
    } catch {
        return "unexpected error \(error)"
    }
}
