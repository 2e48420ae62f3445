import FlowAtomics
@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Constraint topology", .timeLimit(.minutes(1)))
struct ConstraintTopologyTests {
    /// a → b → c, a → d → c, e →(2) c, and c → f.
    func diamond() throws -> FrozenTopology {
        var t = PipelineTopology()
        for name in ["a", "b", "c", "d", "e", "f"] { t.addStage(name, stats: { StageStats() }) }
        t.addEdge(from: "a", to: "b")
        t.addEdge(from: "b", to: "c")
        t.addEdge(from: "a", to: "d")
        t.addEdge(from: "d", to: "c")
        t.addEdge(from: "e", to: "c", ratio: 2)
        t.addEdge(from: "c", to: "f")
        return try t.freeze()
    }

    @Test func queriesOnADiamondWithASecondHead() throws {
        let t = try diamond()
        #expect(t.stages == ["a", "b", "c", "d", "e", "f"])
        #expect(t.heads == ["a", "e"])
        #expect(t.tails == ["f"])
        #expect(try t.heads(feeding: "d") == ["a"])
        #expect(try t.heads(feeding: "c") == ["a", "e"])
        #expect(try t.heads(feeding: "e") == ["e"])
        #expect(try t.ancestors(of: "f") == ["c", "b", "d", "e", "a"])
        #expect(try t.ancestors(of: "c") == ["b", "d", "e", "a"])
        #expect(try t.ancestors(of: "a") == [])
        #expect(try t.predecessors(of: "c") == ["b", "d", "e"])
        #expect(try t.successors(of: "a") == ["b", "d"])
        #expect(try t.incoming(to: "c") == [IncomingEdge(from: "b", ratio: 1), IncomingEdge(from: "d", ratio: 1),
                                            IncomingEdge(from: "e", ratio: 2)])
        #expect(try t.incoming(to: "a") == [])
        #expect(try t.ratio(from: "e", to: "c") == 2)
        #expect(try t.ratio(from: "a", to: "b") == 1)
        #expect(try t.hasPath(from: "a", to: "f"))
        #expect(try t.hasPath(from: "e", to: "f"))
        #expect(try !t.hasPath(from: "f", to: "a"))
        #expect(try !t.hasPath(from: "e", to: "d"))
        #expect(try t.hasPath(from: "d", to: "d"))
        #expect(t.contains("d") && !t.contains("z"))
    }

    @Test func unknownNamesInQueriesAreNamed() throws {
        let t = try diamond()
        #expect(throws: FlowError.invalid("stage", "z", "unknown stage (known: a, b, c, d, e, f)")) {
            try t.ancestors(of: "z")
        }
        #expect(throws: FlowError.invalid("target", "z", "unknown stage (known: a, b, c, d, e, f)")) {
            try t.heads(feeding: "z")
        }
        #expect(throws: FlowError.invalid("to", "z", "unknown stage (known: a, b, c, d, e, f)")) {
            try t.hasPath(from: "a", to: "z")
        }
        #expect(throws: FlowError.invalid("edge", "a -> c", "no such edge")) { try t.ratio(from: "a", to: "c") }
    }

    @Test func statsAccessorsAreCalled() async throws {
        let box = StatsBox()
        box.update { $0.completed = 42 }
        var t = PipelineTopology()
        t.addStage("x", stats: { box.stats })
        let stage = try Stage<Int, Int>(options: StageOptions(capacity: 3)) { $0 }
        t.addStage("y", stage)
        t.addEdge(from: "x", to: "y")
        let frozen = try t.freeze()
        #expect(try frozen.stats(of: "x").completed == 42)
        #expect(try frozen.stats(of: "y").queueCapacity == 3)
        #expect(frozen.snapshot().map(\.completed) == [42, 0])
        stage.closeInput()
        _ = await stage.discardAndWait()
    }

    func freezing(_ build: (inout PipelineTopology) -> Void) -> (any Error)? {
        var t = PipelineTopology()
        build(&t)
        do { _ = try t.freeze(); return nil } catch { return error }
    }

    @Test func freezeRejectsBadTopologiesWithClearErrors() {
        let none: @Sendable () -> StageStats = { StageStats() }
        #expect(freezing { _ in } as? FlowError
                == .invalid("stages", 0, "a topology needs at least one stage (call addStage first)"))
        #expect(freezing { $0.addStage("", stats: none) } as? FlowError
                == .invalid("name", "\"\"", "a stage name must not be empty"))
        #expect(freezing { $0.addStage("my stage", stats: none) } as? FlowError
                == .invalid("name", "\"my stage\"", "a stage name must not contain whitespace or '='"))
        #expect(freezing { $0.addStage("a", stats: none); $0.addStage("a", stats: none) } as? FlowError
                == .invalid("name", "a", "duplicate stage name"))
        #expect(freezing { $0.addStage("a", stats: none); $0.addEdge(from: "x", to: "a") } as? FlowError
                == .invalid("from", "x", "unknown stage in edge x -> a (add the stage first)"))
        #expect(freezing { $0.addStage("a", stats: none); $0.addEdge(from: "a", to: "y") } as? FlowError
                == .invalid("to", "y", "unknown stage in edge a -> y (add the stage first)"))
        #expect(freezing { $0.addStage("a", stats: none); $0.addEdge(from: "a", to: "a") } as? FlowError
                == .invalid("edge", "a -> a", "self-loop: a stage cannot feed itself"))
        #expect(freezing {
            $0.addStage("a", stats: none); $0.addStage("b", stats: none)
            $0.addEdge(from: "a", to: "b"); $0.addEdge(from: "a", to: "b", ratio: 3)
        } as? FlowError == .invalid("edge", "a -> b", "duplicate edge"))
        #expect(freezing {
            $0.addStage("a", stats: none); $0.addStage("b", stats: none)
            $0.addEdge(from: "a", to: "b", ratio: 0)
        } as? FlowError == .invalid("ratio", 0, "must be ≥ 1 (edge a -> b)"))
    }

    @Test func freezeReportsACycleByItsStages() {
        let none: @Sendable () -> StageStats = { StageStats() }
        let error = freezing {
            for name in ["src", "a", "b", "c", "out"] { $0.addStage(name, stats: none) }
            $0.addEdge(from: "src", to: "a")
            $0.addEdge(from: "a", to: "b")
            $0.addEdge(from: "b", to: "c")
            $0.addEdge(from: "c", to: "a")
            $0.addEdge(from: "c", to: "out")
        }
        #expect(error as? FlowError == .cycle(["a", "b", "c"]))
        #expect("\(error!)" == "cycle: a -> b -> c -> a")
        let two = freezing {
            $0.addStage("x", stats: none); $0.addStage("y", stats: none)
            $0.addEdge(from: "x", to: "y"); $0.addEdge(from: "y", to: "x")
        }
        #expect(two as? FlowError == .cycle(["x", "y"]))
    }

    @Test func operatorsJoinTheTopologyThroughTheirStats() async throws {
        try await withTimeLimit(.seconds(30)) {
            let source = try Stage<Int, Int>(options: StageOptions(capacity: 4)) { $0 }
            let copies = try tee(from: source.results, branches: 2)
            let merged = try merge(copies.branches)
            let batches = try batch(from: merged.results, size: 3)
            var t = PipelineTopology()
            t.addStage("source", source)
            t.addStage("tee", copies)
            t.addStage("merge", merged)
            t.addStage("batch", batches)
            t.addEdge(from: "source", to: "tee")
            t.addEdge(from: "tee", to: "merge", ratio: 1)
            t.addEdge(from: "merge", to: "batch", ratio: 3)
            let frozen = try t.freeze()
            Task {
                for x in 0..<7 { try await source.submit(x) }
                source.closeInput()
            }
            var sizes: [Int] = []
            for await b in batches.results { sizes.append((try? b.get())?.count ?? -1) }
            #expect(sizes.sorted() == [2, 3, 3, 3, 3])
            _ = await batches.wait()
            _ = await merged.wait()
            _ = await copies.wait()
            let tee = try frozen.stats(of: "tee"), merge = try frozen.stats(of: "merge"), batch = try frozen.stats(of: "batch")
            #expect(tee.received == 7 && tee.submitted == 7 && tee.completed == 7 && tee.dropped == 0)
            #expect(merge.received == 14 && merge.completed == 14 && merge.dropped == 0)
            #expect(batch.received == 14 && batch.submitted == 14 && batch.completed == 5 && batch.bufferedDepth == 0)
            #expect(tee.serviceTime == .zero && tee.targetWorkers == 1)
            #expect(try frozen.ratio(from: "merge", to: "batch") == 3)
        }
    }

    @Test func aSingleStageIsItsOwnHeadAndTail() throws {
        var t = PipelineTopology()
        t.addStage("only", stats: { StageStats() })
        let frozen = try t.freeze()
        #expect(frozen.heads == ["only"] && frozen.tails == ["only"])
        #expect(try frozen.heads(feeding: "only") == ["only"])
    }
}
