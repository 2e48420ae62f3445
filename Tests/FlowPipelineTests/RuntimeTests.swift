import FlowPipeline
import FlowTestSupport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

struct TaskBoom: Error, Equatable { let index: Int }

@Suite("Runtime", .serialized, .timeLimit(.minutes(3)))
struct RuntimeTests {
    @Test func submitReturnsAHandle() async throws {
        let runtime = try Runtime(threads: 2, ioThreads: 1, name: "rt")
        defer { runtime.shutdown() }
        let sync = runtime.submit(name: "six") { 2 * 3 }
        let async = runtime.submit(name: "seven") { () async -> Int in
            await Task.yield()
            return 7
        }
        let io = runtime.submit(name: "io", blocking: true) { 8 }
        #expect(try await sync.value == 6)
        #expect(try async.get() == 7)
        await io.wait()
        #expect(io.isDone && io.error == nil)
        #expect(try io.get() == 8)
        #expect(sync.name == "six" && async.name == "seven")
        #expect(sync.id < async.id && async.id < io.id)
        #expect(sync.description == "task 'six' (#\(sync.id))")
    }

    @Test func theDefaultNameIsTheCallSite() throws {
        let runtime = try Runtime(threads: 1, ioThreads: 0)
        defer { runtime.shutdown() }
        let line = #line + 1
        let handle = runtime.submit { 1 }
        #expect(handle.name == "FlowPipelineTests/RuntimeTests.swift:\(line)")
    }

    @Test func errorsReachTheHandle() async throws {
        let runtime = try Runtime(threads: 2, ioThreads: 0)
        defer { runtime.shutdown() }
        let handle = runtime.submit(name: "bad") { () throws -> Int in throw TaskBoom(index: 1) }
        await handle.wait()
        #expect(handle.error as? TaskBoom == TaskBoom(index: 1))
        await #expect(throws: TaskBoom(index: 1)) { try await handle.value }
        #expect(throws: TaskBoom(index: 1)) { try handle.get() }
    }

    @Test func waitAllNamesEveryFailedTask() throws {
        let runtime = try Runtime(threads: 2, ioThreads: 0)
        defer { runtime.shutdown() }
        for i in 0..<20 {
            runtime.submit(name: "t\(i)") { () throws -> Int in
                if i % 5 == 0 { throw TaskBoom(index: i) }
                return i
            }
        }
        runtime.waitAll()
        #expect(Set(runtime.failed.map(\.name)) == ["t0", "t5", "t10", "t15"])
        do {
            try runtime.waitAll(throwOnError: true)
            Issue.record("expected TaskFailures")
        } catch {
            #expect(Set(error.failures.map(\.name)) == ["t0", "t5", "t10", "t15"])
            #expect(error.description.hasPrefix("4 task(s) failed: "))
            #expect(error.description.contains("'t15'"))
        }
        runtime.clearFailed()
        #expect(runtime.failed.isEmpty)
        try runtime.waitAll(throwOnError: true)
        #expect(runtime.progress().failed == 4)
    }

