/// The same analysis as a plain single-threaded loop: read each file whole,
/// parse each line, add each event. No Flow at all: the baseline the demo
/// compares against, and the reference the tests check the parallel result with.
public func analyseSequentially(files: [String]) throws(TraceInputError) -> TraceAnalysis {
    var accumulator = TraceAccumulator()
    var malformed: [MalformedLine] = []
    var lines: Int64 = 0
    var bytes: Int64 = 0
    for path in files {
        let file = try TraceFile(path)
        let content = try file.readAll()
        bytes += Int64(content.count)
        let count = content.withUnsafeBufferPointer { buffer in
            forEachLine(buffer) { line, text in
                switch parseTraceLine(text) {
                case let .event(event): accumulator.add(event)
                case .skipped: accumulator.skippedLines += 1
                case let .malformed(reason): malformed.append(MalformedLine(file: path, line: line + 1, reason: reason))
                }
            }
        }
        lines += Int64(count)
    }
    return TraceAnalysis(accumulator: accumulator, malformed: malformed, lines: lines, traceFiles: files.count, traceBytes: bytes)
}
