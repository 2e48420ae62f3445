import FlowTestSupport
import FlowTraceAnalysis
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("flow-demo command", .serialized, .timeLimit(.minutes(2)))
struct DemoCommandTests {
    /// Runs the command in-process and returns its exit code and output lines.
    nonisolated func demo(_ arguments: [String]) async -> (Int32, [String]) {
        let output = Collector<String>()
        let code = await DemoCommand.run(arguments) { output.append($0) }
        return (code, output.values.flatMap { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) })
    }

    @Test func generatedCorpusEndToEnd() async throws {
        try await withTimeLimit(.seconds(90)) {
            let (code, lines) = await demo(["--files", "4", "--events", "20000", "--sequential", "--report-interval", "0",
                                            "--chunk-size", "65536"])
            #expect(code == 0, "\(lines.joined(separator: "\n"))")
            #expect(lines.contains { $0.hasPrefix("category  function") })
            #expect(lines.contains { $0.hasPrefix("POSIX     read ") })
            #expect(lines.contains { $0.hasPrefix("malformed lines: ") })
            #expect(lines.contains { $0.hasPrefix("bottleneck: ") })
            #expect(lines.contains { $0.hasPrefix("sequential: ") && $0.hasSuffix("results identical") })
            #expect(lines.contains { $0.hasPrefix("speedup: ") })
            #expect(lines.contains { $0.hasPrefix("events: ") && $0.contains("analysed") })
        }
    }

    @Test func missingFolderExitsWithTwo() async {
        let (code, lines) = await demo(["--input", "/nonexistent/flow-traces"])
        #expect(code == 2)
        #expect(lines.first == "flow-demo: cannot read input folder /nonexistent/flow-traces: No such file or directory")
    }

    @Test func folderWithoutTracesExitsWithTwo() async throws {
        let folder = try TemporaryFolder()
        try folder.write("readme.txt", "no traces here")
        let (code, lines) = await demo(["--input", folder.path])
        #expect(code == 2)
        #expect(lines.first == "flow-demo: no trace files in \(folder.path) (expected *.jsonl, *.json or *.pfw files)")
    }

    @Test func unreadableFileExitsWithTwoAndNamesIt() async throws {
        try await withTimeLimit(.seconds(30)) {
            let folder = try TemporaryFolder()
            try folder.write("a.jsonl", #"{"name":"read","cat":"POSIX","ts":1,"dur":2}"#)
            #expect(symlink("/nonexistent/gone.jsonl", folder.path + "/b.jsonl") == 0)   // unreadable even as root
            let (code, lines) = await demo(["--input", folder.path, "--report-interval", "0"])
            #expect(code == 2)
            #expect(lines.contains("flow-demo: cannot read trace file \(folder.path)/b.jsonl: No such file or directory"),
                    "\(lines)")
        }
    }

    @Test func badArgumentsExitWithTwoAndNameTheOption() async {
        var (code, lines) = await demo(["--threads", "0"])
        #expect(code == 2)
        #expect(lines.first == "flow-demo: invalid argument --threads = 0: must be an integer in 1...1024")
        (code, lines) = await demo(["--frobnicate"])
        #expect(code == 2)
        #expect(lines.first == "flow-demo: invalid argument argument = --frobnicate: unknown option (see --help)")
        (code, lines) = await demo(["--input"])
        #expect(code == 2)
        #expect(lines.first == "flow-demo: invalid argument --input = (nothing): needs a value")
    }

    @Test func helpExplainsEveryOption() async {
        let (code, lines) = await demo(["--help"])
        #expect(code == 0)
        let text = lines.joined(separator: "\n")
        for option in ["--input", "--files", "--events", "--threads", "--trace", "--sequential", "--help"] {
            #expect(text.contains(option))
        }
    }
}
