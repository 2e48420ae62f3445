import FlowExecutor
import FlowTestSupport
import Synchronization
import Testing

@Suite("Executor as TaskExecutor", .serialized, .timeLimit(.minutes(2)))
struct ExecutorSwiftTaskTests {
    /// Runs `body` in a task preferring `executor` and reports whether every
    /// check ran on one of its workers.
    @Test func tasksStayOnThePoolAcrossSuspensions() async throws {
        let executor = try Executor(workers: 2, name: "tasks")
        let onPool = try await withTimeLimit(.seconds(30), "task with executor preference") {
            await Task(executorPreference: executor) { () -> [Bool] in
                var checks = [executor.isCurrentThreadWorker]
                await Task.yield()
                checks.append(executor.isCurrentThreadWorker)
                try? await Task.sleep(for: .milliseconds(1))
                checks.append(executor.isCurrentThreadWorker)
                // A continuation resumed from a foreign thread.
                let value = await withCheckedContinuation { (c: CheckedContinuation<Int, Never>) in
                    TestThread.detached { c.resume(returning: 42) }
                }
                checks.append(value == 42 && executor.isCurrentThreadWorker)
                return checks
            }.value
        }
        #expect(onPool == [true, true, true, true])
        await executor.shutdown()
    }

    @Test func withTaskExecutorPreferenceAndTaskGroups() async throws {
        let executor = try Executor(workers: 2, name: "groups")
        let results = try await withTimeLimit(.seconds(30), "task group on the pool") {
            await withTaskExecutorPreference(executor) {
                await withTaskGroup(of: Bool.self) { group -> [Bool] in
                    for _ in 0..<200 {
                        group.addTask(executorPreference: executor) {
                            await Task.yield()
                            return executor.isCurrentThreadWorker
                        }
                    }
                    var all: [Bool] = []
                    for await r in group { all.append(r) }
                    all.append(executor.isCurrentThreadWorker)
                    return all
                }
            }
        }
        #expect(results.count == 201)
        #expect(results.allSatisfy { $0 })
        #expect(executor.snapshot().executed > 200)
        await executor.shutdown()
    }

    @Test func manyTasksAllFinish() async throws {
        let executor = try Executor(workers: 2, name: "many")
        let n = StressScale.scaled(20_000, minimum: 2_000)
        let sum = try await withTimeLimit(.seconds(60), "\(n) tasks") {
            await withTaskGroup(of: Int.self) { group in
                for i in 0..<n { group.addTask(executorPreference: executor) { i } }
                return await group.reduce(0, +)
            }
        }
        #expect(sum == n * (n - 1) / 2)
        await executor.shutdown()
    }

    @Test func asyncShutdownFromATaskOnThePool() async throws {
        let executor = try Executor(workers: 2, name: "self-stop")
        let ran = Atomic<Int>(0)
        for _ in 0..<100 { try executor.submit { ran.wrappingAdd(1, ordering: .relaxed) } }
        try await withTimeLimit(.seconds(30), "async shutdown") {
            await Task(executorPreference: executor) { await executor.shutdown() }.value
        }
        #expect(ran.load(ordering: .relaxed) == 100)
        #expect(executor.isShutDown)
    }
}
