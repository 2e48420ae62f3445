@testable import FlowPipeline
import FlowTestSupport
import Testing

/// The per-item fast paths: tasks started without an executor preference
/// when no executor is given, `submit` and `results` running on the
/// caller's executor, one clock reading per item, rare effects kept off the
/// per-item path, reserved batch arrays.
@Suite("Stage fast paths", .serialized, .timeLimit(.minutes(5)))
struct StageFastPathTests {
    /// With an executor, a stage's workers and a pipe's workers still run on it.
    @Test func workersRunOnTheGivenExecutor() async throws {
        let executor = try Executor(workers: 2, name: "stage-fast-path")
        defer { executor.shutdown() }
        try await withTimeLimit(.seconds(60)) {
            let options = StageOptions<Int>(capacity: 4, workers: 2, executor: executor)
            let head = try Stage<Int, Bool>(options: options) { _ in executor.isCurrentThreadWorker }
            let piped = try pipe(from: head.results, options: StageOptions(capacity: 4, executor: executor)) { (x: Bool) in
                x && executor.isCurrentThreadWorker
            }
            let producer = Task {
                for i in 0..<200 { try await head.submit(i) }
                head.closeInput()
            }
            let results = await collect(piped.results)
            try await producer.value
            #expect(results.count == 200)
            #expect(successes(results).allSatisfy { $0 }, "a body ran off the executor")
            #expect(await piped.wait() == nil)
            #expect(await head.wait() == nil)
        }
    }

    /// Without an executor, bodies run on the global executor (not on a Flow executor's threads).
    @Test func workersRunOnTheGlobalExecutorByDefault() async throws {
        let executor = try Executor(workers: 1, name: "unused")
        defer { executor.shutdown() }
        try await withTimeLimit(.seconds(60)) {
            let stage = try Stage<Int, Bool>(options: StageOptions(capacity: 4)) { _ in executor.isCurrentThreadWorker }
            let producer = Task {
                for i in 0..<50 { try await stage.submit(i) }
                stage.closeInput()
            }
            let results = await collect(stage.results)
            try await producer.value
            #expect(results.count == 50)
            #expect(successes(results).allSatisfy { !$0 })
        }
    }

    /// `submit` and `for await` over `results` run on the caller's executor
    /// (no hop): from the main actor, with waits on both sides (tiny buffers).
    @MainActor @Test func submitAndResultsFromAnActor() async throws {
        let stage = try Stage<Int, Int>(options: StageOptions(capacity: 1, maxWIP: 1, outputCapacity: 1)) { x in x * 3 }
        let piped = try pipe(from: stage.results, options: StageOptions(capacity: 1, outputCapacity: 1)) { (x: Int) in x + 1 }
        let consumer = Task { @MainActor in
            var sum = 0
            for await r in piped.results {
                MainActor.assertIsolated()
                sum += try r.get()
            }
            return sum
        }
        for i in 0..<300 {
            try await stage.submit(i)
            MainActor.assertIsolated()
        }
        stage.closeInput()
        let sum = try await withTimeLimit(.seconds(60)) { try await consumer.value }
        #expect(sum == 3 * (299 * 300 / 2) + 300)
        #expect(await piped.wait() == nil)
        expectFinalInvariants(stage.stats)
        expectFinalInvariants(piped.stats, piped: true)
    }

