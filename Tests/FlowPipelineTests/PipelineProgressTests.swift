#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
@testable import FlowPipeline
import FlowTestSupport
import Synchronization
import Testing

/// The sum invariant of one sample; nil when it holds.
private func invariantViolation(_ p: PipelineProgress) -> String? {
    let sum = p.completed + p.running + p.queued + p.failed + p.skipped
    guard sum == p.total, p.ready <= p.queued, p.tasks.isEmpty || p.tasks.count == p.total else {
        return "completed \(p.completed) + running \(p.running) + queued \(p.queued) + failed \(p.failed) + skipped \(p.skipped) = \(sum), total \(p.total)"
    }
    return nil
}

/// Samples `pipeline.progress()` from its own thread until stopped.
private final class ProgressSampler: Sendable {
    let samples = Atomic<Int>(0)
    let seenRunning = Atomic<Int>(0)
    let violations = Collector<String>()
    private let stopped = Atomic<Bool>(false)
    private let thread = Locked<TestThread?>(nil)

    init(_ pipeline: Pipeline) {
        let t = TestThread.spawn { [self] in
            while !stopped.load(ordering: .acquiring) {
                if let p = pipeline.progress() {
                    samples.wrappingAdd(1, ordering: .relaxed)
                    if p.running > 0 { seenRunning.wrappingAdd(1, ordering: .relaxed) }
                    if let bad = invariantViolation(p) { violations.append(bad) }
                }
                sched_yield()   // leave the workers a core
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() {
        stopped.store(true, ordering: .releasing)
        thread.withLock { $0 }?.join()
    }
}

/// root → hold0, hold1, … (each waits for its gate) → tail → end. Hold i
/// is pinned to worker i % 2 (a worker that pushes one node on its own
/// deque runs it itself later, so an unpinned sibling of a blocked node
/// may wait): on two workers hold0 and hold1 run, hold2 waits behind hold0.
private func gatedGraph(_ gates: [Gate]) -> (TaskGraph, Node<Int>) {
    let graph = TaskGraph("gated")
    let root = graph.task("root") { 1 }
    let holds = (0..<gates.count).map { i in
        graph.task("hold\(i)", after: root, options: NodeOptions(affinity: i % 2)) { (v: Int) -> Int in
            #expect(gates[i].wait(timeout: .seconds(20)))
            return v + i
        }
    }
    let tail = graph.fanIn(holds, name: "tail") { $0.reduce(0, +) }
    let end = graph.task("end", after: tail) { $0 * 2 }
    return (graph, end)
}

@Suite("Pipeline progress", .serialized, .timeLimit(.minutes(1)))
struct PipelineProgressTests {
    @Test func countsAddUpAtEverySampleAndMatchKnownPoints() async throws {
        let pipeline = try Pipeline(PipelineConfig().name("prog").computeThreads(2).ioThreads(0).progress(.polled))
        defer { pipeline.shutdown() }
        #expect(pipeline.progress() == nil)   // no run yet
        let gates = (0..<3).map { _ in Gate() }
        let (graph, end) = gatedGraph(gates)
        let sampler = ProgressSampler(pipeline)
        let run = Task { try await pipeline.run(graph) }

        // Two workers, three gated tasks: two run, one is queued and ready.
        #expect(await waitUntil { pipeline.progress()?.running == 2 })
        let p = try #require(pipeline.progress())
        #expect(p.total == 6 && p.completed == 1 && p.running == 2 && p.queued == 3 && p.ready == 1)
        #expect(p.failed == 0 && p.skipped == 0 && !p.isFinished)
        #expect(p.pipeline == "prog" && p.graph == "gated")
        let running = p.tasks.filter { $0.phase == .running }.map(\.name)
        #expect(running == ["hold0", "hold1"])
        #expect(p.workers.map(\.id) == [0, 1])
        #expect(p.workers.map(\.currentTask) == ["hold0", "hold1"])
        #expect(p.workers.allSatisfy { !$0.isIdle })
        #expect(p.workers[0].queueDepth == 1)     // hold2, pinned behind hold0
        let ready = try #require(p.tasks.first { $0.phase == .ready })
        #expect(ready.name == "hold2" && ready.queued != nil && ready.running == nil)
        #expect(p.tasks.first { $0.name == "tail" }?.phase == .waiting)

        // Let hold0 through: hold2 starts on its worker.
        gates[0].open()
        #expect(await waitUntil { pipeline.progress()?.completed == 2 && pipeline.progress()?.running == 2 })
        let q = try #require(pipeline.progress())
        #expect(q.completed == 2 && q.running == 2 && q.queued == 2 && q.ready == 0)

        for gate in gates { gate.open() }
        let result = try await run.value
        sampler.stop()
        #expect(result[end] == 2 * (3 + 0 + 1 + 2))
        #expect(sampler.violations.values.isEmpty, "\(sampler.violations.values.prefix(3))")
        #expect(sampler.samples.load(ordering: .relaxed) > 0 && sampler.seenRunning.load(ordering: .relaxed) > 0)

        // The final progress matches the report.
        let final = try #require(pipeline.progress())
        let report = try #require(pipeline.report())
        #expect(final.isFinished && final.completed == 6 && final.running == 0 && final.queued == 0)
        #expect(final.completed == report.succeeded && final.failed == report.failures.count)
        #expect(final.tasks.map(\.name) == report.tasks.map(\.name))
        #expect(final.tasks.allSatisfy { $0.phase == .succeeded && $0.running != nil })
        #expect(final.elapsed > .zero && final.percent == 100)
    }

    @Test func failuresAreCountedAndMatchTheReport() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).ioThreads(0).errorPolicy(.continue).progress(.polled))
        defer { pipeline.shutdown() }
        let graph = TaskGraph("failing")
        let root = graph.task("root") { 1 }
        let bad = graph.task("bad", after: root) { (_: Int) -> Int in throw Boom() }
        _ = graph.task("after", after: bad) { $0 + 1 }
        _ = graph.task("ok", after: root) { $0 + 2 }
        await #expect(throws: GraphError.self) { _ = try await pipeline.run(graph) }
        let final = try #require(pipeline.progress())
        #expect(invariantViolation(final) == nil)
        #expect(final.completed == 2 && final.failed == 1 && final.skipped == 1 && final.total == 4)
        #expect(final.failed == pipeline.report()?.failures.count)
        #expect(final.bar(width: 80).contains("· 1 failed · 1 skipped"))
    }

