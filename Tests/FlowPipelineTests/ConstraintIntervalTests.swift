@testable import FlowPipeline
import FlowTestSupport
import Testing

@Suite("Constraint interval maths", .timeLimit(.minutes(1)))
struct ConstraintIntervalTests {
    let previous = stageStats(submitted: 100, completed: 90, failed: 5, service: .milliseconds(1500),
                              idle: .milliseconds(200), blocked: .milliseconds(100), wipWait: .milliseconds(50),
                              depth: 2, capacity: 10, workers: 2)
    var current: StageStats {
        var s = stageStats(submitted: 300, completed: 290, failed: 25, service: .milliseconds(3100),
                           idle: .milliseconds(400), blocked: .milliseconds(500), wipWait: .milliseconds(300),
                           depth: 6, capacity: 10, workers: 2, admitted: 8, maxWIP: 12, waiters: 1)
        s.canceled = 1
        s.wipWaits = 7
        return s
    }

    @Test func ratesAndFractionsMatchHandComputedValues() throws {
        let i = IntervalStats(from: previous, to: current, elapsed: .seconds(2))
        #expect(!i.resetDetected)
        #expect(i.submitted == 200 && i.completed == 200 && i.failed == 20 && i.canceled == 1 && i.wipWaits == 7)
        #expect(i.serviceTime == .milliseconds(1600))
        #expect(i.idleTime == .milliseconds(200))
        #expect(i.outputBlockedTime == .milliseconds(400))
        #expect(i.wipWaitTime == .milliseconds(250))
        #expect(i.workers == 2)
        #expect(abs(i.throughput - 100) < 1e-9)            // 200 / 2 s
        #expect(abs(i.goodput - 90) < 1e-9)                // (200 − 20) / 2 s
        #expect(abs(i.arrivalRate - 100) < 1e-9)           // 200 / 2 s
        #expect(abs(i.errorRate - 0.1) < 1e-9)             // 20 / 200
        #expect(i.meanServiceTime == .milliseconds(8))     // 1.6 s / 200
        #expect(abs(i.utilization - 0.4) < 1e-9)           // 1.6 s / (2 s × 2 workers)
        #expect(abs(i.idleFraction - 0.05) < 1e-9)         // 0.2 s / 4 s
        #expect(abs(i.outputBlockedFraction - 0.1) < 1e-9) // 0.4 s / 4 s
        #expect(abs(i.admissionWaitFraction - 0.125) < 1e-9) // 0.25 s / 2 s
        #expect(abs(i.queueGrowthRate - 2) < 1e-9)         // (6 − 2) / 2 s
        #expect(abs(i.bufferPenetration - 0.6) < 1e-9)     // 6 / 10
        #expect(i.bufferedDepth == 6 && i.queueCapacity == 10 && i.admitted == 8 && i.maxWIP == 12 && i.waiters == 1)
        #expect(i.bufferZone() == .yellow)
        #expect(try i.bufferZone(BufferZones(yellowAt: 0.5, redAt: 0.6)) == .red)
        #expect(try i.bufferZone(BufferZones(yellowAt: 0.7, redAt: 0.9)) == .green)
    }

    @Test func aCounterGoingBackwardsIsAReset() {
        let restarted = stageStats(submitted: 10, completed: 8, failed: 0, service: .milliseconds(80), depth: 1,
                                   capacity: 10, workers: 2)
        let i = IntervalStats(from: current, to: restarted, elapsed: .seconds(1))
        #expect(i.resetDetected)
        #expect(i.submitted == 10 && i.completed == 8 && i.failed == 0)   // counted from zero
        #expect(i.serviceTime == .milliseconds(80))
        #expect(abs(i.throughput - 8) < 1e-9)
        #expect(abs(i.queueGrowthRate - 1) < 1e-9)
        #expect(i.meanServiceTime == .milliseconds(10))
        // Only a time going backwards is a reset too.
        var slower = current
        slower.idleTime = .milliseconds(100)
        #expect(IntervalStats(from: current, to: slower, elapsed: .seconds(1)).resetDetected)
    }

