@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Stage operators", .timeLimit(.minutes(2)))
struct OperatorTests {
    @Test func pipePassesUpstreamErrorsThroughWithoutFailFast() async throws {
        try await withTimeLimit(.seconds(30)) {
            let upstream = stageSource([.success(10), .failure(StageTestError("oops")), .success(20)])
            let stage = try pipe(from: upstream) { (x: Int) in x * 2 }
            let results = await collect(stage.results)
            #expect(results.count == 3)
            #expect(Set(successes(results)) == [20, 40])
            #expect(await stage.wait() == nil)
            #expect(await stage.cause().isCompleted)
            let s = stage.stats
            expectFinalInvariants(s, piped: true)
            #expect(s.received == 3 && s.submitted == 2 && s.forwarded == 1 && s.dropped == 0)
            await #expect(throws: FlowError.self) { try await stage.submit(1) }
        }
    }

    /// The seed's four-handle example: Stage → batch → pipe → pipe.
    @Test func fourStagePipelineMatchesTheSeedExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let chunker = try Stage<Int, String>(options: StageOptions(capacity: 5, continueOnError: true)) { n in
                if n == 3 { throw StageTestError("bad input: 3") }
                return "chunk(\(n))"
            }
            let batched = try batch(from: chunker.results, size: 2)
            let embedder = try pipe(from: batched.results) { (b: [String]) in "embed[\(b.joined(separator: "+"))]" }
            let storer = try pipe(from: embedder.results) { (s: String) in "store(\(s))" }
            Task {
                for n in [1, 2, 3, 4, 5] { try await chunker.submit(n) }
                chunker.closeInput()
            }
            let results = await collect(storer.results)
            #expect(successes(results) == ["store(embed[chunk(1)+chunk(2)])", "store(embed[chunk(4)+chunk(5)])"])
            #expect(results.filter { (try? $0.get()) == nil }.count == 1)
            #expect(await storer.wait() == nil)
            #expect(await embedder.wait() == nil)
            #expect(await batched.wait() == nil)
            #expect(await chunker.wait() == nil)
            let b = batched.stats
            #expect(b.received == 5 && b.emitted == 4 && b.forwarded == 1 && b.batchCount == 2 && b.dropped == 0)
            expectFinalInvariants(storer.stats, piped: true)
        }
    }

    @Test func batchTreatsErrorsAsBoundaries() async throws {
        try await withTimeLimit(.seconds(30)) {
            let upstream = stageSource([.success(1), .success(2), .success(3), .failure(StageTestError("e")), .success(4)])
            let b = try batch(from: upstream, size: 2)
            let results = await collect(b.results)
            #expect(results.count == 4)
            #expect(successes(results) == [[1, 2], [3], [4]])
            if case let .failure(e) = results[2] { #expect((e as? StageTestError) == StageTestError("e")) } else { Issue.record("error not third") }
            #expect(await b.wait() == nil)
            let s = b.stats
            #expect(s.received == 5 && s.emitted == 4 && s.forwarded == 1 && s.dropped == 0 && s.batchCount == 3)
            #expect(s.bufferedDepth == 0)
            #expect(throws: FlowError.self) { _ = try batch(from: stageSource(count: 1), size: 0) }
        }
    }

    @Test func weightedBatchFlushesOnWeightOrCount() async throws {
        try await withTimeLimit(.seconds(30)) {
            let upstream = stageSource([5, 4, 3, 0, 0, 0, 0, 9].map { Result<Int, any Error>.success($0) })
            let b = try weightedBatch(from: upstream, threshold: 4, weight: { $0 })
            let results = await collect(b.results)
            // 5 ≥ 4 → [5]; 4 ≥ 4 → [4]; 3+0+0+0 = 4 items → [3,0,0,0]; [0, 9] by weight
            #expect(successes(results) == [[5], [4], [3, 0, 0, 0], [0, 9]])
            #expect(await b.wait() == nil)
            let s = b.stats
            #expect(s.received == 8 && s.emitted == 8 && s.batchCount == 4 && s.bufferedWeight == 0)
        }
    }

    @Test func teeBroadcastsInLockstep() async throws {
        try await withTimeLimit(.seconds(30)) {
            let t = try tee(from: stageSource(count: 200), branches: 3)
            let consumers = t.branches.map { branch in Task { await collect(branch) } }
            for c in consumers { #expect(successes(await c.value) == Array(0..<200)) }
            #expect(await t.wait() == nil)
            let s = t.stats
            #expect(s.received == 200 && s.fullyDelivered == 200 && s.partiallyDelivered == 0 && s.undelivered == 0)
            #expect(s.branchDelivered == [200, 200, 200])
        }
    }

    @Test func mergeKeepsEachSourcesOrder() async throws {
        try await withTimeLimit(.seconds(30)) {
            let sources = (0..<3).map { k in stageSource((0..<100).map { Result<Int, any Error>.success(k * 1000 + $0) }) }
            let m = try merge(sources)
            let all = successes(await collect(m.results))
            #expect(all.count == 300)
            for k in 0..<3 { #expect(all.filter { $0 / 1000 == k } == (0..<100).map { k * 1000 + $0 }) }
            #expect(await m.wait() == nil)
            let s = m.stats
            #expect(s.received == 300 && s.forwarded == 300 && s.dropped == 0 && s.sourceReceived == [100, 100, 100])
            #expect(throws: FlowError.self) { _ = try merge([AsyncStream<Result<Int, any Error>>]()) }
        }
    }

    enum JoinInput: Sendable, CustomStringConvertible {
        case ok(Int), err(String), missing
        var items: [Result<Int, any Error>] {
            switch self {
            case let .ok(x): return [.success(x)]
            case let .err(t): return [.failure(StageTestError(t))]
            case .missing: return []
            }
        }
        var description: String {
            switch self { case let .ok(x): "ok(\(x))"; case let .err(t): "err(\(t))"; case .missing: "missing" }
        }
    }

    /// The seed's whole error matrix, including a missing side.
    @Test(arguments: [
        (JoinInput.ok(1), JoinInput.ok(2), "ok(3)"),
        (.ok(1), .err("b"), "StageTestError(b)"),
        (.err("a"), .ok(2), "StageTestError(a)"),
        (.err("a"), .err("b"), "StageTestError(a); StageTestError(b)"),
        (.ok(1), .missing, "join source B ended without a result"),
        (.missing, .ok(2), "join source A ended without a result"),
        (.err("a"), .missing, "StageTestError(a); join source B ended without a result"),
        (.missing, .err("b"), "join source A ended without a result; StageTestError(b)"),
        (.missing, .missing, "none"),
    ])
    func joinErrorMatrix(a: JoinInput, b: JoinInput, expected: String) async throws {
        try await withTimeLimit(.seconds(30)) {
            let j = join(stageSource(a.items), stageSource(b.items)) { x, y in x + y }
            let results = await collect(j.results)
            let rendered: String
            switch results.first {
            case nil: rendered = "none"
            case let .success(v)?: rendered = "ok(\(v))"
            case let .failure(e)?: rendered = "\(e)"
            }
            #expect(results.count <= 1)
            #expect(rendered == expected, "\(a) × \(b)")
            #expect(await j.wait() == nil)
            let s = j.stats
            #expect(s.receivedA == s.combined + s.discardedA + s.extraA)
            #expect(s.receivedB == s.combined + s.discardedB + s.extraB)
            #expect(s.combined + s.errors == Int64(results.count))
        }
    }

    @Test func joinDrainsAndCountsExtraItems() async throws {
        try await withTimeLimit(.seconds(30)) {
            let j = join(stageSource(count: 5), stageSource(count: 3)) { x, y in "\(x)-\(y)" }
            #expect(successes(await collect(j.results)) == ["0-0"])
            #expect(await j.wait() == nil)
            let s = j.stats
            #expect(s.receivedA == 5 && s.extraA == 4 && s.receivedB == 3 && s.extraB == 2 && s.combined == 1)
        }
    }

    @Test func joinCombinerErrorBecomesTheFailure() async throws {
        try await withTimeLimit(.seconds(30)) {
            let j = join(stageSource(count: 1), stageSource(count: 1)) { (_: Int, _: Int) -> Int in throw StageTestError("combine") }
            let results = await collect(j.results)
            #expect(results.count == 1 && successes(results).isEmpty)
            _ = await j.wait()
            let s = j.stats
            #expect(s.errors == 1 && s.discardedA == 1 && s.discardedB == 1 && s.combined == 0)
        }
    }
}
