import FlowTestSupport
import FlowWatchdog
import Testing

/// Bad configuration is rejected with a `FlowError` naming the field.
@Suite(.timeLimit(.minutes(1)))
struct ConfigurationTests {
    @Test(arguments: [Duration.zero, .seconds(-1), .nanoseconds(-5)])
    func badTimeoutsAreRejected(_ bad: Duration) throws {
        let f = try ManualFixture()
        #expect(invalidParameter { _ = try f.watchdog.watch(name: "x", timeout: bad) } == "timeout")
        #expect(invalidParameter { try f.watchdog.setGlobalTimeout(bad) } == "globalTimeout")
        #expect(invalidParameter {
            try f.watchdog.monitorProgress(checkEvery: bad, stallAfter: .seconds(1)) { (0, 0) }
        } == "checkEvery")
        #expect(invalidParameter {
            try f.watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: bad) { (0, 0) }
        } == "stallAfter")
        #expect(invalidParameter {
            try f.watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: .seconds(1), deadlockAfter: bad) { (0, 0) }
        } == "deadlockAfter")
        #expect(invalidParameter {
            _ = try Watchdog(configuration: Watchdog.Configuration(defaultTimeout: bad))
        } == "defaultTimeout")
    }

    @Test func errorCarriesNameValueAndReason() throws {
        let f = try ManualFixture()
        #expect(throws: FlowError.invalidArgument(parameter: "timeout", value: "0.0 seconds", reason: "must be positive")) {
            _ = try f.watchdog.watch(name: "x", timeout: .zero)
        }
        #expect(throws: FlowError.invalidArgument(parameter: "eventLogCapacity", value: "0", reason: "must be at least 1")) {
            _ = try Watchdog(configuration: Watchdog.Configuration(eventLogCapacity: 0))
        }
    }

    @Test func otherBadConfiguration() throws {
        let f = try ManualFixture()
        #expect(invalidParameter {
            try f.watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: .seconds(5), deadlockAfter: .seconds(2)) { (0, 0) }
        } == "deadlockAfter")
        #expect(invalidParameter { _ = try f.watchdog.watch(name: "no default") } == "defaultTimeout")
        #expect(invalidParameter { _ = try Watchdog(configuration: Watchdog.Configuration(threadName: "")) } == "threadName")
        #expect(invalidParameter { _ = try Watchdog(configuration: Watchdog.Configuration(eventLogCapacity: -3)) } == "eventLogCapacity")
        // The rejected calls left nothing behind.
        f.clock.advance(by: .seconds(100))
        #expect(f.events.values.isEmpty)
    }
}
