@testable import FlowPipeline
import FlowTestSupport
import Testing

/// Race tests, run many rounds (scaled down under ThreadSanitizer by FLOW_STRESS_SCALE).
@Suite("Stage stress", .serialized, .timeLimit(.minutes(5)))
struct StageStressTests {
    /// Seed contract: every submit that returned yields exactly one result,
    /// also when closeInput races the submitters.
    @Test func cardinalityUnderSubmitCloseRace() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(200, minimum: 20) {
                let workers = 1 + round % 3
                let stage = try Stage<Int, Int>(options: StageOptions(capacity: round % 5, workers: workers, outputCapacity: 2)) { $0 }
                let consumer = Task { await collect(stage.results) }
                let accepted = Collector<Int>()
                let closeAfter = Int.random(in: 0..<200)
                await withTaskGroup(of: Void.self) { group in
                    for p in 0..<4 {
                        group.addTask {
                            for i in 0..<100 {
                                let item = p * 1000 + i
                                do { try await stage.submit(item); accepted.append(item) } catch { return }
                            }
                        }
                    }
                    group.addTask {
                        while stage.stats.submitted < closeAfter, stage.stats.submitted < 400 { await Task.yield() }
                        stage.closeInput()
                    }
                }
                stage.closeInput()
                let results = await consumer.value
                #expect(Stress.conservationViolation(sent: accepted.values, received: successes(results)) == nil, "round \(round)")
                #expect(await stage.wait() == nil)
                let s = stage.stats
                expectFinalInvariants(s)
                #expect(s.submitted == Int64(accepted.values.count))
            }
        }
    }

    /// Seed contract: fail-fast releases every blocked submit; accepted items
    /// still yield exactly one result each.
    @Test func failFastReleasesBlockedSubmitsUnderRace() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(200, minimum: 20) {
                let failAt = Int.random(in: 0..<300)
                let stage = try Stage<Int, Int>(options: StageOptions(capacity: 2, workers: 2, maxWIP: 3)) { x in
                    if x % 1000 == failAt % 100 && x / 1000 == failAt / 100 { throw StageTestError("fail") }
                    await Task.yield()
                    return x
                }
                let consumer = Task { await collect(stage.results) }
                let accepted = Collector<Int>()
                await withTaskGroup(of: Void.self) { group in
                    for p in 0..<3 {
                        group.addTask {
                            for i in 0..<100 {
                                do { try await stage.submit(p * 1000 + i); accepted.append(p * 1000 + i) } catch { return }
                            }
                        }
                    }
                }
                stage.closeInput()
                let results = await consumer.value
                #expect(results.count == accepted.values.count, "round \(round)")
                let cause = await stage.cause()
                let s = stage.stats
                expectFinalInvariants(s)
                #expect(s.submitted == Int64(accepted.values.count))
                #expect(cause.isCompleted == (s.failed == 0))
            }
        }
    }

    /// Seed contract: cause() is latched once when cancel races a worker error;
    /// wait() agrees with it.
    @Test func causeLatchesWhenCancellationRacesWorkerError() async throws {
        try await withTimeLimit(.seconds(240)) {
            var seen = (failed: 0, cancelled: 0)
            for _ in 0..<StressScale.scaled(300, minimum: 30) {
                let stage = try Stage<Int, Int>(options: StageOptions(capacity: 1, workers: 2)) { _ in
                    await Task.yield()
                    throw StageTestError("worker")
                }
                let consumer = Task { await collect(stage.results) }
                try await stage.submit(1)
                let canceller = Task { stage.cancel() }
                try? await stage.submit(2)
                await canceller.value
                stage.closeInput()
                let results = await consumer.value
                let first = await stage.cause()
                let again = await stage.cause()
                let waited = await stage.wait()
                switch (first, again) {
                case (.failed, .failed):
                    seen.failed += 1
                    #expect(waited is StageTestError)
                case (.cancelled, .cancelled):
                    seen.cancelled += 1
                    #expect(waited == nil)
                default:
                    Issue.record("cause not latched: \(first) then \(again)")
                }
                stage.cancel()
                #expect("\(await stage.cause())" == "\(first)")
                #expect(results.count == Int(stage.stats.submitted))
                expectFinalInvariants(stage.stats)
            }
            #expect(seen.failed + seen.cancelled > 0)
        }
    }

    /// Seed contract: resizing workers while items flow loses and duplicates nothing.
    @Test func resizingWorkersLosesNothing() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(60, minimum: 6) {
                let n = 2000
                let stage = try Stage<Int, Int>(options: StageOptions(capacity: 8, outputCapacity: 4)) { x in
                    if x % 7 == 0 { await Task.yield() }
                    return x
                }
                let consumer = Task { await collect(stage.results) }
                let resizer = Task {
                    var k = 0
                    while !Task.isCancelled {
                        _ = try? stage.setWorkers(1 + (k + round) % 4)
                        k += 1
                        await Task.yield()
                    }
                }
                for i in 0..<n { try await stage.submit(i) }
                stage.closeInput()
                let results = await consumer.value
                resizer.cancel()
                await resizer.value
                #expect(Stress.conservationViolation(sent: 0..<n, received: successes(results)) == nil, "round \(round)")
                #expect(await stage.wait() == nil)
                let s = stage.stats
                expectFinalInvariants(s)
                #expect(s.submitted == Int64(n) && s.completed == Int64(n))
            }
        }
    }

    /// Every operator drains its source after cancellation, counts what it
    /// drops, and its invariants hold; the upstream stage is never left blocked.
    @Test func operatorInvariantsAfterCancellation() async throws {
        try await withTimeLimit(.seconds(240)) {
            for round in 0..<StressScale.scaled(100, minimum: 10) {
                let n = 300
                let cancelAt = Int.random(in: 0..<60)
                func head() throws -> Stage<Int, Int> {
                    let stage = try Stage<Int, Int>(options: StageOptions(capacity: 4, continueOnError: true)) { x in
                        if x % 50 == 49 { throw StageTestError("\(x)") }
                        return x
                    }
                    Task {
                        for i in 0..<n { try await stage.submit(i) }
                        stage.closeInput()
                    }
                    return stage
                }
                // Reads `results`, cancelling after `cancelAt` elements, then drains.
                func consume<T: Sendable>(_ results: StageResults<Result<T, any Error>>, cancel: @Sendable () -> Void) async -> Int {
                    var k = 0
                    for await _ in results {
                        k += 1
                        if k == cancelAt { cancel() }
                    }
                    return k
                }

                // pipe
                let h1 = try head()
                let piped = try pipe(from: h1.results, options: StageOptions(capacity: 2, workers: 2)) { (x: Int) in x }
                _ = await consume(piped.results) { piped.cancel() }
                _ = await piped.cause()
                expectFinalInvariants(piped.stats, piped: true)
                #expect(piped.stats.received == Int64(n), "round \(round): pipe drained its upstream")
                #expect(await h1.wait() == nil)

                // batch
                let h2 = try head()
                let b = try batch(from: h2.results, size: 3)
                _ = await consume(b.results) { b.cancel() }
                _ = await b.wait()
                let bs = b.stats
                #expect(bs.received == Int64(n) && bs.received == bs.emitted + bs.forwarded + bs.dropped, "round \(round): \(bs)")
                #expect(await h2.wait() == nil)

                // tee (branch 1 is read to the end; branch 0 cancels)
                let h3 = try head()
                let t = try tee(from: h3.results, branches: 2)
                let other = Task { await collect(t.branches[1]) }
                _ = await consume(t.branches[0]) { t.cancel() }
                _ = await other.value
                _ = await t.wait()
                let ts = t.stats
                #expect(ts.received == Int64(n) && ts.received == ts.fullyDelivered + ts.partiallyDelivered + ts.undelivered)
                #expect(ts.partiallyDelivered <= 1)
                #expect(await h3.wait() == nil)

                // merge
                let h4 = try head(), h5 = try head()
                let m = try merge([h4.results, h5.results])
                _ = await consume(m.results) { m.cancel() }
                _ = await m.wait()
                let ms = m.stats
                #expect(ms.received == Int64(2 * n) && ms.received == ms.forwarded + ms.dropped)
                for i in 0..<2 { #expect(ms.sourceReceived[i] == ms.sourceForwarded[i] + ms.sourceDropped[i]) }
                #expect(await h4.wait() == nil)
                #expect(await h5.wait() == nil)

                // join (extra items drained)
                let h6 = try head(), h7 = try head()
                let j = join(h6.results, h7.results) { x, y in x + y }
                if round % 2 == 0 { j.cancel() }
                _ = await collect(j.results)
                _ = await j.wait()
                let js = j.stats
                #expect(js.receivedA == Int64(n) && js.receivedA == js.combined + js.discardedA + js.extraA)
                #expect(js.receivedB == Int64(n) && js.receivedB == js.combined + js.discardedB + js.extraB)
                #expect(js.combined + js.errors <= 1)
                #expect(await h6.wait() == nil)
                #expect(await h7.wait() == nil)
            }
        }
    }
}