    /// The 4-step shape of the benchmark (stage, batch, pipe, pipe), many
    /// rounds: every item is counted once, sums are exact, every stats
    /// invariant holds; some rounds cancel the head mid-stream.
    @Test func fourStepPipelineConservesItemsOverManyRounds() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(100, minimum: 10) {
                let n = 500 + round * 7
                let cancelAt = round % 3 == 2 ? Int.random(in: 0..<n) : -1
                let head = try Stage<Int, Int>(options: StageOptions(capacity: round % 7, outputCapacity: 1 + round % 5)) { x in
                    x &+ 1
                }
                let size = 1 + round % 16
                let batched = try batch(from: head.results, size: size, outputCapacity: 1 + round % 3)
                let summed = try pipe(from: batched.results, options: StageOptions(capacity: round % 4, outputCapacity: 2)) {
                    (b: [Int]) in b.reduce(0, &+)
                }
                let doubled = try pipe(from: summed.results, options: StageOptions(capacity: 1, outputCapacity: 1)) { (x: Int) in
                    x &* 2
                }
                let producer = Task {
                    for i in 0..<n {
                        if i == cancelAt { head.cancel() }
                        do { try await head.submit(i) } catch { break }
                    }
                    head.closeInput()
                }
                let results = await collect(doubled.results)
                await producer.value
                _ = await doubled.wait(); _ = await summed.wait(); _ = await batched.wait()
                let cause = await head.cause()
                let h = head.stats, b = batched.stats, s = summed.stats, d = doubled.stats
                expectFinalInvariants(h)
                expectFinalInvariants(s, piped: true)
                expectFinalInvariants(d, piped: true)
                #expect(b.received == b.emitted + b.forwarded + b.dropped, "round \(round): \(b)")
                #expect(b.received == h.submitted, "round \(round)")
                #expect(s.received == b.batchCount + b.forwarded, "round \(round)")
                #expect(d.received == s.completed + s.forwarded, "round \(round)")
                #expect(Int64(results.count) == d.completed + d.forwarded, "round \(round)")
                if cancelAt < 0 {
                    #expect(cause.isCompleted, "round \(round)")
                    #expect(h.submitted == Int64(n) && h.canceled == 0, "round \(round)")
                    #expect(b.batchCount == Int64((n + size - 1) / size), "round \(round)")
                    #expect(successes(results).reduce(0, &+) == n * (n + 1), "round \(round)")
                } else {
                    // Canceled head items travel down as CancellationError failures.
                    #expect(b.forwarded == h.canceled, "round \(round)")
                    #expect(results.filter(isCancellation).count == Int(h.canceled), "round \(round)")
                }
            }
        }
    }

    /// Fail-fast with the per-item fast paths: in-flight successes are still
    /// delivered, buffered items come out canceled, blocked submits are released.
    @Test func failFastAnswersEveryAcceptedItemOverManyRounds() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(100, minimum: 10) {
                let failAt = Int.random(in: 0..<300)
                let stage = try Stage<Int, Int>(options: StageOptions(capacity: 1 + round % 8, workers: 1 + round % 2)) { x in
                    if x == failAt { throw StageTestError("fail") }
                    return x
                }
                let consumer = Task { await collect(stage.results) }
                let accepted = Collector<Int>()
                let producer = Task {
                    for i in 0..<300 {
                        do { try await stage.submit(i); accepted.append(i) } catch { break }
                    }
                    stage.closeInput()
                }
                await producer.value
                let results = await consumer.value
                #expect(results.count == accepted.values.count, "round \(round)")
                let s = stage.stats
                expectFinalInvariants(s)
                #expect(s.submitted == Int64(accepted.values.count), "round \(round)")
                #expect(Int64(results.filter(isCancellation).count) == s.canceled, "round \(round)")
                if case .failed = await stage.cause() {} else { Issue.record("round \(round): expected a fail-fast cause") }
            }
        }
    }

    /// The service time still adds up without the distribution (one reading
    /// per item) and with it (two readings per body).
    @Test func serviceTimeCoversTheBodies() async throws {
        for distribution in [false, true] {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 2, tracksServiceTimeDistribution: distribution)) { x in
                var spin = 0
                let end = ContinuousClock.now + .microseconds(200)
                while ContinuousClock.now < end { spin &+= 1 }
                return x &+ spin &- spin
            }
            let producer = Task {
                for i in 0..<20 { try await stage.submit(i) }
                stage.closeInput()
            }
            let results = await collect(stage.results)
            try await producer.value
            #expect(await stage.wait() == nil)
            let s = stage.stats
            #expect(results.count == 20)
            #expect(s.serviceTime >= .microseconds(200) * 20, "distribution \(distribution): \(s.serviceTime)")
            if distribution { #expect(s.serviceTimeDistribution?.count == 20) }
        }
    }
}
