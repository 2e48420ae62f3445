import FlowAtomics
@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Constraint reporter", .serialized, .timeLimit(.minutes(2)))
struct ConstraintReporterTests {
    static let memory = ProcessMemory(resident: 100 << 20, available: 900 << 20)

    @Test func linesHaveTheDocumentedFormatAndParse() throws {
        let (topology, boxes) = try boxedTopology(["read", "parse", "write"], edges: [("read", "parse"), ("parse", "write")])
        let lines = Collector<String>()
        let reporter = try ConstraintReporter(topology: topology, interval: .seconds(1), memory: { Self.memory }) {
            lines.append($0)
        }
        boxes["read"]!.update {
            $0 = stageStats(submitted: 120, completed: 120, service: .milliseconds(200), blocked: .milliseconds(700),
                            capacity: 8, workers: 1, admitted: 1, maxWIP: 9)
        }
        boxes["parse"]!.update {
            $0 = stageStats(submitted: 110, completed: 100, failed: 3, service: .milliseconds(1900), depth: 7,
                            capacity: 8, workers: 2, admitted: 9, maxWIP: 10, waiters: 1)
        }
        boxes["write"]!.update {
            $0 = stageStats(submitted: 100, completed: 100, service: .milliseconds(100), idle: .milliseconds(900),
                            capacity: 8, workers: 1, maxWIP: 9)
        }
        let emitted = reporter.tick(elapsed: .seconds(1))
        #expect(emitted == lines.values)
        #expect(emitted == [
            "flow.stage t=1.000 stage=read tput=120.0 good=120.0 util=0.20 depth=0/8 zone=green workers=1/1 errors=0 wip=1/9 constraint=no",
            "flow.stage t=1.000 stage=parse tput=100.0 good=97.0 util=0.95 depth=7/8 zone=red workers=2/2 errors=3 wip=9/10 constraint=yes",
            "flow.stage t=1.000 stage=write tput=100.0 good=100.0 util=0.10 depth=0/8 zone=green workers=1/1 errors=0 wip=0/9 constraint=no",
            "flow.constraint t=1.000 stage=parse step=exploit starving=no",
            "flow.memory t=1.000 rss_mib=100.0 avail_mib=900.0 zone=green",
        ])
        let parsed = emitted.compactMap(ConstraintReportLine.init)
        #expect(parsed.count == emitted.count)
        #expect(parsed.map(\.kind) == ["flow.stage", "flow.stage", "flow.stage", "flow.constraint", "flow.memory"])
        let parse = parsed[1]
        #expect(parse["stage"] == "parse" && parse.number("tput") == 100 && parse.number("util") == 0.95)
        #expect(parse["depth"] == "7/8" && parse["zone"] == "red" && parse["workers"] == "2/2" && parse.number("errors") == 3)
        #expect(parsed[3]["stage"] == "parse" && parsed[3]["step"] == "exploit")
        #expect(parsed[4].number("rss_mib") == 100 && parsed[4]["zone"] == "green")
        #expect(ConstraintReportLine("not a report") == nil)
        #expect(ConstraintReportLine("flow.stage oops") == nil)

        // Second second: nothing moved; then the summary over both.
        let quiet = reporter.tick(elapsed: .seconds(1))
        #expect(quiet[3] == "flow.constraint t=2.000 stage=- step=identify starving=no")
        let summary = reporter.summary()
        #expect(summary == [
            "flow.summary stage=read items=120 failed=0 tput=60.0 util=0.10 constraint_ticks=0/2",
            "flow.summary stage=parse items=100 failed=3 tput=50.0 util=0.48 constraint_ticks=1/2",
            "flow.summary stage=write items=100 failed=0 tput=50.0 util=0.05 constraint_ticks=0/2",
            "flow.summary bottleneck=parse ticks=2 elapsed=2.000 peak_rss_mib=100.0",
        ])
        #expect(summary.allSatisfy { ConstraintReportLine($0)?.kind == "flow.summary" })
        #expect(reporter.bottleneck == "parse")
        let before = lines.values.count
        #expect(reporter.finish() == summary && lines.values.count == before + summary.count)
        #expect(throws: FlowError.invalid("interval", Duration.zero, "must be positive")) {
            try ConstraintReporter(topology: topology, interval: .zero) { _ in }
        }
    }

    @Test func aRopeAddsItsLineAndMakesTheStepSubordinate() throws {
        let (topology, boxes) = try boxedTopology(["head", "drum"], edges: [("head", "drum")])
        let rope = try RopeController(topology: topology, drum: "drum", initialLength: 4) { $0 }
        let reporter = try ConstraintReporter(topology: topology, rope: rope, memory: { ProcessMemory(resident: nil, available: nil) }) { _ in }
        boxes["head"]!.update { $0 = stageStats(completed: 50, service: .milliseconds(100), blocked: .milliseconds(800), admitted: 2) }
        boxes["drum"]!.update { $0 = stageStats(completed: 50, service: .milliseconds(990), depth: 3, capacity: 4) }
        rope.tick(elapsed: .seconds(1))   // goodput 50/s, flow 2 ms: ⌈50 × 0.002 × 1.5⌉ = 1
        let lines = reporter.tick(elapsed: .seconds(1))
        #expect(lines.contains("flow.constraint t=1.000 stage=drum step=subordinate starving=no"))
        #expect(lines.contains("flow.rope t=1.000 drum=drum length=1 wip=5 goodput=50.0 flow_ms=2.00 head_wip=1"))
        #expect(lines.last == "flow.memory t=1.000 rss_mib=- avail_mib=- zone=unknown")
        #expect(lines.allSatisfy { ConstraintReportLine($0) != nil })
    }

    @Test func namesTheBottleneckOfARealPipelineFromItsRunLoop() async throws {
        try await withTimeLimit(.seconds(90)) {
            let chain = try SlowChain(slow: 1)
            let lines = Collector<String>()
            let reporter = try ConstraintReporter(topology: try chain.topology(), interval: .milliseconds(100)) {
                lines.append($0)
            }
            let reporting = Task { await reporter.run() }
            // The first samples, while the chain fills, can name the head
            // (on a loaded machine as often as s1 over 6 samples): wait
            // until the slow stage leads, as it must once the chain is full.
            #expect(await waitUntil(timeout: .seconds(30)) {
                reporter.analyzer.sampleCount >= 6 && reporter.bottleneck == "s1"
            }, "counts \(reporter.analyzer.constraintCounts)")
            #expect(await reporter.run() == false)            // one loop at a time
            reporting.cancel()
            #expect(await reporting.value == true)            // the loop ended with its task
            let delivered = await chain.shutdown()
            #expect(delivered > 0)

            let all = lines.values
            let parsed = all.compactMap(ConstraintReportLine.init)
            #expect(parsed.count == all.count, "every line parses")
            #expect(parsed.filter { $0.kind == "flow.stage" }.count == 4 * parsed.filter { $0.kind == "flow.memory" }.count)
            for line in parsed where line.kind == "flow.stage" {
                #expect(line.number("tput") != nil && line.number("util") != nil && line["zone"] != nil)
                #expect(SlowChain.names.contains(line["stage"] ?? ""))
            }
            let summary = reporter.summary().compactMap(ConstraintReportLine.init)
            #expect(summary.last?["bottleneck"] == "s1")
            #expect(summary.first { $0["stage"] == "s1" }.flatMap { $0.number("util") } ?? 0 > 0.5)
        }
    }
}
