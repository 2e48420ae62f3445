import FlowAtomics
@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Constraint analyzer", .serialized, .timeLimit(.minutes(2)))
struct ConstraintAnalyzerTests {
    /// One second of a chain read → parse → write → sink where parse is the
    /// constraint: busy 95%, its buffer full, read blocked on it 80% of the time.
    func saturatedParse(parseIdle: Duration = .milliseconds(20)) throws -> (FrozenTopology, [IntervalStats]) {
        let (topology, _) = try boxedTopology(["read", "parse", "write", "sink"],
                                              edges: [("read", "parse"), ("parse", "write"), ("write", "sink")])
        let second = Duration.seconds(1)
        let after = [
            stageStats(completed: 100, service: .milliseconds(150), blocked: .milliseconds(800), capacity: 8),
            stageStats(completed: 100, service: .milliseconds(950), idle: parseIdle, depth: 8, capacity: 8),
            stageStats(completed: 100, service: .milliseconds(100), idle: .milliseconds(900), capacity: 8),
            stageStats(completed: 100, service: .milliseconds(50), idle: .milliseconds(950), capacity: 8),
        ]
        return (topology, after.map { IntervalStats(from: StageStats(), to: $0, elapsed: second) })
    }

    @Test func namesTheSaturatedStageWithItsEvidence() throws {
        let (topology, intervals) = try saturatedParse()
        let verdict = try ConstraintAnalyzer.analyze(intervals, topology: topology)
        #expect(verdict.constraint == "parse")
        #expect(verdict.step == .exploit)          // no rope yet
        #expect(!verdict.starving)
        let parse = try #require(verdict["parse"])
        #expect(parse.saturated && parse.zone == .red && parse.inputPressure == 1)
        #expect(parse.blockedPredecessor == "read" && abs(parse.upstreamBlocked - 0.8) < 1e-9)
        #expect(abs(parse.score - (0.95 + 0.5 + 0.8)) < 1e-9)
        #expect(verdict["read"]!.saturated == false && verdict["sink"]!.utilization == 0.05)
        #expect(verdict.description == "constraint parse (exploit): util 0.95, input red 8/8, read blocked 0.80")
        #expect(verdict.stages.map(\.stage) == ["read", "parse", "write", "sink"])
    }

