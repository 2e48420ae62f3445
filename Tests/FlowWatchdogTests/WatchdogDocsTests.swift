import FlowTestSupport
import FlowWatchdog
import Testing

/// The examples of README.md (FlowWatchdog) and docs/Watchdog.md, compiled
/// and checked. `Scripts/check-doc-examples` keeps them identical to the
/// docs. (The wiring examples of "How the layers above use it" need an
/// executor: they are in Tests/FlowPipelineTests/WatchdogWiringDocsTests.swift.)
@Suite("Watchdog docs", .timeLimit(.minutes(1)))
struct WatchdogDocsTests {
    @Test func readmeExample() throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example
        // The example's progress probe: a count of finished items and of waiting ones.
        let probes = Counter()
        @Sendable func itemsDone() -> Int { probes.increment(); return 10 }
        @Sendable func itemsWaiting() -> Int { 0 }

        let watchdog = try Watchdog { event, control in
            print(event)                                   // reported once per activity
            if case .taskTimedOut(_, _, let id) = event { control.cancel(id) }
        }
        try watchdog.setGlobalTimeout(.seconds(60))
        let token = try watchdog.watch(name: "chunk-3", timeout: .seconds(2))
        token.onCancel { print("asked to stop") }
        // … work, calling token.heartbeat() as it makes progress …
        token.finish()                                     // in time: no event
        try watchdog.monitorProgress(checkEvery: .seconds(1), stallAfter: .seconds(10)) {
            (progress: itemsDone(), pending: itemsWaiting())   // stalled / recovered / deadlocked events
        }

        #expect(probes.count >= 1)             // the baseline sample, taken on this thread
        #expect(token.isFinished && !token.hasTimedOut && !token.isCancellationRequested)
        #expect(watchdog.isResponsive)
        watchdog.stop()
        #expect(watchdog.recentEvents.isEmpty)
        #expect(output.lines.isEmpty)          // nothing timed out, nothing was cancelled
    }

    @Test func firstExample() throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        func work(_ chunk: Int, _ step: Int) -> Int { (chunk &* 31) ^ step }

        let watchdog = try Watchdog { event, control in
            print(event)                                   // e.g. watchdog: task 'chunk-3' (#97) timed out after 2 s
            switch event {
            case .taskTimedOut(_, _, let id): control.cancel(id)   // ask that activity to stop
            case .globalTimeout:              control.cancelAll()  // ask everything to stop
            default: break
            }
        }
        try watchdog.setGlobalTimeout(.seconds(60))

        var total = 0
        for chunk in 0..<8 {
            let token = try watchdog.watch(name: "chunk-\(chunk)", timeout: .seconds(2))
            token.onCancel { print("chunk \(chunk) asked to stop") }
            for step in 0..<1_000 {
                if token.isCancellationRequested { break }
                total &+= work(chunk, step)
                token.heartbeat()                          // still alive: push the deadline back
            }
            token.finish()                                 // in time: no event
        }
        print("total \(total), events: \(watchdog.recentEvents)")   // events: []
        watchdog.stop()                                    // or just drop it: deinit stops and joins

        var expected = 0
        for chunk in 0..<8 { for step in 0..<1_000 { expected &+= (chunk &* 31) ^ step } }
        #expect(total == expected)
        #expect(output.lines == ["total \(expected), events: []"])
        #expect(watchdog.totalEvents == 0)
    }

    @Test func manualClock() throws {
        let clock = ManualClock()
        let watchdog = try Watchdog(clock: .manual(clock))
        let token = try watchdog.watch(name: "parse", timeout: .seconds(2))
        clock.advance(by: .seconds(1))
        token.heartbeat()                         // deadline now t = 3 s
        clock.advance(by: .seconds(5))
        assert(watchdog.recentEvents == [.taskTimedOut(name: "parse", elapsed: .seconds(3), id: token.id)])

        #expect(watchdog.recentEvents == [.taskTimedOut(name: "parse", elapsed: .seconds(3), id: token.id)])
        #expect(token.hasTimedOut)
        #expect(token.finish() == false)          // too late
        #expect(clock.now == .seconds(6))
        #expect(watchdog.recentEvents.map(\.description) == ["watchdog: task 'parse' (\(token.id)) timed out after 3 s"])
    }
}
