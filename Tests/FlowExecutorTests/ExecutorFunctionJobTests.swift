import FlowExecutor
import FlowTestSupport
import Synchronization
import Testing

/// What the function jobs of these tests reach through their context: the
/// executor (to submit more), per-index run counts and a latch.
final class FunctionJobState: Sendable {
    let executor: Executor
    let counts: RunCounts
    let done: Latch
    /// Jobs with an index below this submit the job `index + split` first.
    let split: Int
    /// Pinned jobs that ran on another worker.
    let wrongWorker = Atomic<Int>(0)

    init(executor: Executor, total: Int, split: Int = 0) {
        self.executor = executor
        counts = RunCounts(total)
        done = Latch(count: total)
        self.split = split
    }

    var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ context: UnsafeMutableRawPointer?) -> FunctionJobState {
        Unmanaged<FunctionJobState>.fromOpaque(context!).takeUnretainedValue()
    }
}

/// `Executor.submit(context:argument:_:)`: jobs that are a C function and
/// two words. Every job runs exactly once, from outside threads and from
/// inside workers, with priorities and affinities; bad input and a shut
/// down executor are refused like closures.
@Suite("Executor function jobs", .serialized, .timeLimit(.minutes(3)))
struct ExecutorFunctionJobTests {
    /// Each of `seeds` jobs submitted from outside submits, from its
    /// worker, the job `argument + seeds` (the allocation-free path), which
    /// submits nothing: every index in 0..<2·seeds runs exactly once.
    @Test(arguments: [1, 4])
    func everyJobRunsOnceFromOutsideAndInside(threads: Int) throws {
        let seeds = StressScale.scaled(200_000, minimum: 10_000)
        let executor = try Executor(workers: 2, name: "fn")
        let state = FunctionJobState(executor: executor, total: 2 * seeds, split: seeds)
        let perThread = seeds / threads
        try Stress.run(threads: threads, timeout: .seconds(120)) { t in
            let end = t == threads - 1 ? seeds : (t + 1) * perThread
            for i in t * perThread..<end {
                try! executor.submit(context: state.context, argument: UInt(i)) { context, argument in
                    let state = FunctionJobState.from(context)
                    let i = Int(argument)
                    if i < state.split {
                        try! state.executor.submit(context: context, argument: UInt(i + state.split)) { context, argument in
                            let state = FunctionJobState.from(context)
                            state.counts.hit(Int(argument))
                            state.done.countDown()
                        }
                    }
                    state.counts.hit(i)
                    state.done.countDown()
                }
            }
        }
        #expect(state.done.wait(timeout: .seconds(120)))
        executor.shutdown()
        #expect(state.counts.wrong.isEmpty, "\(state.counts.wrong.count) jobs did not run exactly once")
        let snap = executor.snapshot()
        #expect(snap.executed == 2 * seeds && snap.submitted == 2 * seeds && snap.queued == 0)
    }

    /// Function jobs with a priority or an affinity, from inside and
    /// outside: each runs once, a pinned one on its worker.
    @Test func prioritiesAndAffinitiesAreHonoured() throws {
        let executor = try Executor(workers: 2, name: "fn-options")
        let n = 3_000
        let state = FunctionJobState(executor: executor, total: n)
        for i in 0..<n {
            let priority = Priority.allCases[i % 3]
            let affinity: Int? = i % 4 == 0 ? (i / 4) % 2 : nil
            // The argument: the index, and the worker it is pinned to plus one (0: none).
            let argument = UInt(i) << 2 | UInt(affinity.map { $0 + 1 } ?? 0)
            let submit = { @Sendable in
                try! executor.submit(priority: priority, affinity: affinity, context: state.context,
                                     argument: argument) { context, argument in
                    let state = FunctionJobState.from(context)
                    let pinned = Int(argument & 3) - 1
                    if pinned >= 0 && state.executor.currentWorkerIndex != pinned {
                        state.wrongWorker.wrappingAdd(1, ordering: .relaxed)
                    }
                    state.counts.hit(Int(argument >> 2))
                    state.done.countDown()
                }
            }
            if i % 5 == 0 { try executor.submit(submit) } else { submit() }   // from inside, or from here
        }
        #expect(state.done.wait(timeout: .seconds(60)))
        executor.shutdown()
        #expect(state.counts.wrong.isEmpty)
        #expect(state.wrongWorker.load(ordering: .relaxed) == 0)
    }

    @Test func badAffinityAndShutDownAreRefused() throws {
        let executor = try Executor(workers: 2, name: "fn-refuse")
        #expect {
            try executor.submit(affinity: 2, context: nil, argument: 0) { _, _ in }
        } throws: { error in
            guard case let .invalidArgument(parameter, value, _)? = error as? FlowError else { return false }
            return parameter == "affinity" && value == "2"
        }
        executor.shutdown()
        #expect {
            try executor.submit(context: nil, argument: 0) { _, _ in }
        } throws: { error in
            guard case .rejected? = error as? FlowError else { return false }
            return true
        }
        #expect(executor.snapshot().submitted == 0)
    }
}
