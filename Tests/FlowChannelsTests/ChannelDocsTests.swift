import Dispatch
import FlowChannels
import FlowTestSupport
import Testing

/// The examples of README.md (FlowChannels) and docs/Channels.md, compiled
/// and checked. `Scripts/check-doc-examples` keeps them identical to the docs.
///
/// Each example runs in the body of a function (`...Body()`), as the docs say
/// ("complete inside an `async throws` context"), not in a closure: in a
/// closure, `catch` would not infer the typed error of `send`.
@Suite("Channel docs", .timeLimit(.minutes(1)))
struct ChannelDocsTests {
    @Test func readmeExample() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.readmeBody() }
    }

    private static func readmeBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let executor = try Executor(workers: 4, name: "io")
        let lines = try Channel<String>(capacity: 1024)          // bounded: senders wait when full
        let total = try await withScope(on: executor) { scope in
            scope.spawnProducers(lines, count: 2) { index, producer in   // the channel closes after the last one
                for i in 0..<1_000 { try await producer.send("\(index)-\(i)") }
            }
            let counter = scope.spawn { var n = 0; for await _ in lines { n += 1 }; return n }
            return try await counter.value
        }
        print(total, lines.stats)                                // 2000 ChannelStats(capacity: 1024, sent: 2000, received: 2000, dropped: 0, …)

        await executor.shutdown()
        #expect(total == 2000)
        #expect(output.lines == ["2000 \(lines.stats)"])
        #expect(output.output.hasPrefix("2000 ChannelStats(capacity: 1024, sent: 2000, received: 2000, dropped: 0, "))
        #expect(lines.stats.isClosed && lines.stats.producers == 0)
    }

    @Test func channel() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.channelBody() }
    }

    private static func channelBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let channel = try Channel<Int>(capacity: 16)           // 0 = rendezvous
        let producer = Task {
            for i in 0..<100 { try await channel.send(i) }      // suspends while full
            channel.close()
        }
        var sum = 0
        for await x in channel { sum += x }                      // drains, then ends
        try await producer.value
        print(sum, channel.stats)                                // 4950 ChannelStats(... sent: 100, received: 100 ...)

        #expect(sum == 4950)
        #expect(output.output.hasPrefix("4950 ChannelStats(capacity: 16, sent: 100, received: 100, dropped: 0, depth: 0, "))
    }

    @Test func cancellationAndClose() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.cancellationAndCloseBody() }
    }

    private static func cancellationAndCloseBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let channel = try Channel<String>(capacity: 1)
        try await channel.send("a")
        let waiting = Task {
            do throws(SendError<String>) { try await channel.send("b") } catch { print(error.reason, error.element) }  // cancelled b
        }
        waiting.cancel()
        await waiting.value
        channel.close()
        do { try await channel.send("c") } catch { print(error.reason, error.element) }       // closed c
        print(await channel.receive() ?? "-", await channel.receive() ?? "nil")              // a nil

        #expect(output.lines == ["cancelled b", "closed c", "a nil"])
        #expect(channel.stats.sent == 1 && channel.stats.received == 1)
    }

    @Test func nonSuspendingAndBlockingEndpoints() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.nonSuspendingAndBlockingEndpointsBody() }
    }

    private static func nonSuspendingAndBlockingEndpointsBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let channel = try Channel<Int>(capacity: 2)
        switch channel.trySend(1) {
        case .sent: print("sent")
        case .dropped: print("dropped by the overflow policy")
        case .full(let x), .closed(let x): print("handed back", x)
        }
        print(channel.tryReceive() as Any)                       // Optional(1)

        // Plain threads (not tasks) use the blocking variants; never call them on a
        // cooperative or executor thread, they block it. (Needs `import Dispatch`.)
        let pipe = try Channel<Int>(capacity: 4)
        DispatchQueue.global().async {
            for i in 0..<10 { try! pipe.sendBlocking(i) }
            pipe.close()
        }
        DispatchQueue.global().async {
            while let x = pipe.receiveBlocking() { print(x) }   // 0 ... 9
        }

        #expect(await eventually { output.lines.count == 12 })
        #expect(output.lines == ["sent", "Optional(1)"] + (0..<10).map(String.init))
        #expect(pipe.stats.isClosed && pipe.stats.received == 10)
    }

    @Test func overflowPolicies() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.overflowPoliciesBody() }
    }

    private static func overflowPoliciesBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let latest = try Channel<Int>(capacity: 3, overflow: .dropOldest)
        for i in 0..<10 { try await latest.send(i) }             // never suspends
        print(latest.stats.dropped)                              // 7; buffer holds 7, 8, 9

        let strict = try Channel<Int>(capacity: 1, overflow: .fail)
        try await strict.send(1)
        do { try await strict.send(2) } catch { print(error.reason, error.element) }  // full 2

        #expect(output.lines == ["7", "full 2"])
        #expect([latest.tryReceive(), latest.tryReceive(), latest.tryReceive(), latest.tryReceive()] == [7, 8, 9, nil])
        #expect(strict.tryReceive() == 1)
    }

    @Test func producersCloseTheChannel() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.producersCloseTheChannelBody() }
    }

    private static func producersCloseTheChannelBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let channel = try Channel<Int>(capacity: 8)
        for p in 0..<3 {
            let producer = channel.makeProducer()               // registers a slot now
            Task { [producer = consume producer] in
                for i in 0..<10 { try await producer.send(p * 100 + i) }
            }                                                    // the slot is released here
        }
        var count = 0
        for await _ in channel { count += 1 }                    // ends after the third producer
        print(count)                                             // 30

        #expect(count == 30)
        #expect(output.lines == ["30"])
        #expect(channel.stats.isClosed && channel.stats.producers == 0 && channel.stats.sent == 30)
    }

    @Test func scopesAndJoinHandles() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.scopesAndJoinHandlesBody() }
    }

    private static func scopesAndJoinHandlesBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let executor = try Executor(workers: 4, name: "work")
        let total = try await withScope(on: executor, maxConcurrency: 8) { scope in
            let parts = (1...100).map { i in scope.spawn { i * i } }   // JoinHandle<Int>
            scope.spawn { print("fire and forget") }                    // the scope still waits for it
            return try await whenAll(parts).reduce(0, +)
        }
        print(total)                                                     // 338350
        await executor.shutdown()

        #expect(total == 338_350)
        #expect(output.lines == ["fire and forget", "338350"])   // the scope waited for the child
    }

    @Test func firstFailureCancelsTheScope() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.firstFailureCancelsTheScopeBody() }
    }

    private static func firstFailureCancelsTheScopeBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example
        let started = ContinuousClock.now

        do {
            try await withScope { scope in
                scope.spawn { try await Task.sleep(for: .seconds(60)) }  // cancelled by the failure below
                scope.spawn { throw LoadError.failed }
            }
        } catch {
            print("scope failed:", error)
        }

        enum LoadError: Error { case failed }

        #expect(output.lines == ["scope failed: failed"])
        #expect(ContinuousClock.now - started < .seconds(30))   // the sleeping child was cancelled
    }

    @Test func nestedScopesBlockingWorkProducersAndConsumers() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.nestedScopesBlockingWorkProducersAndConsumersBody() }
    }

    private static func nestedScopesBlockingWorkProducersAndConsumersBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        let channel = try Channel<Int>(capacity: 64)
        let results = Locked([Int]())
        try await withScope { scope in
            scope.spawnProducers(channel, count: 4) { index, producer in
                for i in 0..<1_000 { try await producer.send(index * 1_000 + i) }
            }                                                   // the last one closes the channel
            scope.spawnConsumers(channel, count: 2) { _, x in
                results.withLock { $0.append(x) }
            }
            let header = scope.spawnBlocking { readHeaderFromDisk() }   // runs on a Dispatch thread
            let checked = try await scope.scope { inner in              // waits for its own children
                try await whenAll((0..<10).map { i in inner.spawn { i } }).count
            }
            print(try await header.value, checked)
        }
        print(results.withLock { $0.count })                    // 4000

        @Sendable func readHeaderFromDisk() -> String { "header" }

        #expect(output.lines == ["header 10", "4000"])
        #expect(results.withLock { $0.sorted() } == Array(0..<4_000))
        #expect(channel.stats.isClosed && channel.stats.received == 4_000)
    }

    @Test func combinators() async throws {
        try await withTimeLimit(.seconds(30)) { try await Self.combinatorsBody() }
    }

    private static func combinatorsBody() async throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        try await withScope { scope in
            // All, same type, in order:
            let squares = try await whenAll((1...5).map { i in scope.spawn { i * i } })
            // All, different types (parameter packs):
            let (name, age) = try await whenAll(scope.spawn { "Ada" }, scope.spawn { 36 })
            // Any: the first to finish wins, the others are cancelled.
            let (index, value) = try await whenAny([
                scope.spawn { try await Task.sleep(for: .seconds(10)); return "disk" },
                scope.spawn { "cache" },
            ])
            print(squares, name, age, index, value)              // [1, 4, 9, 16, 25] Ada 36 1 cache
        }

        // Timeout: the body is cancelled and FlowError.timedOut is thrown.
        do {
            _ = try await withTimeout(.milliseconds(100)) { try await Task.sleep(for: .seconds(10)) }
        } catch let error as FlowError {
            print(error)                                         // withTimeout timed out after 0.1 seconds
        }

        #expect(output.lines == ["[1, 4, 9, 16, 25] Ada 36 1 cache", "withTimeout timed out after 0.1 seconds"])
    }

    @Test func waitGroupAndSemaphore() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let memory = try await Self.waitGroupAndSemaphoreBody(output)
            #expect(output.lines == ["700"])
            #expect(memory.available == 1_000)                     // the defer released the permits
        }
    }

    /// Returns the semaphore, to check that the example's `defer` released it.
    private static func waitGroupAndSemaphoreBody(_ output: PrintCapture) async throws -> AsyncSemaphore {
        let print = output.printer   // shadows Swift.print for the example

        let group = WaitGroup()
        let executor = try Executor(workers: 2)
        for i in 0..<100 {
            group.add()
            try executor.submit { _ = i * i; group.done() }
        }
        try await group.wait()                                  // cancellable

        let memory = try AsyncSemaphore(permits: 1_000)         // e.g. bytes in flight
        try await memory.acquire(300)                           // FIFO; never over-admits
        defer { memory.release(300) }
        print(memory.available)                                 // 700

        await executor.shutdown()
        #expect(executor.snapshot().executed == 100)
        #expect(memory.available == 700)
        return memory
    }
}