    @Test func emptyOrInstantIntervalsGiveZeroRates() {
        let i = IntervalStats(from: previous, to: current, elapsed: .zero)
        #expect(i.throughput == 0 && i.goodput == 0 && i.arrivalRate == 0 && i.utilization == 0 && i.queueGrowthRate == 0)
        let same = IntervalStats(from: previous, to: previous, elapsed: .seconds(1))
        #expect(same.errorRate == 0 && same.meanServiceTime == .zero && same.throughput == 0)
        // Unbuffered: penetration 0, green.
        let unbuffered = IntervalStats(from: StageStats(), to: stageStats(depth: 0, capacity: 0), elapsed: .seconds(1))
        #expect(unbuffered.bufferPenetration == 0 && unbuffered.bufferZone() == .green)
        // Utilisation is clamped to 1 (a body's time lands in the interval it ended in).
        let lumpy = IntervalStats(from: StageStats(), to: stageStats(completed: 1, service: .seconds(3)),
                                  elapsed: .seconds(1))
        #expect(lumpy.utilization == 1)
    }

    @Test func zonesAndTheirThresholds() throws {
        let z = BufferZones.standard
        #expect(z.zone(penetration: 0) == .green)
        #expect(z.zone(penetration: 0.33) == .green)
        #expect(z.zone(penetration: 0.34) == .yellow)
        #expect(z.zone(penetration: 0.67) == .red)
        #expect(z.zone(penetration: 1) == .red)
        #expect(throws: FlowError.invalid("yellowAt", -0.1, "must be in 0...1")) {
            try BufferZones(yellowAt: -0.1, redAt: 0.5)
        }
        #expect(throws: FlowError.invalid("redAt", 0.2, "must be in yellowAt...1 (yellowAt = 0.5)")) {
            try BufferZones(yellowAt: 0.5, redAt: 0.2)
        }
        #expect(throws: FlowError.self) { try BufferZones(yellowAt: 0.5, redAt: 1.5) }
        #expect(throws: FlowError.self) { try BufferZones(yellowAt: .nan, redAt: 0.5) }
        // Memory: penetration = 1 − headroom / limit.
        #expect(z.memoryZone(headroom: 800, limit: 1000) == .green)    // 0.2
        #expect(z.memoryZone(headroom: 500, limit: 1000) == .yellow)   // 0.5
        #expect(z.memoryZone(headroom: 100, limit: 1000) == .red)      // 0.9
        #expect(z.memoryZone(headroom: nil, limit: 1000) == .unknown)
        #expect(z.memoryZone(headroom: 100, limit: 0) == .unknown)
        #expect(ProcessMemory(resident: 900, available: 100).zone() == .red)
        #expect(ProcessMemory(resident: 100, available: 900).zone() == .green)
        #expect(ProcessMemory(resident: nil, available: 900).zone() == .unknown)
    }

    @Test func bufferCapacityIsTheCeilingOfThroughputTimesProtection() {
        #expect(bufferCapacity(throughput: 100, protectionTime: .milliseconds(250)) == 25)
        #expect(bufferCapacity(throughput: 33.3, protectionTime: .milliseconds(100)) == 4)   // ⌈3.33⌉
        #expect(bufferCapacity(throughput: 240, protectionTime: .milliseconds(50)) == 12)    // docs/Constraints.md
        #expect(bufferCapacity(throughput: 0, protectionTime: .seconds(1)) == 0)
        #expect(bufferCapacity(throughput: 10, protectionTime: .zero) == 0)
        #expect(bufferCapacity(throughput: -5, protectionTime: .seconds(1)) == 0)
    }

    @Test func processMemoryIsReadFromProc() {
        #expect(MemoryBudget.parseStatm("1000 250 30 10 0 500 0\n", pageSize: 4096) == 250 * 4096)
        #expect(MemoryBudget.parseStatm("garbage", pageSize: 4096) == nil)
        #if os(Linux)
        let memory = ProcessMemory.current()
        #expect((memory.resident ?? 0) > 0)
        #expect(memory.limit == nil || memory.limit! >= memory.resident!)
        #endif
    }

    @Test func fixedPointFormatting() {
        #expect(ConstraintFormat.fixed(12.345, 1) == "12.3")
        #expect(ConstraintFormat.fixed(2, 0) == "2")
        #expect(ConstraintFormat.fixed(0.5, 2) == "0.50")
        #expect(ConstraintFormat.fixed(-0.001, 2) == "0.00")
        #expect(ConstraintFormat.fixed(-1.25, 1) == "-1.3" || ConstraintFormat.fixed(-1.25, 1) == "-1.2")
        #expect(ConstraintFormat.fixed(.nan, 1) == "0.0")
        #expect(ConstraintFormat.mebibytes(3 << 20) == "3.0")
        #expect(ConstraintFormat.mebibytes(nil) == "-")
    }
}
