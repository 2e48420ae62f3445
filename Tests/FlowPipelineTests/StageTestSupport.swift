@testable import FlowPipeline
import FlowTestSupport
import Testing

struct StageTestError: Error, Equatable, CustomStringConvertible {
    let tag: String
    init(_ tag: String) { self.tag = tag }
    var description: String { "StageTestError(\(tag))" }
}

/// A finished stream holding `items` (an upstream for pipe and the operators).
func stageSource<T: Sendable>(_ items: [Result<T, any Error>]) -> AsyncStream<Result<T, any Error>> {
    let (stream, continuation) = AsyncStream<Result<T, any Error>>.makeStream()
    for item in items { continuation.yield(item) }
    continuation.finish()
    return stream
}

func stageSource(count: Int) -> AsyncStream<Result<Int, any Error>> {
    stageSource((0..<count).map { .success($0) })
}

/// Polls `condition` (with 1 ms pauses) until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(10), _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

func collect<T: Sendable>(_ results: StageResults<Result<T, any Error>>) async -> [Result<T, any Error>] {
    var all: [Result<T, any Error>] = []
    for await r in results { all.append(r) }
    return all
}

func successes<T>(_ results: [Result<T, any Error>]) -> [T] {
    results.compactMap { try? $0.get() }
}

func isCancellation(_ r: Result<some Any, any Error>) -> Bool {
    if case let .failure(e) = r { return e is CancellationError }
    return false
}

/// Stats invariants that hold once a stage finished and every submit returned.
func expectFinalInvariants(_ s: StageStats, piped: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(s.submitted == s.completed + s.canceled, "submitted = completed + canceled: \(s)", sourceLocation: sourceLocation)
    #expect(s.failed <= s.completed, sourceLocation: sourceLocation)
    #expect(s.bufferedDepth == 0, sourceLocation: sourceLocation)
    #expect(s.admitted == 0, sourceLocation: sourceLocation)
    #expect(s.admittedWeight == 0, sourceLocation: sourceLocation)
    #expect(s.inFlightWeight == 0, sourceLocation: sourceLocation)
    #expect(s.waiters == 0, sourceLocation: sourceLocation)
    #expect(s.activeWorkers == 0, sourceLocation: sourceLocation)
    if piped {
        #expect(s.received == s.submitted + s.forwarded + s.dropped, "received = submitted + forwarded + dropped: \(s)",
                sourceLocation: sourceLocation)
    }
}
