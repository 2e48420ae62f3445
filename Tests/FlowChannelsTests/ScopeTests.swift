import FlowChannels
import FlowTestSupport
import Testing

struct Boom: Error, Equatable {
    var id: Int
}

@Suite("Scope and JoinHandle", .serialized, .timeLimit(.minutes(2)))
struct ScopeTests {
    @Test func joinWaitsForAllChildren() async throws {
        try await withTimeLimit(.seconds(60)) {
            let executor = try Executor(workers: 2, name: "scope-test")
            let done = Counter()
            let n = StressScale.scaled(2_000, minimum: 200)
            let onWorker = Counter()
            try await withScope(on: executor) { scope in
                for _ in 0..<n {
                    scope.spawn {
                        if executor.isCurrentThreadWorker { onWorker.add() }
                        await Task.yield()
                        done.add()
                    }
                }
                await scope.join()
                #expect(done.current == n)
                #expect(scope.outstandingChildren == 0)
            }
            #expect(onWorker.current == n)   // every child ran on the executor
            await executor.shutdown()
        }
    }

    @Test func leavingTheScopeWaitsForFireAndForgetChildren() async throws {
        try await withTimeLimit(.seconds(30)) {
            let done = Counter()
            let gate = Gate()
            try await withScope { scope in
                for _ in 0..<8 {
                    scope.spawn {
                        _ = await gate.waitAsync(timeout: .seconds(20))
                        done.add()
                    }
                }
                gate.open()
            }
            #expect(done.current == 8)
        }
    }

    @Test func joinHandleValueResultAndIsFinished() async throws {
        try await withTimeLimit(.seconds(30)) {
            try await withScope(errorPolicy: .collectAll) { scope in
                let ok = scope.spawn { 21 * 2 }
                let value = try await ok.value
                #expect(value == 42)
                #expect(ok.isFinished)
                let gate = Gate()
                let slow = scope.spawn { () async throws -> Int in
                    _ = await gate.waitAsync(timeout: .seconds(20))
                    try Task.checkCancellation()
                    return 1
                }
                #expect(!slow.isFinished)
                slow.cancel()
                gate.open()
                guard case .failure(let error) = await slow.result else { Issue.record("expected failure"); return }
                #expect(error is CancellationError)
                #expect(slow.isCancelled)
            }
        }
    }

    @Test func firstErrorCancelsSiblingsAndIsRethrown() async throws {
        try await withTimeLimit(.seconds(30)) {
            let cancelledSiblings = Counter()
            let started = Latch(count: 6)
            do {
                try await withScope { scope in
                    for _ in 0..<6 {
                        scope.spawn {
                            started.countDown()
                            // Waits until cancelled (bounded by the time limit).
                            _ = try? await Task.sleep(for: .seconds(60))
                            if Task.isCancelled { cancelledSiblings.add() }
                        }
                    }
                    scope.spawn {
                        _ = await started.waitAsync(timeout: .seconds(20))
                        throw Boom(id: 1)
                    }
                }
                Issue.record("the scope should rethrow")
            } catch let error as Boom {
                #expect(error == Boom(id: 1))
            }
            #expect(cancelledSiblings.current == 6)
        }
    }

    @Test func collectAllKeepsEveryError() async throws {
        try await withTimeLimit(.seconds(30)) {
            let finished = Counter()
            do {
                try await withScope(errorPolicy: .collectAll) { scope in
                    for i in 0..<3 { scope.spawn { throw Boom(id: i) } }
                    for _ in 0..<3 { scope.spawn { await Task.yield(); finished.add() } }
                }
                Issue.record("the scope should throw")
            } catch let error as ScopeErrors {
                #expect(error.errors.compactMap { ($0 as? Boom)?.id }.sorted() == [0, 1, 2])
            }
            #expect(finished.current == 3)
        }
    }

