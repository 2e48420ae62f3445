import FlowAtomics
@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Constraint rope controller", .serialized, .timeLimit(.minutes(2)))
struct ConstraintRopeTests {
    /// head → mid → drum → tail over boxes; the rope's WIP requests are recorded.
    func syntheticRope(initialLength: Int = 3, interval: Duration = .seconds(1)) throws -> (RopeController, [String: StatsBox], Collector<Int>) {
        let (topology, boxes) = try boxedTopology(["head", "mid", "drum", "tail"],
                                                  edges: [("head", "mid"), ("mid", "drum"), ("drum", "tail")])
        let requests = Collector<Int>()
        let rope = try RopeController(topology: topology, drum: "drum", interval: interval, safetyFactor: 1.5,
                                      initialLength: initialLength, smoothing: 0.3) { n in
            requests.append(n)
            return min(n, 12)            // the head clamps to its capacity + workers
        }
        return (rope, boxes, requests)
    }

    /// One synthetic second: the drum completes `drumItems` (none failing);
    /// head and mid complete 100 items taking 20 ms and 30 ms each.
    func advance(_ boxes: [String: StatsBox], drumItems: Int64) {
        boxes["head"]!.update { $0.completed += 100; $0.serviceTime += .milliseconds(20) * 100; $0.admitted = 3 }
        boxes["mid"]!.update { $0.completed += 100; $0.serviceTime += .milliseconds(30) * 100; $0.admitted = 2 }
        boxes["drum"]!.update { $0.completed += drumItems; $0.serviceTime += .milliseconds(9) * Int(drumItems); $0.bufferedDepth = 4 }
        boxes["tail"]!.update { $0.completed += drumItems }
    }

    @Test func convergesToTheLittlesLawLength() throws {
        let (rope, boxes, requests) = try syntheticRope()
        #expect(requests.values == [3])                    // the initial length, applied at once
        #expect(rope.head == "head" && rope.chain == ["head", "mid", "drum"])

        // No drum completion yet: still the initial length.
        let first = rope.tick(elapsed: .seconds(1))
        #expect(first.length == 3 && !first.measured && first.ticks == 1)

        // A burst at 200 items/s: ⌈200 × (20 + 30) ms × 1.5⌉ = 15.
        advance(boxes, drumItems: 200)
        let burst = rope.tick(elapsed: .seconds(1))
        #expect(burst.measured && burst.length == 15 && abs(burst.drumGoodput - 200) < 1e-9)
        #expect(burst.upstreamFlowTime == .milliseconds(50))
        #expect(burst.headAppliedWIP == 12)                // clamped by the head

        // Then 100 items/s: the smoothed goodput falls toward 100 and the length toward ⌈7.5⌉ = 8.
        var lengths: [Int] = []
        for _ in 0..<40 {
            advance(boxes, drumItems: 100)
            lengths.append(rope.tick(elapsed: .seconds(1)).length)
        }
        #expect(lengths == lengths.sorted(by: >), "the length shrinks monotonically: \(lengths)")
        let settled = rope.stats
        #expect(settled.length == 8 && abs(settled.drumGoodput - 100) < 0.01)
        #expect(settled.headAppliedWIP == 8 && requests.values.last == 8)
        #expect(settled.wip == 3 + 2 + 4)                  // admitted at head and mid + buffered at the drum
        #expect(abs(settled.utilization - 9.0 / 8) < 1e-9)
        #expect(settled.adjustments >= 2 && settled.ticks == 42)
        #expect(settled.drumErrorRate == 0)
    }

    @Test func errorsLowerTheGoodputAndAQuietDrumKeepsTheLength() throws {
        let (rope, boxes, _) = try syntheticRope()
        advance(boxes, drumItems: 100)
        boxes["drum"]!.update { $0.failed += 20 }          // 80 good of 100
        let s = rope.tick(elapsed: .seconds(1))
        #expect(abs(s.drumGoodput - 80) < 1e-9 && abs(s.drumErrorRate - 0.2) < 1e-9)
        #expect(s.length == 6)                             // ⌈80 × 0.05 × 1.5⌉
        // An interval in which nothing completed changes nothing.
        let quiet = rope.tick(elapsed: .seconds(1))
        #expect(quiet.length == 6 && quiet.drumGoodput == s.drumGoodput)
    }

