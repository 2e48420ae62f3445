import FlowTestSupport
import FlowWatchdog
import Testing

/// Cancellation requested by the handler, by policy, or directly, reaching
/// each token's callbacks exactly once.
@Suite(.timeLimit(.minutes(1)))
struct CancellationTests {
    @Test func handlerCancellationReachesTheCallbackExactlyOnce() throws {
        let f = try ManualFixture { event, control in
            if case let .taskTimedOut(_, _, id) = event {
                #expect(control.cancel(id))
                #expect(!control.cancel(id), "a second request is a no-op")
            }
        }
        let token = try f.watchdog.watch(name: "hung", timeout: .seconds(1))
        let calls = Counter()
        token.onCancel { calls.increment() }
        f.clock.advance(by: .seconds(5))
        #expect(calls.count == 1)
        #expect(token.isCancellationRequested)

        #expect(!token.cancel())
        #expect(!f.watchdog.cancel(token.id))
        #expect(f.watchdog.cancelAll() == 0, "already cancelled")
        f.clock.advance(by: .seconds(5))
        #expect(calls.count == 1)

        // Registered after cancellation: runs at once, once.
        let late = Counter()
        token.onCancel { late.increment() }
        #expect(late.count == 1)
        #expect(token.finish() == false)
        #expect(calls.count == 1 && late.count == 1)
    }

    @Test func callbacksRunInRegistrationOrder() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "ordered", timeout: .seconds(1))
        let order = Collector<Int>()
        for i in 0..<5 { token.onCancel { order.append(i) } }
        #expect(token.cancel())
        #expect(order.values == [0, 1, 2, 3, 4])
    }

    @Test func finishedTokensAreNotCancelledAndDropTheirCallbacks() throws {
        let f = try ManualFixture()
        let token = try f.watchdog.watch(name: "done", timeout: .seconds(1))
        let calls = Counter()
        token.onCancel { calls.increment() }
        token.finish()
        #expect(!token.cancel())
        token.onCancel { calls.increment() }
        #expect(!f.watchdog.cancel(token.id))
        #expect(calls.count == 0 && !token.isCancellationRequested)
    }

    @Test func cancelAllOnGlobalTimeoutReachesEveryUnfinishedActivityOnce() throws {
        let f = try ManualFixture { event, control in
            if case .globalTimeout = event { _ = control.cancelAll() }
        }
        try f.watchdog.setGlobalTimeout(.seconds(10))
        var tokens: [WatchToken] = []
        var counters: [Counter] = []
        for i in 0..<100 {
            let token = try f.watchdog.watch(name: "w\(i)", timeout: .seconds(i % 2 == 0 ? 5 : 3_600))
            let counter = Counter()
            token.onCancel { counter.increment() }
            tokens.append(token)
            counters.append(counter)
        }
        for i in stride(from: 0, to: 100, by: 4) { tokens[i].finish() }  // finished: never cancelled
        f.clock.advance(by: .seconds(11))
        for i in 0..<100 {
            #expect(counters[i].count == (i % 4 == 0 ? 0 : 1), "token \(i)")
        }
        // Timed-out (even, unfinished) and still-running (odd) ones alike.
        #expect(f.timedOutIDs.count == 25)
        #expect(f.watchdog.cancelAll() == 0)
    }

    @Test func cancelOnTimeoutPolicy() throws {
        var configuration = Watchdog.Configuration()
        configuration.cancelOnTimeout = true
        let f = try ManualFixture(configuration: configuration)
        let slow = try f.watchdog.watch(name: "slow", timeout: .seconds(1))
        let fast = try f.watchdog.watch(name: "fast", timeout: .seconds(1))
        let sawCancelled = Counter()
        slow.onCancel { sawCancelled.increment() }
        fast.finish()
        f.clock.advance(by: .seconds(2))
        #expect(slow.isCancellationRequested && sawCancelled.count == 1)
        #expect(!fast.isCancellationRequested)
    }

    @Test func cancelAllOnGlobalTimeoutPolicy() throws {
        let f = try ManualFixture(configuration: Watchdog.Configuration(cancelAllOnGlobalTimeout: true))
        let a = try f.watchdog.watch(name: "a", timeout: .seconds(60))
        let b = try f.watchdog.watch(name: "b", timeout: .seconds(60))
        try f.watchdog.setGlobalTimeout(.seconds(1))
        f.clock.advance(by: .seconds(1))
        #expect(a.isCancellationRequested && b.isCancellationRequested)
        #expect(f.events.values == [.globalTimeout(elapsed: .seconds(1))])
    }

    @Test func cancelByIDFindsRunningActivities() throws {
        let f = try ManualFixture()
        let tokens = try (0..<10).map { try f.watchdog.watch(name: "r\($0)", timeout: .seconds(60)) }
        #expect(f.watchdog.cancel(tokens[7].id))
        #expect(tokens.map(\.isCancellationRequested) == (0..<10).map { $0 == 7 })
        #expect(!f.watchdog.cancel(WatchID(rawValue: 1 << 60)), "unknown id")
    }
}
