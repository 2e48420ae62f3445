import FlowPipeline
import Testing

@Suite("MemoryBudget")
struct MemoryBudgetTests {
    @Test func defaultIsHalfOfAvailableAndAtLeast64MiB() {
        #expect(MemoryBudget(available: 1 << 30).bytes == 1 << 29)
        #expect(MemoryBudget(available: 10 << 20).bytes == 64 << 20)
        #expect(MemoryBudget(available: nil).bytes == 64 << 20)
    }

    @Test func overrideAndValidation() throws {
        #expect(try MemoryBudget(bytes: 1_000).bytes == 1_000)
        #expect(try MemoryBudget.detect(bytes: 5 << 20).bytes == 5 << 20)
        #expect(throws: FlowError.invalid("bytes", 0, "must be positive")) { try MemoryBudget(bytes: 0) }
        #expect(throws: FlowError.invalid("bytes", -1, "must be positive")) { try MemoryBudget.detect(bytes: -1) }
    }

    @Test func detectReadsThisMachine() throws {
        let available = try #require(MemoryBudget.availableMemory())
        #expect(available > 0)
        let budget = try MemoryBudget.detect()
        #expect(budget.bytes == max(64 << 20, budget.available! / 2))
        #expect(budget.description.hasPrefix("budget "))
    }

    @Test func sizingHelpers() throws {
        let budget = try MemoryBudget(bytes: 1 << 20)
        #expect(budget.channelCapacity(elementSize: 1_024) == 1_024)
        #expect(budget.channelCapacity(elementSize: 1_024, channels: 4) == 256)
        #expect(budget.channelCapacity(elementSize: 8, maximum: 100) == 100)
        #expect(budget.channelCapacity(elementSize: 1 << 30) == 1)
        #expect(budget.batchSize(itemSize: 512, inFlight: 8) == 256)
        #expect(budget.batchSize(itemSize: 0) == 1 << 20)
    }

    @Test func parsers() {
        let meminfo = "MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    8000000 kB\n"
        #expect(MemoryBudget.parseMemAvailable(meminfo) == 8_000_000 * 1_024)
        #expect(MemoryBudget.parseMemAvailable("MemTotal: 1 kB\n") == nil)
        #expect(MemoryBudget.parseLimit("max\n") == nil)
        #expect(MemoryBudget.parseLimit("9223372036854771712\n") == nil)
        #expect(MemoryBudget.parseLimit("536870912\n") == 536_870_912)
    }
}
