import FlowPipeline
import FlowTestSupport
import Testing

/// The worked example of docs/Constraints.md, kept compiling and correct:
/// the code between the markers is the doc's code block, line for line.
@Suite("Constraint docs", .serialized, .timeLimit(.minutes(2)))
struct ConstraintDocsTests {
    @Test func workedExampleNamesParseTheBottleneck() async throws {
        try await withTimeLimit(.seconds(90)) {
            // --- docs/Constraints.md: worked example ---
            let read = try Stage<Int, Int>(options: StageOptions(capacity: 32)) { line in
                try await Task.sleep(for: .milliseconds(1))      // read a line
                return line
            }
            let parse = try pipe(from: read.results, options: StageOptions(capacity: 8, workers: 3)) { (line: Int) in
                try await Task.sleep(for: .milliseconds(12))     // parse it: the slow step (4 ms a line over 3 workers)
                return line
            }
            let aggregate = try pipe(from: parse.results, options: StageOptions(capacity: 8)) { (line: Int) in
                try await Task.sleep(for: .milliseconds(1))
                return line
            }
            let write = try pipe(from: aggregate.results, options: StageOptions(capacity: 8)) { (line: Int) in
                try await Task.sleep(for: .milliseconds(1))
                return line
            }

            var topology = PipelineTopology()
            topology.addStage("read", read)
            topology.addStage("parse", parse)
            topology.addStage("aggregate", aggregate)
            topology.addStage("write", write)
            topology.addEdge(from: "read", to: "parse")
            topology.addEdge(from: "parse", to: "aggregate")
            topology.addEdge(from: "aggregate", to: "write")
            let frozen = try topology.freeze()

            let rope = try RopeController(topology: frozen, drum: "parse", headStage: read, interval: .milliseconds(100))
            let reporter = try ConstraintReporter(topology: frozen, interval: .milliseconds(250), rope: rope,
                                                  handler: ConstraintReporter.standardOutput)
            let control = Task { await rope.run() }
            let reporting = Task { await reporter.run() }

            Task {
                for line in 0..<400 { try await read.submit(line) }
                read.closeInput()
            }
            for await _ in write.results {}          // drain the tail
            control.cancel()
            reporting.cancel()
            _ = await (control.value, reporting.value)
            for line in reporter.summary() { print(line) }
            print("bottleneck:", reporter.bottleneck ?? "none")
            // --- end of the worked example ---

            #expect(reporter.bottleneck == "parse")
            let summary = reporter.summary().compactMap(ConstraintReportLine.init)
            #expect(summary.count == 5)
            #expect(summary.first { $0["stage"] == "parse" }?.number("items") == 400)
            #expect(summary.last?["bottleneck"] == "parse")
            #expect(rope.stats.measured && rope.stats.length >= 1)
            #expect(read.stats.maxWIP == rope.stats.headAppliedWIP)
            for stage in [read, parse, aggregate, write] { #expect(await stage.wait() == nil) }
        }
    }
}