    @Test func focusingSteps() throws {
        let (topology, intervals) = try saturatedParse()
        #expect(try ConstraintAnalyzer.analyze(intervals, topology: topology, ropeActive: true).step == .subordinate)
        #expect(try ConstraintAnalyzer.analyze(intervals, topology: topology, ropeActive: true, rebalancing: true).step
                == .elevate)
        #expect(try ConstraintAnalyzer.analyze(intervals, topology: topology, previousConstraint: "write",
                                               ropeActive: true).step == .preventInertia)
        #expect(try ConstraintAnalyzer.analyze(intervals, topology: topology, previousConstraint: "parse",
                                               ropeActive: true).step == .subordinate)
        // Starving: parse waited for input 20% of the time, above the 10% threshold.
        let (_, starving) = try saturatedParse(parseIdle: .milliseconds(200))
        let verdict = try ConstraintAnalyzer.analyze(starving, topology: topology, ropeActive: true)
        #expect(verdict.constraint == "parse" && verdict.starving && verdict.step == .exploit)
        // Nothing saturated: the source limits the pipeline.
        let idle = intervals.map { _ in IntervalStats(from: StageStats(), to: stageStats(completed: 10, service: .milliseconds(100)),
                                                      elapsed: .seconds(1)) }
        let none = try ConstraintAnalyzer.analyze(idle, topology: topology)
        #expect(none.constraint == nil && none.step == .identify && none.description == "no constraint (identify): no stage saturated")
        // The pure classification, by priority.
        #expect(FocusingStep.classify(previousConstraint: "a", constraint: nil, ropeActive: true, rebalancing: true,
                                      starving: true) == .identify)
        #expect(FocusingStep.classify(previousConstraint: nil, constraint: "a", ropeActive: true, rebalancing: false,
                                      starving: false) == .subordinate)
        #expect(FocusingStep.allCases.map(\.rawValue) == [1, 2, 3, 4, 5])
        #expect(FocusingStep.preventInertia.description == "prevent-inertia")
    }

    @Test func aStageBlockedOnItsOutputIsNotTheConstraint() throws {
        // Both a and b are busy, but a spends a third of its time blocked on b: b is the constraint.
        let (topology, _) = try boxedTopology(["a", "b"], edges: [("a", "b")])
        let intervals = [
            IntervalStats(from: StageStats(), to: stageStats(completed: 50, service: .milliseconds(800),
                                                             blocked: .milliseconds(200), depth: 8, capacity: 8),
                          elapsed: .seconds(1)),
            IntervalStats(from: StageStats(), to: stageStats(completed: 50, service: .milliseconds(800), depth: 3,
                                                             capacity: 8), elapsed: .seconds(1)),
        ]
        #expect(try ConstraintAnalyzer.analyze(intervals, topology: topology).constraint == "b")
        #expect(throws: FlowError.invalid("intervals", 1, "need one per stage, in topology order (2)")) {
            try ConstraintAnalyzer.analyze([intervals[0]], topology: topology)
        }
        #expect(throws: FlowError.invalid("saturation", 0.0, "must be in (0, 1]")) {
            try ConstraintCriteria(saturation: 0)
        }
    }

    @Test func aBackedUpStageSharingCPUsIsTheConstraintBelowTheThreshold() throws {
        // Two cores shared by read, parse (2 workers) and aggregate (2 workers): parse is busy
        // only 66% of its workers' time (they wait for a CPU), but read waits on it 86% of the
        // time while parse waits on aggregate 27%: parse is backed up, and named.
        let (topology, _) = try boxedTopology(["read", "parse", "aggregate"],
                                              edges: [("read", "parse"), ("parse", "aggregate")])
        func interval(_ stats: StageStats) -> IntervalStats {
            IntervalStats(from: StageStats(), to: stats, elapsed: .seconds(1))
        }
        var intervals = [
            interval(stageStats(completed: 600, service: .milliseconds(180), blocked: .milliseconds(1720), capacity: 4,
                                workers: 2)),
            interval(stageStats(completed: 600, service: .milliseconds(1320), blocked: .milliseconds(540), depth: 3,
                                capacity: 4, workers: 2)),
            interval(stageStats(completed: 600, service: .milliseconds(460), idle: .milliseconds(1540), capacity: 2,
                                workers: 2)),
        ]
        var verdict = try ConstraintAnalyzer.analyze(intervals, topology: topology)
        #expect(verdict.constraint == "parse")
        #expect(verdict["parse"]!.saturated && verdict["parse"]!.utilization < 0.75)
        #expect(!verdict["read"]!.saturated && !verdict["aggregate"]!.saturated)

        // Parse blocked on its own output more than half as long as read is blocked on it: not
        // backed up (and aggregate, which holds parse up less than half the time, is not either).
        intervals[1] = interval(stageStats(completed: 600, service: .milliseconds(1320), blocked: .milliseconds(900),
                                           depth: 3, capacity: 4, workers: 2))
        verdict = try ConstraintAnalyzer.analyze(intervals, topology: topology)
        #expect(verdict.constraint == nil)

        // Aggregate holding parse up most of the time is backed up in turn.
        intervals[1] = interval(stageStats(completed: 600, service: .milliseconds(1320), blocked: .milliseconds(1400),
                                           depth: 3, capacity: 4, workers: 2))
        verdict = try ConstraintAnalyzer.analyze(intervals, topology: topology)
        #expect(verdict.constraint == "aggregate")
    }

    @Test func samplingCountsVerdictsAndJudgesTheWholeRun() throws {
        let (topology, boxes) = try boxedTopology(["a", "b", "c"], edges: [("a", "b"), ("b", "c")])
        let analyzer = ConstraintAnalyzer(topology: topology)
        // Three seconds with b saturated, then one with c saturated (b still busy 60%).
        for second in 1...4 {
            let slow = second <= 3 ? "b" : "c"
            let busy: [String: Duration] = second <= 3 ? ["a": .milliseconds(100), "b": .milliseconds(900), "c": .milliseconds(100)]
                : ["a": .milliseconds(100), "b": .milliseconds(600), "c": .milliseconds(900)]
            for (name, box) in boxes {
                box.update { s in
                    s.completed += 10
                    s.targetWorkers = 1
                    s.serviceTime += busy[name]!
                }
            }
            let verdict = analyzer.sample(elapsed: .seconds(1))
            #expect(verdict.constraint == slow)
            #expect(verdict.step == (second == 4 ? .preventInertia : .exploit))
        }
        #expect(analyzer.sampleCount == 4)
        #expect(analyzer.constraintCounts == ["b": 3, "c": 1])
        #expect(analyzer.lastVerdict?.constraint == "c")
        #expect(analyzer.sampledTime == .seconds(4))
        let whole = analyzer.cumulative()
        #expect(whole.elapsed == .seconds(4))              // the sampled intervals added up
        #expect(whole.constraint == "b")                   // busy 3.3 s of 4 s, c 1.2 s
        #expect(analyzer.bottleneck == "b")
    }

    @Test func findsTheTenTimesSlowerStageAndFollowsItWhenItMoves() async throws {
        try await withTimeLimit(.seconds(90)) {
            let chain = try SlowChain(slow: 2)
            let analyzer = ConstraintAnalyzer(topology: try chain.topology())
            #expect(await chain.progress(of: 2, by: 10))       // warm up: buffers fill
            analyzer.sample()                                  // start a fresh interval
            var first: [String?] = []
            for _ in 0..<5 {
                #expect(await chain.progress(of: 2, by: 15))
                first.append(analyzer.sample().constraint)
            }
            #expect(mostCommon(first) == "s2", "verdicts with s2 slow: \(first)")

            chain.moveSlowness(to: 0)
            #expect(await chain.progress(of: 0, by: 15))       // the old queues drain
            analyzer.sample()
            var second: [String?] = []
            for _ in 0..<5 {
                #expect(await chain.progress(of: 0, by: 15))
                second.append(analyzer.sample().constraint)
            }
            #expect(mostCommon(second) == "s0", "verdicts with s0 slow: \(second)")
            let last = try #require(analyzer.lastVerdict)
            #expect(last["s0"]!.utilization > last["s3"]!.utilization)
            let delivered = await chain.shutdown()
            #expect(delivered > 0)
            for stage in chain.stages { #expect(stage.stats.completed + stage.stats.canceled == stage.stats.submitted) }
        }
    }
}