    @Test func failuresAndOnErrorAreExactUnderConcurrentFailures() async throws {
        let count = StressScale.scaled(10_000, minimum: 1_000)
        let runtime = try Runtime(threads: 2, ioThreads: 1)
        defer { runtime.shutdown() }
        let seen = Collector<String>()
        let threads = Collector<Bool>()
        runtime.onError { task in
            seen.append(task.name)
            threads.append(runtime.computeExecutor.isCurrentThreadWorker || runtime.ioExecutor!.isCurrentThreadWorker)
        }
        var expected: Set<String> = []
        var handles: [TaskHandle<Int>] = []
        for i in 0..<count {
            let fails = i % 10 == 3
            if fails { expected.insert("t\(i)") }
            if i % 2 == 0 {
                handles.append(runtime.submit(name: "t\(i)", blocking: i % 4 == 0) { () throws -> Int in
                    if fails { throw TaskBoom(index: i) }
                    return i
                })
            } else {
                handles.append(runtime.submit(name: "t\(i)") { () async throws -> Int in
                    if fails { throw TaskBoom(index: i) }
                    return i
                })
            }
        }
        _ = try await withTimeLimit(.seconds(120)) { await runtime.waitAll() }
        #expect(runtime.failed.count == expected.count)
        #expect(Set(runtime.failed.map(\.name)) == expected)
        #expect(seen.values.count == expected.count)
        #expect(Set(seen.values) == expected)
        #expect(threads.values.allSatisfy { $0 })
        #expect(handles.allSatisfy { $0.isDone })
        #expect(handles.filter { $0.error != nil }.count == expected.count)
        let progress = runtime.progress()
        #expect(progress.total == count && progress.failed == expected.count
                && progress.completed == count - expected.count && progress.running == 0 && progress.queued == 0)
    }

    @Test func progressAddsUpAtEverySample() async throws {
        let count = StressScale.scaled(5_000, minimum: 500)
        let runtime = try Runtime(threads: 2, ioThreads: 0)
        defer { runtime.shutdown() }
        let submitter = TestThread.spawn {
            for i in 0..<count {
                runtime.submit(name: "p\(i)") { () throws -> Int in
                    if i % 7 == 0 { throw TaskBoom(index: i) }
                    return (0..<50).reduce(i, &+)
                }
            }
        }
        var samples = 0
        while true {
            let p = runtime.progress()
            #expect(p.completed + p.running + p.queued + p.failed == p.total)
            #expect(p.tasks.count == p.running + p.queued)
            #expect(p.tasks.filter(\.isRunning).count == p.running)
            #expect(p.workers.count == 2)
            samples += 1
            if p.total == count && p.completed + p.failed == count { break }
            await Task.yield()
        }
        submitter.join()
        let final = runtime.progress()
        #expect(final.failed == (0..<count).count { $0 % 7 == 0 })
        #expect(final.completed == count - final.failed)
        #expect(final.percent == 100)
        #expect(samples > 0)
    }

    @Test func aSynchronousTaskPastItsTimeoutFails() throws {
        let runtime = try Runtime(threads: 2, ioThreads: 0)
        defer { runtime.shutdown() }
        let slow = runtime.submit(name: "slow", timeout: .milliseconds(50)) { () -> Int in
            usleep(300_000)   // sleeps in order to be timed out
            return 1
        }
        let fast = runtime.submit(name: "fast", timeout: .seconds(30)) { 2 }
        #expect(throws: FlowError.timedOut(what: "task 'slow'", after: .milliseconds(50))) { try slow.get() }
        #expect(try fast.get() == 2)
    }

    @Test func anAsyncTaskIsCancelledAtItsTimeout() async throws {
        let runtime = try Runtime(threads: 2, ioThreads: 0, defaultTaskTimeout: .milliseconds(50))
        defer { runtime.shutdown() }
        let sleeper = runtime.submit(name: "sleeper") { () async throws -> Int in
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        _ = try await withTimeLimit(.seconds(20)) {
            await #expect(throws: FlowError.timedOut(what: "task 'sleeper'", after: .milliseconds(50))) {
                try await sleeper.value
            }
        }
        await runtime.waitAll()   // the handle completes just before the failure is recorded
        #expect(runtime.failed.map(\.name) == ["sleeper"])
    }

    @Test func theGlobalTimeoutStopsEverything() async throws {
        let runtime = try Runtime(threads: 1, ioThreads: 0, name: "glob", globalTimeout: .milliseconds(100))
        defer { runtime.shutdown() }
        let sleeper = runtime.submit(name: "sleeper") { () async throws -> Int in
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        let expected = FlowError.timedOut(what: "runtime 'glob'", after: .milliseconds(100))
        _ = try await withTimeLimit(.seconds(20)) {
            await #expect(throws: expected) { try await sleeper.value }
        }
        let late = runtime.submit(name: "late") { 1 }
        await #expect(throws: expected) { try await late.value }
    }

    @Test func aStallMakesTheRuntimeUnresponsive() async throws {
        let clock = ManualClock()
        let runtime = try Runtime(threads: 1, ioThreads: 0, idleTimeout: .seconds(1), clock: .manual(clock))
        defer { runtime.shutdown() }
        let started = Gate(), release = Gate()
        let stuck = runtime.submit(name: "stuck") { () -> Bool in
            started.open()
            return release.wait(timeout: .seconds(30))
        }
        #expect(started.wait(timeout: .seconds(10)))
        #expect(runtime.isResponsive)
        clock.advance(by: .seconds(3))
        #expect(!runtime.isResponsive)
        #expect(runtime.progress().tasks.map(\.name) == ["stuck"])
        release.open()
        #expect(try await stuck.value)
        await runtime.waitAll()   // the handle completes just before the task is counted finished
        clock.advance(by: .seconds(1))
        #expect(runtime.isResponsive)
    }

    @Test func shutdownWithoutWaitingCancelsWhatDidNotStart() throws {
        let runtime = try Runtime(threads: 1, ioThreads: 0)
        let started = Gate(), release = Gate()
        let first = runtime.submit(name: "first") { () -> Int in
            started.open()
            _ = release.wait(timeout: .seconds(30))
            return 1
        }
        let queued = (0..<10).map { i in runtime.submit(name: "q\(i)") { i } }
        let bodiesRun = Atomic<Int>(0)
        let queuedAsync = (0..<10).map { i in
            runtime.submit(name: "a\(i)") { () async -> Int in
                bodiesRun.add(1, ordering: .relaxed)
                return i
            }
        }
        #expect(started.wait(timeout: .seconds(10)))
        let stopper = TestThread.spawn { runtime.shutdown(wait: false) }
        while !runtime.isShutDown { sched_yield() }
        release.open()
        stopper.join()
        #expect(try first.get() == 1)
        #expect(queued.allSatisfy { $0.error is CancellationError })
        #expect(queuedAsync.allSatisfy { $0.error is CancellationError })
        #expect(bodiesRun.load(ordering: .relaxed) == 0)
        let after = runtime.submit(name: "after") { 0 }
        #expect(throws: FlowError.self) { try after.get() }
    }

    @Test func shutdownWaitsForEverything() throws {
        let runtime = try Runtime(threads: 2, ioThreads: 1)
        let done = Atomic<Int>(0)
        for _ in 0..<100 {
            runtime.submit { done.add(1, ordering: .relaxed) }
            runtime.submit(blocking: true) { () async in done.add(1, ordering: .relaxed) }
        }
        runtime.shutdown()
        #expect(done.load(ordering: .relaxed) == 200)
        #expect(runtime.computeExecutor.isShutDown && runtime.isShutDown)
    }

    @Test func theSharedRuntimeIsLazyAndReplaceable() throws {
        let first = Runtime.shared
        #expect(Runtime.shared === first)
        #expect(try first.submit(name: "s") { 5 }.get() == 5)
        let replacement = try Runtime(threads: 1, ioThreads: 0, name: "mine")
        Runtime.shared = replacement
        #expect(Runtime.shared === replacement)
        #expect(Runtime.shared.name == "mine")
        first.shutdown()
    }

    @Test func invalidArgumentsAreNamed() {
        #expect(throws: FlowError.invalid("threads", 0, "must be in 1...1024")) { try Runtime(threads: 0) }
        #expect(throws: FlowError.invalid("defaultTaskTimeout", Duration.zero, "must be positive")) {
            try Runtime(threads: 1, defaultTaskTimeout: .zero)
        }
    }
}
