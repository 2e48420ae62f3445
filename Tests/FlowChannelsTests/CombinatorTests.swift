import FlowChannels
import FlowTestSupport
import Testing

@Suite("whenAll, whenAny, withTimeout, WaitGroup, AsyncSemaphore", .serialized, .timeLimit(.minutes(2)))
struct CombinatorTests {
    @Test func whenAllKeepsOrder() async throws {
        try await withTimeLimit(.seconds(30)) {
            let values = try await withScope { scope in
                try await whenAll((0..<50).map { i in scope.spawn { i * 2 } })
            }
            #expect(values == (0..<50).map { $0 * 2 })
        }
    }

    @Test func whenAllVariadicMixesTypes() async throws {
        try await withTimeLimit(.seconds(30)) {
            let (a, b, c) = try await withScope { scope in
                try await whenAll(scope.spawn { 1 }, scope.spawn { "two" }, scope.spawn { [3.0] })
            }
            #expect(a == 1 && b == "two" && c == [3.0])
        }
    }

    @Test func whenAllFailureCancelsTheOthers() async throws {
        try await withTimeLimit(.seconds(30)) {
            let cancelled = Counter()
            let started = Latch(count: 4)
            await #expect(throws: Boom(id: 3)) {
                try await withScope(errorPolicy: .collectAll) { scope in
                    var handles = (0..<4).map { _ in
                        scope.spawn { () async throws -> Int in
                            started.countDown()
                            _ = try? await Task.sleep(for: .seconds(60))
                            if Task.isCancelled { cancelled.add() }
                            throw CancellationError()
                        }
                    }
                    handles.append(scope.spawn {
                        _ = await started.waitAsync(timeout: .seconds(20))
                        throw Boom(id: 3)
                    })
                    do { _ = try await whenAll(handles) } catch let error as Boom { throw error }
                }
            }
            #expect(cancelled.current == 4)
        }
    }

    @Test func whenAnyReturnsTheWinnerAndCancelsLosers() async throws {
        try await withTimeLimit(.seconds(30)) {
            let losersCancelled = Counter()
            let losersStarted = Latch(count: 3)
            let (index, value) = try await withScope { scope in
                var handles: [JoinHandle<String>] = []
                for i in 0..<4 {
                    handles.append(scope.spawn {
                        if i == 2 {
                            _ = await losersStarted.waitAsync(timeout: .seconds(20))
                            return "winner"
                        }
                        losersStarted.countDown()
                        _ = try? await Task.sleep(for: .seconds(60))
                        if Task.isCancelled { losersCancelled.add() }
                        throw CancellationError()
                    })
                }
                return try await whenAny(handles)
            }
            #expect(index == 2 && value == "winner")
            #expect(losersCancelled.current == 3)   // the scope waited for them
        }
    }

    @Test func whenAnyRethrowsAWinningError() async throws {
        _ = try await withTimeLimit(.seconds(30)) {
            await #expect(throws: Boom(id: 5)) {
                try await withScope(errorPolicy: .collectAll) { scope in
                    let slow = scope.spawn { () async throws -> Int in
                        try await Task.sleep(for: .seconds(60))
                        return 0
                    }
                    let fast = scope.spawn { () async throws -> Int in throw Boom(id: 5) }
                    do { _ = try await whenAny([slow, fast]) } catch let error as Boom { throw error }
                }
            }
        }
    }

    @Test func withTimeoutReturnsInTime() async throws {
        try await withTimeLimit(.seconds(30)) {
            let value = try await withTimeout(.seconds(20)) { 5 }
            #expect(value == 5)
        }
    }

    @Test func withTimeoutFiresAndCancelsTheBody() async throws {
        try await withTimeLimit(.seconds(30)) {
            let bodyCancelled = Counter()
            let channel = try Channel<Int>(capacity: 0)
            await #expect(throws: FlowError.timedOut(what: "withTimeout", after: .milliseconds(50))) {
                try await withTimeout(.milliseconds(50)) {
                    // Waits for an element that never comes.
                    let x = await channel.receive()
                    if Task.isCancelled { bodyCancelled.add() }
                    return x
                }
            }
            #expect(bodyCancelled.current == 1)
            #expect(channel.stats.suspendedReceivers == 0)
        }
    }

    @Test func waitGroupWaitsForDone() async throws {
        try await withTimeLimit(.seconds(30)) {
            let executor = try Executor(workers: 2, name: "wg-test")
            let group = WaitGroup()
            let done = Counter()
            let n = 1_000
            for _ in 0..<n {
                group.add()
                try executor.submit { done.add(); group.done() }
            }
            try await group.wait()
            #expect(done.current == n && group.count == 0)
            try await WaitGroup().wait()   // zero: returns at once
            await executor.shutdown()
        }
    }

    @Test func waitGroupWaitIsCancellable() async throws {
        try await withTimeLimit(.seconds(30)) {
            let group = WaitGroup()
            group.add()
            let waiter = Task { () -> Bool in
                do { try await group.wait(); return false } catch { return true }
            }
            waiter.cancel()
            #expect(await waiter.value)
            group.done()
        }
    }

    @Test func semaphorePeakNeverAboveCapacity() async throws {
        try await withTimeLimit(.seconds(60)) {
            let semaphore = try AsyncSemaphore(permits: 5)
            let held = Counter(), peak = Counter()
            let tasks = StressScale.scaled(200, minimum: 40)
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<tasks {
                    group.addTask {
                        let weight = 1 + i % 3
                        try! await semaphore.acquire(weight)
                        peak.raise(to: held.add(weight))
                        await Task.yield()
                        held.add(-weight)
                        semaphore.release(weight)
                    }
                }
            }
            #expect(peak.current <= 5)
            #expect(semaphore.available == 5 && semaphore.waiting == 0)
        }
    }

    @Test func semaphoreIsFIFO() async throws {
        try await withTimeLimit(.seconds(30)) {
            let semaphore = try AsyncSemaphore(permits: 3)
            try await semaphore.acquire(3)
            let order = Collector<Int>()
            var tasks: [Task<Void, Never>] = []
            // A big request queued first is not overtaken by smaller ones.
            // (Weights 3, 2, 2 of 3 permits: each admission waits for the one
            // before to release, so the order of appends is the admission order.)
            for (i, weight) in [3, 2, 2].enumerated() {
                tasks.append(Task {
                    try! await semaphore.acquire(weight)
                    order.append(i)
                    semaphore.release(weight)
                })
                #expect(await eventually { semaphore.waiting == i + 1 })
            }
            #expect(!semaphore.tryAcquire(1))
            semaphore.release(2)                    // enough for the second, not the first
            #expect(semaphore.waiting == 3 && semaphore.available == 2)   // admission happens inside release
            semaphore.release(1)
            for t in tasks { await t.value }
            #expect(order.values == [0, 1, 2])
        }
    }

    @Test func cancelledSemaphoreWaiterTakesNothingAndUnblocksOthers() async throws {
        try await withTimeLimit(.seconds(30)) {
            let semaphore = try AsyncSemaphore(permits: 2)
            try await semaphore.acquire(1)
            let big = Task { () -> Bool in
                do { try await semaphore.acquire(2); return true } catch { return false }
            }
            #expect(await eventually { semaphore.waiting == 1 })
            let small = Task { try await semaphore.acquire(1) }
            #expect(await eventually { semaphore.waiting == 2 })
            big.cancel()
            #expect(await big.value == false)
            try await small.value                // admitted once the head left
            #expect(semaphore.available == 0)
            semaphore.release(2)
            #expect(semaphore.available == 2)
        }
    }
}
