import FlowExecutor
import FlowTestSupport
import Synchronization
import Testing

/// The examples of README.md (FlowExecutor) and docs/Executor.md, compiled
/// and checked. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Executor docs", .timeLimit(.minutes(1)))
struct ExecutorDocsTests {
    @Test func readmeExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let executor = try Executor(.init(workers: 4, name: "compute"))   // default: usable CPUs (affinity + cgroup quota)
            try executor.submit { print("a closure on a worker, no Swift task made") }
            try executor.submit(priority: .high) { }      // runs before waiting normal/low work
            try executor.submit(affinity: 0) { }          // pinned to worker 0, never stolen

            // Swift tasks run on the pool and come back to it after every suspension.
            let sum = await Task(executorPreference: executor) {
                await withTaskGroup(of: Int.self) { group in
                    for i in 0..<100 { group.addTask(executorPreference: executor) { i } }
                    return await group.reduce(0, +)
                }
            }.value
            print(sum)                                    // 4950

            print(executor.snapshot())                    // submitted, executed, stolen, per-worker state
            await executor.shutdown()                     // refuses new outside work, drains, joins

            #expect(sum == 4950)
            let lines = output.lines
            #expect(lines.contains("a closure on a worker, no Swift task made"))
            #expect(lines.contains("4950"))
            #expect(lines.contains { $0.hasPrefix("executor compute: submitted ") })
            #expect(lines.filter { $0.hasPrefix("  worker ") }.count == 4)
            #expect(executor.isShutDown)
            #expect(throws: FlowError.self) { try executor.submit {} }
            let after = executor.snapshot()
            #expect(after.executed == after.submitted && after.queued == 0)
            #expect(after.workers[0].executed >= 1)   // at least the pinned closure
        }
    }

    @Test func functionJobs() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example
            let executor = try Executor(workers: 2, name: "compute")

            let tree = Tree(executor: executor, size: 100_000)
            tree.submit(0)
            await executor.shutdown()                     // every job has run: `tree` may go from here
            print(tree.visited.load(ordering: .relaxed))  // 100000

            #expect(output.lines == ["100000"])
            #expect(executor.snapshot().executed == 100_000)
        }
    }

    @Test func firstExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            // What the example's functions stand for: work on files and state.
            let files = ["a.log", "b.log", "c.log", "d.log", "e.log"]
            let indexed = Collector<String>()
            let flushed = Collector<String>()
            let touched = Collector<String>()
            @Sendable func index(_ file: String) { indexed.append(file) }
            @Sendable func flushStats() { flushed.append("stats") }
            @Sendable func touchWorker2State() { touched.append("worker 2") }
            @Sendable func parseAll() async -> Int {
                await withTaskGroup(of: Int.self) { group in
                    for file in files { group.addTask { file.count } }
                    return await group.reduce(0, +)
                }
            }

            let executor = try Executor(.init(workers: 4, name: "compute"))
            for file in files {
                try executor.submit(name: file) { index(file) }      // from outside: central rings
            }
            try executor.submit(priority: .high) { flushStats() }
            try executor.submit(affinity: 2) { touchWorker2State() } // pinned, never stolen
            let parsed = await Task(executorPreference: executor) { await parseAll() }.value
            await executor.shutdown()                                 // from a plain thread: executor.shutdown()

            #expect(parsed == 25)
            #expect(indexed.values.sorted() == files)
            #expect(flushed.values == ["stats"])
            #expect(touched.values == ["worker 2"])
            let snapshot = executor.snapshot()
            #expect(snapshot.workers[2].executed >= 1)   // the pinned closure ran there
            #expect(snapshot.executed == snapshot.submitted && snapshot.queued == 0)
        }
    }
}

// The type of docs/Executor.md's function-job example (a type cannot be
// declared inside the test function).
final class Tree: Sendable {
    let executor: Executor
    let size: Int
    let visited = Atomic<Int>(0)
    init(executor: Executor, size: Int) {
        self.executor = executor
        self.size = size
    }

    /// Submits node `i`, which visits itself and submits its two children.
    func submit(_ i: Int) {
        try! executor.submit(context: Unmanaged.passUnretained(self).toOpaque(), argument: UInt(i)) { context, i in
            Unmanaged<Tree>.fromOpaque(context!)._withUnsafeGuaranteedRef { tree in
                let left = 2 * Int(i) + 1, right = left + 1
                if left < tree.size { tree.submit(left) }
                if right < tree.size { tree.submit(right) }
                tree.visited.wrappingAdd(1, ordering: .relaxed)
            }
        }
    }
}
