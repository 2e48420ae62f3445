import Foundation
import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Pipeline traces", .serialized, .timeLimit(.minutes(2)))
struct TraceTests {
    private func tracePath(_ name: String) -> String {
        NSTemporaryDirectory() + "flow-trace-\(name)-\(getpid()).json"
    }

    @Test func theTraceHasOneEventPerTaskOnItsWorkersTrack() async throws {
        let path = tracePath("tracks")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pipeline = try Pipeline(PipelineConfig().name("traced").computeThreads(2).ioThreads(0).trace(path))
        defer { pipeline.shutdown() }
        let ranOn = Collector<[String: Int]>()
        let executor = pipeline.computeExecutor
        let graph = TaskGraph("traced")
        let reads = graph.parallel(12, name: "read") { i -> Int in
            // Workload, not synchronisation: keeps the worker busy long
            // enough to be placed on its track even under ThreadSanitizer,
            // each node for a different time (identical back-to-back slices
            // on two workers would fit equally well at a start shifted by one).
            let until = ContinuousClock.now + .microseconds(14_000 + 1_000 * i)
            while ContinuousClock.now < until {}
            ranOn.append(["read[\(i)]": executor.currentWorkerIndex ?? -1])
            return i
        }
        let total = graph.fanIn(reads, name: "total") { values -> Int in
            ranOn.append(["total": executor.currentWorkerIndex ?? -1])
            return values.reduce(0, +)
        }
        let wait = graph.task("wait", after: total) { x async throws -> Int in
            try await Task.sleep(for: .milliseconds(5))
            return x
        }
        let run = try await pipeline.run(graph)
        #expect(run[wait] == 66)

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(json["traceEvents"] as? [[String: Any]])
        let complete = events.filter { $0["ph"] as? String == "X" }
        #expect(complete.count == graph.nodeCount)
        #expect(Set(complete.compactMap { $0["name"] as? String }).count == graph.nodeCount)
        let trackNames = Dictionary(uniqueKeysWithValues: events.filter { $0["name"] as? String == "thread_name" }
            .map { ($0["tid"] as! Int, ($0["args"] as! [String: Any])["name"] as! String) })
        #expect(trackNames[1] == "traced-0" && trackNames[2] == "traced-1")
        var expected: [String: Int] = [:]
        for entry in ranOn.values { expected.merge(entry) { a, _ in a } }
        #expect(expected.count == 13)
        // Track placement is estimated from the workers' time slices (see
        // RunTrace): every event must be on a worker track, and nearly all
        // on the track of the worker that really ran it (chance would give half).
        var placed = 0, checked = 0
        for event in complete {
            let name = event["name"] as! String
            #expect((event["dur"] as? Double ?? -1) >= 0)
            if let worker = expected[name] {
                let tid = event["tid"] as? Int
                #expect(tid == 1 || tid == 2, "\(name) is on track \(String(describing: tid))")
                checked += 1
                if tid == worker + 1 { placed += 1 }
            }
        }
        #expect(checked == 13)
        #expect(placed * 10 >= checked * 8, "\(placed) of \(checked) events on the track of the worker that ran them")
        let asyncEvent = try #require(complete.first { $0["name"] as? String == "wait" })
        #expect((asyncEvent["dur"] as! Double) >= 5_000)
    }

    @Test func anUnwritableTraceIsRejectedWhenThePipelineIsBuilt() {
        #expect {
            _ = try Pipeline(PipelineConfig().trace("/nonexistent-dir/x/trace.json"))
        } throws: { error in
            guard case .invalidArgument(let parameter, _, _) = error as? FlowError else { return false }
            return parameter == "trace"
        }
        #expect(throws: FlowError.invalid("trace", "\"\"", "must be a file path")) {
            try PipelineConfig().trace("").validate()
        }
    }
}
