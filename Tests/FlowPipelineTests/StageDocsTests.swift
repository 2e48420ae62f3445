import FlowPipeline
import FlowTestSupport
import Testing

/// The examples of docs/Stages.md and README.md (streaming stages), compiled
/// and checked. `Scripts/check-doc-examples` keeps them identical to the docs.
@Suite("Stage docs", .timeLimit(.minutes(1)))
struct StageDocsTests {
    @Test func multiStagePipelineWithStats() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            struct ParseError: Error, CustomStringConvertible {
                let text: String
                var description: String { "not a number: \(text)" }
            }

            let parse = try Stage<String, Int>(options: StageOptions(capacity: 8, continueOnError: true)) { text in
                guard let n = Int(text) else { throw ParseError(text: text) }
                return n
            }
            let batches = try batch(from: parse.results, size: 3)
            let sums = try pipe(from: batches.results) { (b: [Int]) in b.reduce(0, +) }
            let lines = try pipe(from: sums.results) { (s: Int) in "sum \(s)" }

            Task {
                for text in ["1", "2", "x", "4", "5", "6", "7"] { try await parse.submit(text) }
                parse.closeInput()                        // the producer owns closeInput
            }
            for await result in lines.results {           // drain the tail to the end
                switch result {
                case let .success(line): print(line)
                case let .failure(error): print("error:", error)
                }
            }
            // Wait in reverse order; each returns the fail-fast error or nil.
            _ = await lines.wait(); _ = await sums.wait(); _ = await batches.wait(); _ = await parse.wait()
            print(parse.stats.submitted, parse.stats.completed, parse.stats.failed)   // 7 7 1
            print(batches.stats.received, batches.stats.emitted, batches.stats.forwarded, batches.stats.batchCount)  // 7 6 1 3
            print(sums.stats.received, sums.stats.submitted, sums.stats.forwarded, sums.stats.dropped)  // 4 3 1 0

            // The documented output: the sums in order, the error somewhere among
            // them (forwarded failures bypass the pipe's worker queue), then the stats.
            let printed = output.lines
            #expect(printed.count == 7)
            #expect(printed.prefix(4).filter { $0.hasPrefix("sum") } == ["sum 3", "sum 15", "sum 7"])
            #expect(printed.prefix(4).contains("error: not a number: x"))
            #expect(Array(printed.suffix(3)) == ["7 7 1", "7 6 1 3", "4 3 1 0"])
            #expect(await lines.wait() == nil)
            #expect(await parse.wait() == nil)

            let p = parse.stats, b = batches.stats, s = sums.stats, l = lines.stats
            #expect(p.submitted == 7 && p.completed == 7 && p.failed == 1 && p.canceled == 0)
            #expect(b.received == 7 && b.emitted == 6 && b.forwarded == 1 && b.batchCount == 3 && b.dropped == 0)
            #expect(s.received == 4 && s.submitted == 3 && s.forwarded == 1 && s.dropped == 0)
            #expect(l.received == 4 && l.submitted == 3 && l.forwarded == 1 && l.completed == 3)
        }
    }

    @Test func readmeExample() async throws {
        try await withTimeLimit(.seconds(30)) {
            let output = PrintCapture()
            let print = output.printer   // shadows Swift.print for the example

            let parse = try Stage<String, Int>(options: StageOptions(capacity: 8, continueOnError: true)) { Int($0) ?? 0 }
            let sums = try pipe(from: try batch(from: parse.results, size: 3).results) { (b: [Int]) in b.reduce(0, +) }
            Task { for text in ["1", "2", "3", "4"] { try await parse.submit(text) }; parse.closeInput() }
            for await result in sums.results { print(result) }       // success(6), then success(4)
            print(parse.stats)                                       // StageStats(submitted: 4, completed: 4, failed: 0, …)

            let printed = output.lines
            #expect(printed.count == 3)
            #expect(Array(printed.prefix(2)) == ["success(6)", "success(4)"])
            #expect(printed.last?.hasPrefix("StageStats(submitted: 4, completed: 4, failed: 0, ") == true)
            #expect(await sums.wait() == nil)
            #expect(sums.stats.received == 2 && sums.stats.completed == 2)
        }
    }
}
