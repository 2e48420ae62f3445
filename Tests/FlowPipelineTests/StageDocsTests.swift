import FlowPipeline
import FlowTestSupport
import Testing

/// The main example of docs/Stages.md, kept compiling and correct.
@Suite("Stage docs", .timeLimit(.minutes(1)))
struct StageDocsTests {
    struct ParseError: Error, CustomStringConvertible {
        let text: String
        var description: String { "not a number: \(text)" }
    }

    @Test func multiStagePipelineWithStats() async throws {
        try await withTimeLimit(.seconds(30)) {
            let parse = try Stage<String, Int>(options: StageOptions(capacity: 8, continueOnError: true)) { text in
                guard let n = Int(text) else { throw ParseError(text: text) }
                return n
            }
            let batches = try batch(from: parse.results, size: 3)
            let sums = try pipe(from: batches.results) { (b: [Int]) in b.reduce(0, +) }
            let lines = try pipe(from: sums.results) { (s: Int) in "sum \(s)" }

            Task {
                for text in ["1", "2", "x", "4", "5", "6", "7"] { try await parse.submit(text) }
                parse.closeInput()
            }
            var printed: [String] = []
            for await result in lines.results {
                switch result {
                case let .success(line): printed.append(line)
                case let .failure(error): printed.append("error: \(error)")
                }
            }
            #expect(await lines.wait() == nil)
            #expect(await sums.wait() == nil)
            #expect(await batches.wait() == nil)
            #expect(await parse.wait() == nil)
            #expect(printed.filter { $0.hasPrefix("sum") } == ["sum 3", "sum 15", "sum 7"])
            #expect(printed.contains("error: not a number: x"))

            let p = parse.stats, b = batches.stats, s = sums.stats, l = lines.stats
            #expect(p.submitted == 7 && p.completed == 7 && p.failed == 1 && p.canceled == 0)
            #expect(b.received == 7 && b.emitted == 6 && b.forwarded == 1 && b.batchCount == 3 && b.dropped == 0)
            #expect(s.received == 4 && s.submitted == 3 && s.forwarded == 1 && s.dropped == 0)
            #expect(l.received == 4 && l.submitted == 3 && l.forwarded == 1 && l.completed == 3)
        }
    }
}