    @Test func bodyErrorCancelsChildrenAndIsRethrown() async throws {
        try await withTimeLimit(.seconds(30)) {
            let cancelled = Counter()
            let started = Gate()
            await #expect(throws: Boom(id: 9)) {
                try await withScope { scope in
                    scope.spawn {
                        started.open()
                        _ = try? await Task.sleep(for: .seconds(60))
                        if Task.isCancelled { cancelled.add() }
                    }
                    _ = await started.waitAsync(timeout: .seconds(20))
                    throw Boom(id: 9)
                }
            }
            #expect(cancelled.current == 1)
        }
    }

    @Test func cancellingTheEnclosingTaskCancelsTheScope() async throws {
        try await withTimeLimit(.seconds(30)) {
            let started = Gate()
            let cancelled = Counter()
            let outer = Task {
                try await withScope { scope in
                    scope.spawn {
                        started.open()
                        _ = try? await Task.sleep(for: .seconds(60))
                        if Task.isCancelled { cancelled.add() }
                    }
                    await scope.join()
                    #expect(scope.isCancellationRequested)
                }
            }
            #expect(await started.waitAsync(timeout: .seconds(20)))
            outer.cancel()
            try await outer.value
            #expect(cancelled.current == 1)
        }
    }

    @Test func nestedScopesFinishAndCancelWithTheirParent() async throws {
        try await withTimeLimit(.seconds(30)) {
            let inner = Counter()
            let total = try await withScope { scope in
                let sum = try await scope.scope { child in
                    let parts = (1...10).map { i in child.spawn { inner.add(); return i } }
                    return try await whenAll(parts).reduce(0, +)
                }
                #expect(inner.current == 10)
                return sum
            }
            #expect(total == 55)

            // A failing sibling cancels a nested scope's children too.
            let nestedCancelled = Counter()
            let nestedStarted = Gate()
            await #expect(throws: Boom(id: 2)) {
                try await withScope { scope in
                    scope.spawn {
                        try await scope.scope { child in
                            child.spawn {
                                nestedStarted.open()
                                _ = try? await Task.sleep(for: .seconds(60))
                                if Task.isCancelled { nestedCancelled.add() }
                            }
                        }
                    }
                    scope.spawn {
                        _ = await nestedStarted.waitAsync(timeout: .seconds(20))
                        throw Boom(id: 2)
                    }
                }
            }
            #expect(nestedCancelled.current == 1)
        }
    }

    @Test(arguments: [1, 3])
    func maxConcurrencyIsNeverExceeded(limit: Int) async throws {
        try await withTimeLimit(.seconds(60)) {
            let executor = try Executor(workers: 2, name: "limit-test")
            let running = Counter(), peak = Counter(), done = Counter()
            let n = StressScale.scaled(400, minimum: 50)
            try await withScope(on: executor, maxConcurrency: limit) { scope in
                for _ in 0..<n {
                    scope.spawn {
                        peak.raise(to: running.add())
                        await Task.yield()
                        await Task.yield()
                        running.add(-1)
                        done.add()
                    }
                }
            }
            #expect(done.current == n)
            #expect(peak.current <= limit)
            #expect(peak.current >= 1)
            await executor.shutdown()
        }
    }

    @Test func invalidMaxConcurrencyThrows() async {
        await #expect(throws: FlowError.self) {
            try await withScope(maxConcurrency: 0) { _ in }
        }
    }

    @Test func spawnBlockingRunsOffThePool() async throws {
        try await withTimeLimit(.seconds(30)) {
            let gate = Gate()
            try await withScope { scope in
                // Blocks a Dispatch thread, not a cooperative one.
                let blocked = scope.spawnBlocking { gate.wait(timeout: .seconds(20)) }
                let other = scope.spawn { 7 }
                let seven = try await other.value
                #expect(seven == 7)
                gate.open()
                let opened = try await blocked.value
                #expect(opened)
            }
        }
    }

    @Test func producersAndConsumersHelpers() async throws {
        try await withTimeLimit(.seconds(60)) {
            let executor = try Executor(workers: 2, name: "pc-test")
            let channel = try Channel<Tagged>(capacity: 8)
            let perProducer = StressScale.scaled(5_000, minimum: 500)
            let received = Collector<Tagged>()
            try await withScope(on: executor) { scope in
                scope.spawnConsumers(channel, count: 3) { _, item in received.append(item) }
                scope.spawnProducers(channel, count: 4) { index, producer in
                    // Producer 0 ends at once: the channel must stay open for the others.
                    guard index > 0 else { return }
                    for i in 0..<perProducer { try await producer.send(Tagged(producer: index, seq: i)) }
                }
            }
            let sent = (1..<4).flatMap { p in (0..<perProducer).map { Tagged(producer: p, seq: $0) } }
            #expect(Stress.conservationViolation(sent: sent, received: received.values) == nil)
            #expect(channel.isClosed && channel.stats.producers == 0)
            await executor.shutdown()
        }
    }

    /// Producers that never get a concurrency slot (the scope is cancelled
    /// first) still release their slots, so the channel closes.
    @Test func unstartedProducersStillCloseTheChannel() async throws {
        try await withTimeLimit(.seconds(30)) {
            let channel = try Channel<Int>(capacity: 4)
            let ran = Counter()
            let gate = Gate(), holding = Gate()
            try await withScope(maxConcurrency: 1) { scope in
                scope.spawn {                       // holds the only slot
                    holding.open()
                    _ = await gate.waitAsync(timeout: .seconds(20))
                }
                #expect(await holding.waitAsync(timeout: .seconds(20)))
                scope.spawnProducers(channel, count: 3) { _, producer in
                    ran.add()
                    try await producer.send(1)
                }
                #expect(channel.stats.producers == 3)
                scope.cancel()
                gate.open()
            }
            #expect(ran.current == 0)
            #expect(channel.isClosed && channel.stats.producers == 0)
        }
    }
}
