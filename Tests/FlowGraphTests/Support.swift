import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

/// Per-node counters the bodies of a test graph write: how often each node
/// ran and whether it finished, so a test can check "exactly once, after
/// its predecessors".
final class Probe: @unchecked Sendable { // atomics only, allocated in init, freed in deinit
    // Safe to share: the buffers hold atomics only, allocated in init and
    // freed in deinit.
    let count: Int
    private let runs: UnsafeMutablePointer<Atomic<Int>>
    private let done: UnsafeMutablePointer<Atomic<Bool>>
    let misordered = Atomic<Int>(0)

    init(_ count: Int) {
        self.count = count
        runs = .allocate(capacity: count)
        done = .allocate(capacity: count)
        for i in 0..<count {
            (runs + i).initialize(to: Atomic(0))
            (done + i).initialize(to: Atomic(false))
        }
    }

    deinit {
        runs.deinitialize(count: count)
        done.deinitialize(count: count)
        runs.deallocate()
        done.deallocate()
    }

    /// Records that node `i` runs; counts a misordering for each of
    /// `after` that has not finished.
    func enter(_ i: Int, after: [Int] = []) {
        (runs + i).pointee.wrappingAdd(1, ordering: .relaxed)
        for p in after where !(done + p).pointee.load(ordering: .acquiring) {
            misordered.wrappingAdd(1, ordering: .relaxed)
        }
    }

    func leave(_ i: Int) { (done + i).pointee.store(true, ordering: .releasing) }

    func runs(_ i: Int) -> Int { (runs + i).pointee.load(ordering: .relaxed) }

    /// Nodes that did not run exactly once (index, runs), at most 5.
    var wrongCounts: [(Int, Int)] {
        var bad: [(Int, Int)] = []
        for i in 0..<count where runs(i) != 1 {
            bad.append((i, runs(i)))
            if bad.count == 5 { break }
        }
        return bad
    }

    var totalRuns: Int { (0..<count).reduce(0) { $0 + runs($1) } }
}

struct TestFailure: Error, Equatable, CustomStringConvertible {
    let tag: String
    var description: String { "test failure \(tag)" }
}


func mix(_ a: Int, _ b: Int) -> Int { (a &* 31) &+ b &+ 7 }

/// Runs `plan` in a task, waits until `started` says the run is under way,
/// cancels the task, calls `afterCancel` (to release a node held back, say)
/// and checks that the run throws `CancellationError` within 10 s.
func expectCancellingTheCallerStops(
    _ plan: GraphPlan, on executor: Executor, once started: () async -> Bool,
    afterCancel: () -> Void = {}, sourceLocation: SourceLocation = #_sourceLocation
) async {
    let task = Task { try await plan.run(on: executor) }
    #expect(await started(), sourceLocation: sourceLocation)
    task.cancel()
    afterCancel()
    let clock = ContinuousClock(), start = clock.now
    let result = await task.result
    #expect(clock.now - start < .seconds(10), sourceLocation: sourceLocation)
    #expect(throws: CancellationError.self, sourceLocation: sourceLocation) { try result.get() }
}

