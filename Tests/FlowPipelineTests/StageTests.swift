@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Stage", .timeLimit(.minutes(2)))
struct StageTests {
    @Test func badOptionsThrowNamingTheField() {
        func field(_ options: StageOptions<Int>) -> String? {
            do {
                _ = try Stage<Int, Int>(options: options) { $0 }
                return nil
            } catch {
                if case let .invalidArgument(parameter, _, _) = error { return parameter }
                return "?"
            }
        }
        #expect(field(StageOptions(capacity: -1)) == "capacity")
        #expect(field(StageOptions(workers: 0)) == "workers")
        #expect(field(StageOptions(workers: -2)) == "workers")
        #expect(field(StageOptions(maxWIP: -1)) == "maxWIP")
        #expect(field(StageOptions(maxWIPWeight: -5)) == "maxWIPWeight")
        #expect(field(StageOptions(outputCapacity: 0)) == "outputCapacity")
    }

    @Test func oneWorkerKeepsSubmitOrder() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 4)) { $0 * 2 }
            Task {
                for i in 0..<1000 { try await stage.submit(i) }
                stage.closeInput()
            }
            let results = await collect(stage.results)
            #expect(successes(results) == (0..<1000).map { $0 * 2 })
            #expect(await stage.wait() == nil)
            #expect(await stage.cause().isCompleted)
            let s = stage.stats
            expectFinalInvariants(s)
            #expect(s.submitted == 1000 && s.completed == 1000 && s.failed == 0 && s.canceled == 0)
            #expect(s.serviceTimeDistribution == nil)
        }
    }

    @Test func closeInputIsIdempotentAndLaterSubmitsThrowClosed() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 2)) { $0 }
            try await stage.submit(1)
            stage.closeInput()
            stage.closeInput()
            await #expect(throws: StageError.closed) { try await stage.submit(2) }
            #expect(await collect(stage.results).count == 1)
            #expect(await stage.wait() == nil)
            stage.closeInput()
            stage.cancel()  // after finish: no effect on the latched cause
            #expect(await stage.cause().isCompleted)
        }
    }

    @Test func tooHeavyItemIsRejectedAtOnce() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 4, maxWIPWeight: 10, weight: { Int64($0) })) { $0 }
            await #expect(throws: StageError.weightExceedsLimit(weight: 11, limit: 10)) { try await stage.submit(11) }
            try await stage.submit(10)
            stage.closeInput()
            #expect(successes(await collect(stage.results)) == [10])
            #expect(stage.stats.submitted == 1)
            _ = await stage.wait()
        }
    }

    @Test func continueOnErrorKeepsGoing() async throws {
        try await withTimeLimit(.seconds(30)) {
            let options = StageOptions<Int>(capacity: 4, continueOnError: true)
            let stage = try Stage<Int, Int>(options: options) { x in
                if x % 3 == 0 { throw StageTestError("\(x)") }
                return x
            }
            Task {
                for i in 0..<30 { try await stage.submit(i) }
                stage.closeInput()
            }
            let results = await collect(stage.results)
            #expect(results.count == 30)
            #expect(successes(results).count == 20)
            #expect(await stage.wait() == nil)
            let s = stage.stats
            expectFinalInvariants(s)
            #expect(s.failed == 10 && s.completed == 30)
        }
    }

    /// Seed contract: fail-fast delivers in-flight successes, turns buffered
    /// items into cancellations, releases blocked submits with `closed`.
    @Test func failFastDeliversInFlightSuccessesAndReleasesBlockedSubmits() async throws {
        try await withTimeLimit(.seconds(30)) {
            let started = Latch(count: 2)
            let failNow = Gate(), finishOK = Gate()
            let bodyCancelled = Locked(false)
            let stage = try Stage<String, String>(options: StageOptions(capacity: 2, workers: 2)) { item in
                started.countDown()
                if item == "fail" {
                    _ = await failNow.waitAsync(timeout: .seconds(20))
                    throw StageTestError("boom")
                }
                if item == "ok" {
                    _ = await finishOK.waitAsync(timeout: .seconds(20))
                    bodyCancelled.withLock { $0 = Task.isCancelled }
                }
                return item + "!"
            }
            let consumer = Task { await collect(stage.results) }
            try await stage.submit("ok")
            try await stage.submit("fail")
            #expect(await started.waitAsync(timeout: .seconds(10)))
            try await stage.submit("b1")
            try await stage.submit("b2")
            let blocked = Task { try await stage.submit("blocked") }
            #expect(await eventually { stage.stats.waiters == 1 })
            failNow.open()
            await #expect(throws: StageError.closed) { try await blocked.value }
            await #expect(throws: StageError.closed) { try await stage.submit("late") }
            finishOK.open()
            let results = await consumer.value
            #expect(results.count == 4)
            #expect(successes(results) == ["ok!"])
            #expect(results.filter(isCancellation).count == 2)
            #expect(results.contains { if case let .failure(e) = $0 { return (e as? StageTestError) == StageTestError("boom") }; return false })
            #expect((await stage.wait() as? StageTestError) == StageTestError("boom"))
            #expect((await stage.cause().error as? StageTestError) == StageTestError("boom"))
            #expect(bodyCancelled.withLock { $0 }, "fail-fast cancels running bodies")
            let s = stage.stats
            expectFinalInvariants(s)
            #expect(s.submitted == 4 && s.completed == 2 && s.failed == 1 && s.canceled == 2)
        }
    }

    @Test func cancelReportsCancelledAndDrainsBufferedItems() async throws {
        try await withTimeLimit(.seconds(30)) {
            let release = Gate()
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 8)) { x in
                _ = await release.waitAsync(timeout: .seconds(20))
                return x
            }
            for i in 0..<5 { try await stage.submit(i) }
            stage.cancel()
            release.open()
            let results = await collect(stage.results)
            #expect(results.count == 5)
            #expect(await stage.wait() == nil)
            #expect(await stage.cause().isCancelled)
            expectFinalInvariants(stage.stats)
            await #expect(throws: StageError.closed) { try await stage.submit(9) }
            #expect(throws: StageError.stopping) { try stage.setWorkers(2) }
        }
    }

    @Test func cancellingTheSubmitterStopsOnlyItsWait() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 1)) { $0 }
            stage.pauseAdmission()
            let waiting = Task { try await stage.submit(1) }
            #expect(await eventually { stage.stats.waiters == 1 })
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(stage.stats.waiters == 0)
            stage.resumeAdmission()
            try await stage.submit(2)
            stage.closeInput()
            #expect(successes(await collect(stage.results)) == [2])
            #expect(await stage.cause().isCompleted)
            expectFinalInvariants(stage.stats)
        }
    }

    /// Seed contract: waiters are admitted in FIFO order and never beyond the limit.
    @Test func wipWaitersAreServedInOrderAndNeverOverAdmitted() async throws {
        try await withTimeLimit(.seconds(30)) {
            let box = Locked<Stage<Int, Int>?>(nil)
            let overAdmitted = Locked(0)
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 2, maxWIP: 2)) { x in
                if let s = box.withLock({ $0 })?.stats, s.admitted > s.maxWIP { overAdmitted.withLock { $0 += 1 } }
                await Task.yield()
                return x
            }
            box.withLock { $0 = stage }
            stage.pauseAdmission()
            var submitters: [Task<Void, any Error>] = []
            for i in 0..<20 {
                submitters.append(Task { try await stage.submit(i) })
                #expect(await eventually { stage.stats.waiters == i + 1 })
            }
            #expect(stage.stats.maxWaiters == 20)
            let consumer = Task { await collect(stage.results) }
            stage.resumeAdmission()
            for t in submitters { try await t.value }
            stage.closeInput()
            let results = await consumer.value
            #expect(successes(results) == Array(0..<20), "one worker: admission order = FIFO order of waiters")
            #expect(overAdmitted.withLock { $0 } == 0)
            _ = await stage.wait()
            let s = stage.stats
            expectFinalInvariants(s)
            #expect(s.wipWaits == 20 && s.maxWaiters == 20)
            box.withLock { $0 = nil }
        }
    }

    @Test func weightLimitHoldsHeavyHeadInOrder() async throws {
        try await withTimeLimit(.seconds(30)) {
            let release = Gate()
            let stage = try Stage<Int, Int>(
                options: StageOptions(capacity: 8, maxWIPWeight: 10, weight: { Int64($0) })
            ) { x in
                _ = await release.waitAsync(timeout: .seconds(20))
                return x
            }
            try await stage.submit(6)
            let heavy = Task { try await stage.submit(5) }  // 6 + 5 > 10: waits
            #expect(await eventually { stage.stats.waiters == 1 })
            let light = Task { try await stage.submit(1) }  // would fit, but must not overtake
            #expect(await eventually { stage.stats.waiters == 2 })
            #expect(stage.stats.admittedWeight == 6)
            #expect(stage.setMaxWIPWeight(4) == 4)  // now 5 is too heavy: rejected
            await #expect(throws: StageError.weightExceedsLimit(weight: 5, limit: 4)) { try await heavy.value }
            #expect(stage.setMaxWIPWeight(0) == 0)  // disabled: the light one goes in
            try await light.value
            release.open()
            stage.closeInput()
            #expect(successes(await collect(stage.results)) == [6, 1])
            _ = await stage.wait()
            expectFinalInvariants(stage.stats)
        }
    }

    @Test func setMaxWIPIsClampedAndWakesWaiters() async throws {
        try await withTimeLimit(.seconds(30)) {
            let release = Gate()
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 2, maxWIP: 1)) { x in
                _ = await release.waitAsync(timeout: .seconds(20))
                return x
            }
            #expect(stage.stats.maxWIP == 1)
            try await stage.submit(0)
            let waiting = Task { try await stage.submit(1) }
            #expect(await eventually { stage.stats.waiters == 1 })
            #expect(stage.setMaxWIP(100) == 3)
            try await waiting.value
            #expect(stage.setMaxWIP(0) == 1)
            #expect(stage.stats.admitted == 2, "permits are not revoked")
            release.open()
            stage.closeInput()
            #expect(await collect(stage.results).count == 2)
            _ = await stage.wait()
            expectFinalInvariants(stage.stats)
        }
    }

    @Test func setWorkersScalesUpAndDown() async throws {
        try await withTimeLimit(.seconds(30)) {
            let running = Locked(0), peak = Locked(0)
            let release = Gate()
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 16)) { x in
                running.withLock { $0 += 1; peak.withLock { [r = $0] p in p = max(p, r) } }
                _ = await release.waitAsync(timeout: .seconds(20))
                running.withLock { $0 -= 1 }
                return x
            }
            for i in 0..<8 { try await stage.submit(i) }
            #expect(try stage.setWorkers(4) == 4)
            #expect(await eventually { running.withLock { $0 } == 4 })
            #expect(stage.stats.targetWorkers == 4 && stage.stats.activeWorkers == 4)
            try stage.setWorkers(1)
            #expect(throws: FlowError.self) { try stage.setWorkers(0) }
            release.open()
            stage.closeInput()
            #expect(await collect(stage.results).count == 8)
            _ = await stage.wait()
            #expect(peak.withLock { $0 } == 4)
            expectFinalInvariants(stage.stats)
        }
    }

    @Test func serviceTimeDistributionIsRecorded() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 8, tracksServiceTimeDistribution: true)) { x in
                if x % 10 == 0 { try await Task.sleep(for: .milliseconds(2)) }
                return x
            }
            Task {
                for i in 0..<100 { try await stage.submit(i) }
                stage.closeInput()
            }
            #expect(await stage.discardAndWait() == nil)
            let s = stage.stats
            let d = try #require(s.serviceTimeDistribution)
            #expect(d.count == 100)
            #expect(d.min <= d.p50 && d.p50 <= d.p95 && d.p95 <= d.p99 && d.p99 <= d.max)
            #expect(d.max >= .milliseconds(2))
            #expect(s.serviceTime >= .milliseconds(20))
        }
    }

    @Test func histogramIsWithinOnePercent() {
        var h = StageHistogram()
        for v in 1...10_000 { h.record(UInt64(v) * 1_000) }  // 1 µs … 10 ms, uniform
        let s = h.summary
        func near(_ d: Duration, _ expected: Double) -> Bool {
            let ns = Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
            return abs(ns - expected) / expected < 0.01
        }
        #expect(s.count == 10_000)
        #expect(near(s.p50, 5_000_000))
        #expect(near(s.p95, 9_500_000))
        #expect(near(s.p99, 9_900_000))
        #expect(s.min == .microseconds(1) && s.max == .milliseconds(10))
        #expect(near(s.mean, 5_000_500))
        #expect(near(s.standardDeviation, 2_886_751))
    }

    @Test func discardAndCauseDrainsForTheCaller() async throws {
        try await withTimeLimit(.seconds(30)) {
            let stage = try Stage<Int, Int>(options: StageOptions(capacity: 1, outputCapacity: 1)) { x in
                if x == 50 { throw StageTestError("50") }
                return x
            }
            Task {
                for i in 0..<100 {
                    do { try await stage.submit(i) } catch { break }
                }
                stage.closeInput()
            }
            let cause = await stage.discardAndCause()
            #expect((cause.error as? StageTestError) == StageTestError("50"))
            expectFinalInvariants(stage.stats)
        }
    }
}