    @Test func refusesWhatItCannotControl() throws {
        let (diamond, _) = try boxedTopology(["a", "b", "c", "drum"],
                                             edges: [("a", "c"), ("b", "c"), ("c", "drum")])
        let set: @Sendable (Int) -> Int = { $0 }
        #expect(throws: FlowError.invalid("drum", "drum", "needs a linear chain from one head: c is fed by a, b")) {
            try RopeController(topology: diamond, drum: "drum", setHeadWIP: set)
        }
        #expect(throws: FlowError.invalid("drum", "a", "is a head stage: a rope needs at least one stage upstream of the drum")) {
            try RopeController(topology: diamond, drum: "a", setHeadWIP: set)
        }
        let (branch, _) = try boxedTopology(["h", "m", "side", "drum"],
                                            edges: [("h", "m"), ("h", "side"), ("m", "drum")])
        #expect(throws: FlowError.invalid("drum", "drum", "needs a linear chain from one head: h branches to m, side")) {
            try RopeController(topology: branch, drum: "drum", setHeadWIP: set)
        }
        #expect(throws: FlowError.self) { try RopeController(topology: branch, drum: "nope", setHeadWIP: set) }
        let (line, _) = try boxedTopology(["h", "m"], edges: [("h", "m")])
        #expect(throws: FlowError.invalid("interval", Duration.zero, "must be positive")) {
            try RopeController(topology: line, drum: "m", interval: .zero, setHeadWIP: set)
        }
        #expect(throws: FlowError.invalid("safetyFactor", 0.0, "must be positive")) {
            try RopeController(topology: line, drum: "m", safetyFactor: 0, setHeadWIP: set)
        }
        #expect(throws: FlowError.invalid("initialLength", 0, "must be ≥ 1")) {
            try RopeController(topology: line, drum: "m", initialLength: 0, setHeadWIP: set)
        }
        #expect(throws: FlowError.invalid("smoothing", 1.5, "must be in (0, 1]")) {
            try RopeController(topology: line, drum: "m", smoothing: 1.5, setHeadWIP: set)
        }
        let rope = try RopeController(topology: line, drum: "m", setHeadWIP: set)
        #expect(rope.chain == ["h", "m"])
    }

    @Test func keepsHeadWIPWithinTheRopeInARealPipeline() async throws {
        try await withTimeLimit(.seconds(90)) {
            // head (2 workers, 4 ms) → mid (2 workers, 4 ms) → drum (1 worker, 5 ms) → tail (1 ms).
            @Sendable func sleeping(_ d: Duration) -> @Sendable (Int) async throws -> Int {
                { x in try await Task.sleep(for: d); return x }   // workload, not synchronisation
            }
            let head = try Stage<Int, Int>(options: StageOptions(capacity: 16, workers: 2), sleeping(.milliseconds(4)))
            let mid = try pipe(from: head.results, options: StageOptions(capacity: 4, workers: 2), sleeping(.milliseconds(4)))
            let drum = try pipe(from: mid.results, options: StageOptions(capacity: 4), sleeping(.milliseconds(5)))
            let tail = try pipe(from: drum.results, options: StageOptions(capacity: 4), sleeping(.milliseconds(1)))
            var topology = PipelineTopology()
            topology.addStage("head", head)
            topology.addStage("mid", mid)
            topology.addStage("drum", drum)
            topology.addStage("tail", tail)
            topology.addEdge(from: "head", to: "mid")
            topology.addEdge(from: "mid", to: "drum")
            topology.addEdge(from: "drum", to: "tail")
            let rope = try RopeController(topology: try topology.freeze(), drum: "drum", headStage: head,
                                          initialLength: 2)
            #expect(head.stats.maxWIP == 2)

            let stop = Locked(false)
            let producer = Task {
                var x = 0
                while !stop.withLock({ $0 }) {
                    do { try await head.submit(x) } catch { break }
                    x += 1
                }
                head.closeInput()
            }
            let consumer = Task { await tail.discardAndWait() }

            var lengths = [rope.stats.length]
            var overruns: [String] = []
            for tick in 0..<15 {
                let target = drum.stats.completed + 10
                #expect(await waitUntil(timeout: .seconds(20)) {
                    let admitted = head.stats.admitted
                    // Permits are not revoked: right after a decrease, the previous length bounds the WIP.
                    let bound = max(lengths[lengths.count - 1], lengths[max(0, lengths.count - 2)])
                    if admitted > bound { overruns.append("tick \(tick): admitted \(admitted) > \(bound)") }
                    return drum.stats.completed >= target
                })
                let s = rope.tick()
                lengths.append(s.length)
                #expect(head.stats.maxWIP == min(s.length, 18) && s.headAppliedWIP == head.stats.maxWIP)
            }
            #expect(overruns.isEmpty, "head WIP above the rope: \(overruns)")
            let s = rope.stats
            #expect(s.measured && s.drumGoodput > 0 && s.upstreamFlowTime >= .milliseconds(8))
            // The length is the Little's-law length of the smoothed measurements.
            let expected = max(1, Int((s.drumGoodput * s.upstreamFlowTime.seconds * 1.5).rounded(.up)))
            #expect(abs(s.length - expected) <= 1, "length \(s.length), Little's law \(expected)")
            #expect(s.length < 18, "the rope binds below the head's own limit")

            stop.withLock { $0 = true }
            await producer.value
            #expect(await consumer.value == nil)
            for stage in [drum, mid] { _ = await stage.wait() }
            _ = await head.wait()
            #expect(head.stats.submitted == tail.stats.completed)
        }
    }

    @Test func runTicksUntilItsTaskIsCancelled() async throws {
        try await withTimeLimit(.seconds(30)) {
            let (rope, boxes, _) = try syntheticRope(interval: .milliseconds(20))
            let running = Task { await rope.run() }
            // Keep the drum busy until the loop has ticked a few times.
            #expect(await waitUntil(timeout: .seconds(20)) {
                advance(boxes, drumItems: 10)
                return rope.stats.ticks >= 3
            })
            #expect(await rope.run() == false)             // a second loop refuses to start
            running.cancel()
            #expect(await running.value == true)
            let ticks = rope.stats.ticks
            #expect(rope.stats.measured && ticks >= 3)
        }
    }
}
