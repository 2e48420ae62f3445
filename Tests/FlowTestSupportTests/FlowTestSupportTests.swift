import FlowAtomics
import FlowTestSupport
import Synchronization
import Testing

/// The test helpers are tested too: a harness that cannot fail proves nothing.
@Suite("FlowTestSupport", .timeLimit(.minutes(1)))
struct FlowTestSupportTests {
    @Test func latchOpensAtZeroAndTimesOutOtherwise() {
        let latch = Latch(count: 2)
        #expect(!latch.isOpen)
        latch.countDown()
        #expect(latch.wait(timeout: .milliseconds(10)) == false)  // still closed: times out
        latch.countDown()
        #expect(latch.isOpen)
        #expect(latch.wait(timeout: .seconds(1)))
    }

    @Test func latchReleasesWaitersOnOtherThreads() throws {
        let latch = Latch(count: 4)
        let woke = Atomic<Int>(0)
        let waiters = (0..<3).map { _ in
            TestThread.spawn { if latch.wait(timeout: .seconds(10)) { woke.wrappingAdd(1, ordering: .relaxed) } }
        }
        try Stress.run(threads: 4) { _ in latch.countDown() }
        for w in waiters { w.join() }
        #expect(woke.load(ordering: .relaxed) == 3)
    }

    @Test func gateOpensOnce() {
        let gate = Gate()
        #expect(!gate.isOpen)
        #expect(gate.wait(timeout: .milliseconds(5)) == false)
        gate.open()
        gate.open()
        #expect(gate.wait(timeout: .seconds(1)))
    }

    @Test func stressRunsEveryThreadOnce() throws {
        let seen = Collector<Int>()
        try Stress.run(threads: 8) { t in seen.append(t) }
        #expect(seen.values.sorted() == Array(0..<8))
    }

    @Test func stressRunFailsByTimeLimitInsteadOfHanging() {
        let release = Gate()
        #expect(throws: StressFailure.self) {
            try Stress.run(threads: 1, timeout: .milliseconds(20)) { _ in release.wait(timeout: .seconds(30)) }
        }
        release.open()  // let the stuck thread finish
    }

    @Test func conservationFindsLossAndDuplication() {
        #expect(Stress.conservationViolation(sent: [1, 2, 3], received: [3, 1, 2]) == nil)
        #expect(Stress.conservationViolation(sent: [1, 2, 3], received: [1, 2]) != nil)
        #expect(Stress.conservationViolation(sent: [1, 2], received: [1, 1]) != nil)
        #expect(Stress.conservationViolation(sent: [1, 2, 2], received: [1, 2, 3]) != nil)
    }

    @Test func timeLimitPassesResultsAndFailsSlowBodies() async throws {
        let value = try await withTimeLimit(.seconds(5), "quick") { 41 + 1 }
        #expect(value == 42)
        let release = Gate()
        await #expect(throws: StressFailure.self) {
            try await withTimeLimit(.milliseconds(20), "stuck") { await release.waitAsync(timeout: .seconds(30)) }
        }
        release.open()
    }

    @Test func trackedCountsLiveInstances() {
        let counter = DeinitCounter()
        do {
            let a = Tracked(1, counter: counter), b = Tracked(2, counter: counter)
            #expect(a.value + b.value == 3)
            #expect(counter.liveCount == 2)
        }
        #expect(counter.liveCount == 0)
        #expect(counter.deinitCount == 2)
    }

    @Test func stressScaleNeverGoesBelowTheMinimum() {
        #expect(StressScale.scaled(10, minimum: 7) >= 7)
        #expect(StressScale.scaled(1_000_000) >= 1)
    }
}

@Suite("PrintCapture", .timeLimit(.minutes(1)))
struct PrintCaptureTests {
    @Test func localPrintIsCapturedOnEveryThread() {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example
        print("a", 1, [2, 3])
        output.print(["b", "c"], separator: "-", terminator: "")   // the full form
        print("!")
        let thread = TestThread.spawn { print("from a thread") }
        thread.join()
        #expect(output.lines == ["a 1 [2, 3]", "b-c!", "from a thread"])
        #expect(output.output == "a 1 [2, 3]\nb-c!\nfrom a thread\n")
    }
}
