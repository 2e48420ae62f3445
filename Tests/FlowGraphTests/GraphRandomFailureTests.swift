import FlowGraph
import FlowTestSupport
import Testing

/// Random DAGs with failing nodes and tracked payloads: under `.continue`
/// the states follow from the failures exactly (a node is skipped iff a
/// predecessor failed or was skipped), and only the values of terminal
/// nodes that succeeded survive the run.
@Suite("Random DAGs with failures", .serialized, .timeLimit(.minutes(3)))
struct GraphRandomFailureTests {
    @Test(arguments: [ErrorPolicy.continue, .failFast])
    func statesAndValuesFollowTheFailures(policy: ErrorPolicy) async throws {
        let executor = try Executor(workers: 3, name: "g-randfail")
        var rng = SeededGenerator(seed: policy == .continue ? 7 : 8)
        for round in 0..<StressScale.scaled(20, minimum: 4) {
            let n = Int.random(in: 2...StressScale.scaled(1_500, minimum: 200), using: &rng)
            let counter = DeinitCounter()
            let graph = TaskGraph("failing-\(round)")
            var handles: [Node<Tracked>] = []
            var preds = [[Int]](repeating: [], count: n)
            var readers = [Int](repeating: 0, count: n)
            var throwing = [Bool](repeating: false, count: n)
            for id in 0..<n {
                let inputs = id == 0 ? [] : (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0..<id, using: &rng) }
                preds[id] = inputs
                for p in inputs { readers[p] += 1 }
                let fails = Int.random(in: 0..<100, using: &rng) < 4
                throwing[id] = fails
                handles.append(graph.fanIn(inputs.map { handles[$0] }, name: "n\(id)") { values in
                    if fails { throw TestFailure(tag: "n\(id)") }
                    return Tracked(values.reduce(id) { $0 &+ $1.value }, counter: counter)
                })
            }
            for _ in 0..<(n / 4) {
                let a = Int.random(in: 0..<n, using: &rng), b = Int.random(in: 0..<n, using: &rng)
                guard a != b else { continue }
                graph.order(handles[min(a, b)], before: handles[max(a, b)])
                preds[max(a, b)].append(min(a, b))
            }
            let plan = try graph.freeze()
            let outcome: Result<GraphRun, any Error>
            do {
                outcome = .success(try await withTimeLimit(.seconds(60), "round \(round)") {
                    try await plan.run(on: executor, errorPolicy: policy)
                })
            } catch {
                outcome = .failure(error)
            }
            let run: GraphRun
            switch outcome {
            case .success(let r):
                #expect(!throwing.contains(true), "round \(round): no failure reported")
                run = r
            case .failure(let error as GraphError):
                #expect(error.failures.allSatisfy { throwing[$0.index] }, "round \(round)")
                run = error.run
            case .failure(let error):
                Issue.record("round \(round): \(error)")
                continue
            }
            var expected = [NodeState](repeating: .succeeded, count: n)
            for id in 0..<n {
                if preds[id].contains(where: { expected[$0] != .succeeded }) { expected[id] = .skipped }
                else if throwing[id] { expected[id] = .failed }
            }
            var survivors = 0
            for id in 0..<n {
                let state = run.state(of: handles[id])
                if policy == .continue {
                    #expect(state == expected[id], "round \(round) node \(id)")
                } else if state != expected[id] {
                    // Fail-fast may stop any node not started yet, and what follows it.
                    #expect(state == .cancelled || state == .skipped, "round \(round) node \(id): \(state)")
                }
                if state == .succeeded && readers[id] == 0 {
                    survivors += 1
                    #expect(run[handles[id]] != nil)
                }
            }
            #expect(counter.liveCount == survivors, "round \(round)")
        }
        await executor.shutdown()
    }
}
