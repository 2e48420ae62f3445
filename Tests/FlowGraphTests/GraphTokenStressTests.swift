import FlowGraph
import FlowTestSupport
import Testing

/// Random DAGs mixing plain, token and scoped nodes (sync and async),
/// checked node by node against a sequential evaluation of the same
/// formulas, run twice per plan; per token node, the tokens at once never
/// exceed its `maxConcurrency`.
@Suite("Random DAGs with token and scoped nodes", .serialized, .timeLimit(.minutes(3)))
struct GraphTokenStressTests {
    private enum Kind {
        case plain
        case tokens(count: Int, limit: Int?, async: Bool)
        case scoped(children: Int, limit: Int?, async: Bool)
    }

    @Test func randomGraphsMatchASequentialReference() async throws {
        let executor = try Executor(workers: 3, name: "g-token-stress")
        var rng = SeededGenerator(seed: 0x70CE)
        for round in 0..<StressScale.scaled(12, minimum: 3) {
            let n = Int.random(in: 20...StressScale.scaled(300, minimum: 40), using: &rng)
            let graph = TaskGraph("mixed-\(round)")
            let seen = Collector<(Int, Int)>()        // (node, value), written by every node
            var handles: [Node<Int>] = []
            var expected: [Int] = []
            var gauges: [(ConcurrencyGauge, Int)] = []   // per token node: gauge, its allowed peak
            var tallies: [Tally] = []
            for id in 0..<n {
                let inputs = id == 0 ? [] : (0..<Int.random(in: 0...3, using: &rng)).map { _ in Int.random(in: 0..<id, using: &rng) }
                let sum = inputs.reduce(0) { $0 &+ expected[$1] }
                let pre = graph.fanIn(inputs.map { handles[$0] }) { $0.reduce(0, &+) }
                let kind: Kind = switch Int.random(in: 0..<4, using: &rng) {
                case 0: .tokens(count: Int.random(in: 0...40, using: &rng), limit: Bool.random(using: &rng) ? Int.random(in: 1...4, using: &rng) : nil,
                                async: Int.random(in: 0..<4, using: &rng) == 0)
                case 1: .scoped(children: Int.random(in: 0...12, using: &rng), limit: Bool.random(using: &rng) ? Int.random(in: 1...3, using: &rng) : nil,
                                async: Bool.random(using: &rng))
                default: .plain
                }
                let handle: Node<Int>
                switch kind {
                case .plain:
                    expected.append(mix(id, sum))
                    handle = graph.task(after: pre) { s in
                        let v = mix(id, s)
                        seen.append((id, v))
                        return v
                    }
                case .tokens(let count, let limit, let isAsync):
                    expected.append((0..<count).reduce(0) { $0 &+ mix(sum &+ id, $1) })
                    let gauge = ConcurrencyGauge()
                    gauges.append((gauge, limit ?? (isAsync ? count : executor.workerCount)))
                    let options = NodeOptions(maxConcurrency: limit)
                    let outputs = isAsync
                        ? graph.task("tokens\(id)", runs: count, after: pre, options: options) { t, s async in
                            gauge.enter()
                            await Task.yield()
                            gauge.leave()
                            return mix(s &+ id, t)
                        }
                        : graph.task("tokens\(id)", runs: count, after: pre, options: options) { t, s in
                            gauge.enter()
                            defer { gauge.leave() }
                            return mix(s &+ id, t)
                        }
                    handle = graph.task(after: outputs) { values in
                        let v = values.reduce(0, &+)
                        seen.append((id, v))
                        return v
                    }
                case .scoped(let children, let limit, let isAsync):
                    expected.append((sum &+ id) &+ (0..<children).reduce(0) { $0 &+ mix(sum, $1) })
                    let tally = Tally()
                    tallies.append(tally)
                    let options = NodeOptions(maxConcurrency: limit)
                    let node = isAsync
                        ? graph.scopedTask("scoped\(id)", after: pre, options: options) { scope, s async in
                            for j in 0..<children { scope.spawn { tally.add(mix(s, j)) } }
                            await Task.yield()
                            return s &+ id
                        }
                        : graph.scopedTask("scoped\(id)", after: pre, options: options) { scope, s in
                            for j in 0..<children {
                                scope.spawn {
                                    if j % 3 == 0 { await Task.yield() }
                                    tally.add(mix(s, j))
                                }
                            }
                            return s &+ id
                        }
                    handle = graph.task(after: node) { v in   // runs after every child ended
                        let total = v &+ tally.count
                        seen.append((id, total))
                        return total
                    }
                }
                handles.append(handle)
            }
            let plan = try graph.freeze()
            for again in 0..<2 {
                seen.removeAll()
                for tally in tallies { tally.reset() }
                _ = try await withTimeLimit(.seconds(60), "round \(round).\(again)") { try await plan.run(on: executor) }
                let values = Dictionary(seen.values, uniquingKeysWith: { a, _ in a })
                #expect(seen.values.count == n, "round \(round).\(again): \(seen.values.count) of \(n) nodes reported")
                let wrong = (0..<n).filter { values[$0] != expected[$0] }
                #expect(wrong.isEmpty, "round \(round).\(again): nodes \(wrong.prefix(5)) differ from the reference")
            }
            for (gauge, allowed) in gauges {
                #expect(gauge.peak <= allowed, "round \(round): \(gauge.peak) tokens at once, allowed \(allowed)")
            }
        }
        await executor.shutdown()
    }
}
