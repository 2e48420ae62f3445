import FlowPipeline
import FlowTestSupport
import Testing

/// The example of docs/Runtime.md, compiled and checked (README.md's
/// Runtime lines are in PipelineDocsTests). `Scripts/check-doc-examples`
/// keeps it identical to the docs.
@Suite("Runtime docs", .timeLimit(.minutes(1)))
struct RuntimeDocsTests {
    /// Synchronous, as the example is: `waitAll` blocks this (non-isolated) thread.
    @Test func firstExample() throws {
        let output = PrintCapture()
        let print = output.printer   // shadows Swift.print for the example

        struct DecodeError: Error { let file: String; init(_ file: String) { self.file = file } }

        let runtime = try Runtime(threads: 4, ioThreads: 2, name: "thumbs",
                                  defaultTaskTimeout: .seconds(30))
        runtime.onError { failed in print("failed:", failed) }    // once per failure

        let files = ["a.png", "b.png", "broken.png"]
        let sizes = files.map { file in
            runtime.submit(name: file) { () throws -> Int in      // a plain closure on a worker
                guard !file.hasPrefix("broken") else { throw DecodeError(file) }
                return file.count * 1_000
            }
        }
        let upload = runtime.submit(name: "upload", blocking: true) { () async throws in
            try await Task.sleep(for: .milliseconds(10))           // async bodies run as Swift tasks
        }

        do {
            try runtime.waitAll(throwOnError: true)
        } catch {
            print(error)   // 1 task(s) failed: 'broken.png' (#3): DecodeError(file: "broken.png")
        }
        print(try sizes[0].get())             // 5000
        print(sizes[2].error != nil)          // true
        print(runtime.failed.map(\.name))     // ["broken.png"]
        print(runtime.progress())             // 4/4 done (1 failed), 0 running, 0 queued
        runtime.shutdown()

        #expect(output.lines == [
            #"failed: task 'broken.png' (#3): DecodeError(file: "broken.png")"#,
            #"1 task(s) failed: 'broken.png' (#3): DecodeError(file: "broken.png")"#,
            "5000",
            "true",
            #"["broken.png"]"#,
            "4/4 done (1 failed), 0 running, 0 queued",
        ])
        #expect(upload.isDone && upload.error == nil)
        #expect(try sizes[1].get() == 5_000)
    }
}