    @Test func offTracksNothing() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).ioThreads(0))
        defer { pipeline.shutdown() }
        #expect(pipeline.config.progress == .off)
        let (graph, end) = gatedGraph([Gate(), Gate()].map { $0.open(); return $0 })
        #expect(try await pipeline.run(graph)[end] == 2 * (1 + 2))
        #expect(pipeline.progress() == nil)
    }

    @Test func callbackIsCalledDuringTheRunAndLastWithTheFinalProgress() async throws {
        let calls = Collector<PipelineProgress>()
        let config = PipelineConfig().name("cb").computeThreads(2).ioThreads(0)
            .progress(.every(.milliseconds(2)) { calls.append($0) })
        let pipeline = try Pipeline(config)
        defer { pipeline.shutdown() }
        let gates = [Gate(), Gate()]
        let (graph, end) = gatedGraph(gates)
        let run = Task { try await pipeline.run(graph) }
        // Called while tasks are held running.
        #expect(await waitUntil { calls.values.count { $0.running == 2 } >= 2 })
        for gate in gates { gate.open() }
        #expect(try await run.value[end] == 2 * (1 + 2))
        let values = calls.values
        let last = try #require(values.last)
        #expect(values.allSatisfy { invariantViolation($0) == nil })
        #expect(values.dropLast().allSatisfy { !$0.isFinished })
        #expect(last.isFinished && last.completed == 5 && last.total == 5)
        let final = try #require(pipeline.progress())
        #expect(last.completed == final.completed && last.failed == final.failed && last.elapsed == final.elapsed)
        #expect(last.completed == pipeline.report()?.succeeded)
        // The reporting task ended with the run: no call after the final one.
        // (Not synchronisation: `run` already awaited the reporter; this is a
        // window of 15 intervals in which a stray late call would show up.)
        try await Task.sleep(for: .milliseconds(30))
        #expect(calls.values.count == values.count)
    }

    @Test func countersMoveInsideOneTask() async throws {
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).ioThreads(0).progress(.polled))
        defer { pipeline.shutdown() }
        let chunks = pipeline.progressCounter("chunks")
        #expect(pipeline.progressCounter("chunks") === chunks)
        let halfway = Gate(), resume = Gate()
        let graph = TaskGraph("stream")
        let stream = graph.task("stream") { () async throws -> Int in
            chunks.addTotal(8)
            chunks.advance(by: 3)
            halfway.open()
            #expect(await resume.waitAsync(timeout: .seconds(20)))
            for _ in 3..<8 { chunks.advance() }
            return chunks.completed
        }
        let run = Task { try await pipeline.run(graph) }
        #expect(await halfway.waitAsync(timeout: .seconds(20)))
        let p = try #require(pipeline.progress())
        #expect(p.units == [PipelineProgress.Units(label: "chunks", completed: 3, total: 8)])
        #expect(p.running == 1 && p.completed == 0)
        #expect(p.fraction == 3.0 / 8.0)                     // the bar moves inside the one task
        #expect(p.bar(width: 100).contains("· chunks 3/8"))
        resume.open()
        #expect(try await run.value[stream] == 8)
        let final = try #require(pipeline.progress())
        #expect(final.units == [PipelineProgress.Units(label: "chunks", completed: 8, total: 8)])
        #expect(final.fraction == 1)
        #expect(chunks.completed == 8 && chunks.total == 8)
        chunks.reset()
        #expect(chunks.completed == 0 && chunks.total == 0)
    }

    @Test func barIsAPureFunctionOfTheValue() {
        let p = PipelineProgress(pipeline: "p", graph: "g",
                                 counts: GraphMonitor.Counts(waiting: 20, ready: 3, running: 1, succeeded: 40),
                                 elapsed: .milliseconds(2_140),
                                 units: [PipelineProgress.Units(label: "chunks", completed: 128, total: 512)])
        // (40 finished + 1/4 of the running task) / 64 = 62.9 %
        #expect(p.bar(width: 80) == "[###############..........] 62% 40/64 tasks · 1 running · 2.1 s · chunks 128/512")
        #expect(p.bar(width: 80).count == 80)
        #expect(p.bar(width: 40).count == 40)
        #expect(p.bar(width: 40) == "[######....] 62% 40/64 tasks · 1 running")
        #expect(p.description == "40/64 tasks done (0 failed, 0 skipped), 1 running, 23 queued, chunks 128/512")
        let done = PipelineProgress(pipeline: "p", graph: "g", counts: GraphMonitor.Counts(succeeded: 4),
                                    elapsed: .seconds(12), isFinished: true)
        #expect(done.bar(width: 200) == "[" + String(repeating: "#", count: 40) + "] 100% 4/4 tasks · 0 running · 12.0 s")
        let empty = PipelineProgress(pipeline: "p", graph: "g", counts: GraphMonitor.Counts(), elapsed: .zero)
        #expect(empty.percent == 100)
    }

    @Test func terminalWritesNothingWhenNotATerminal() async throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let writer = TerminalProgress(fd: fds[1])
        #expect(!writer.isTerminal)
        let p = PipelineProgress(pipeline: "p", graph: "g", counts: GraphMonitor.Counts(running: 1, succeeded: 1),
                                 elapsed: .seconds(1))
        #expect(writer.draw(p, final: false) == 0)
        #expect(writer.draw(p, final: true) == 0)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == -1)   // EAGAIN: nothing was written

        // A pipeline with a terminal bar still tracks progress.
        let pipeline = try Pipeline(PipelineConfig().computeThreads(2).ioThreads(0).progress(.terminal))
        defer { pipeline.shutdown() }
        let (graph, end) = gatedGraph([Gate()].map { $0.open(); return $0 })
        #expect(try pipeline.execute(graph)[end] == 2)
        #expect(pipeline.progress()?.completed == 4)
    }

    /// The example of docs/Pipeline.md, "Progress", verbatim.
    @Test func docsExample() async throws {
        let pipeline = try Pipeline(PipelineConfig()
            .name("scan")
            .computeThreads(2)
            .progress(.every(.milliseconds(100)) { progress in
                print(progress.bar(width: 72))
            }))
        let chunks = pipeline.progressCounter("chunks")

        let graph = TaskGraph("scan")
        let sizes = graph.parallel(8, name: "list") { i in 64 * (i + 1) }
        let longest = graph.fanIn(sizes, name: "longest") { $0.max()! }
        let scan = graph.task("scan", after: longest) { (size: Int) async throws -> Int in
            chunks.addTotal(size)
            var sum = 0
            for chunk in 0..<size {
                sum += chunk
                chunks.advance()
            }
            return sum
        }

        let run = try await pipeline.run(graph)
        print(run[scan]!)                              // 130816
        print(pipeline.progress()!)                    // 10/10 tasks done (0 failed, 0 skipped), 0 running, 0 queued, chunks 512/512
        pipeline.shutdown()

        #expect(run[scan] == 130_816)
        #expect(pipeline.progress()?.description
                == "10/10 tasks done (0 failed, 0 skipped), 0 running, 0 queued, chunks 512/512")
    }

    @Test func configRoundTripsAndRejectsABadInterval() throws {
        let handler = ProgressReporting.every(.milliseconds(250)) { _ in }
        let config = PipelineConfig().progress(handler)
        #expect(config.progress == handler)
        #expect(config == PipelineConfig().progress(handler))
        #expect(config != PipelineConfig().progress(.every(.milliseconds(250)) { _ in }))   // another closure
        #expect(config.progress.interval == .milliseconds(250))
        #expect(PipelineConfig().progress(.terminal).progress == .terminal)
        #expect(PipelineConfig().progress(.polled).progress.tracks)
        #expect(!PipelineConfig().progress.tracks)
        #expect(ProgressReporting.terminal.interval == ProgressReporting.terminalInterval)
        try config.validate()
        #expect {
            _ = try Pipeline(PipelineConfig().progress(.every(.zero) { _ in }))
        } throws: { error in
            guard case .invalidArgument(let parameter, let value, let reason) = error as? FlowError else { return false }
            return parameter == "progress" && value == "\(Duration.zero)" && reason.contains("positive")
        }
        #expect(throws: FlowError.self) { try PipelineConfig().progress(.every(.seconds(-1)) { _ in }).validate() }
    }
}
