import FlowPipeline

/// A line-aligned range of one trace file: the unit the streaming stages move.
public struct TraceChunk: Sendable, Equatable {
    /// Which file (index into the manifest's files).
    public var file: Int
    /// Which chunk of that file, from 0.
    public var index: Int
    public var offset: Int64
    public var length: Int
}

/// Per-file metadata: the file, its size, and where its chunks start.
public struct FileIndex: Sendable {
    public var file: Int
    public var path: String
    public var size: Int64
    public var chunks: [TraceChunk]
    /// The open file (reads in the streaming phase reuse it).
    let handle: TraceFile
}

/// Every file's index, in file order, and every chunk.
public struct ChunkManifest: Sendable {
    public var files: [FileIndex]

    public var chunks: [TraceChunk] { files.flatMap(\.chunks) }
    public var bytes: Int64 { files.reduce(0) { $0 + $1.size } }

    /// Manifests of disjoint file sets, concatenated in file order.
    public static func merged(_ parts: [ChunkManifest]) -> ChunkManifest {
        ChunkManifest(files: parts.flatMap(\.files).sorted { $0.file < $1.file })
    }
}

/// Indexes one file: opens it, reads its size and finds line-aligned chunk
/// boundaries about `chunkSize` bytes apart by reading a small window at
/// each candidate offset (the file is not read through).
public func indexTraceFile(_ path: String, file: Int, chunkSize: Int) throws(TraceInputError) -> FileIndex {
    let handle = try TraceFile(path)
    var starts: [Int64] = [0]
    let window = 16 << 10
    var probe = Int64(chunkSize)          // the next boundary is the first line start at or after this
    while probe < handle.size {
        let bytes = try handle.read(offset: probe, length: window)
        if bytes.isEmpty { break }
        guard let newline = bytes.firstIndex(of: 0x0A) else {
            probe += Int64(bytes.count)     // a very long line: keep looking
            continue
        }
        let start = probe + Int64(newline) + 1
        if start >= handle.size { break }
        starts.append(start)
        probe = start + Int64(chunkSize)
    }
    var chunks: [TraceChunk] = []
    for (i, start) in starts.enumerated() {
        let end = i + 1 < starts.count ? starts[i + 1] : handle.size
        if end > start { chunks.append(TraceChunk(file: file, index: i, offset: start, length: Int(end - start))) }
    }
    return FileIndex(file: file, path: path, size: handle.size, chunks: chunks, handle: handle)
}

/// A chunk's bytes, as the readers hand them on.
public struct ChunkBytes: Sendable {
    public var chunk: TraceChunk
    public var bytes: [UInt8]
}

/// A chunk's lines parsed into events, as the parsers hand them on.
public struct ParsedChunk: Sendable {
    public var chunk: TraceChunk
    public var events: [TraceEvent]
    public var skipped: Int64
    /// (0-based line within the chunk, reason).
    public var malformed: [(line: Int, reason: String)]
    public var lines: Int
}

/// A chunk's statistics, as the aggregators hand them to the merger.
public struct ChunkSummary: Sendable {
    public var chunk: TraceChunk
    public var accumulator: TraceAccumulator
    public var malformed: [(line: Int, reason: String)]
    public var lines: Int
}

/// Parses every line of a chunk.
public func parseChunk(_ input: ChunkBytes) -> ParsedChunk {
    var events: [TraceEvent] = []
    events.reserveCapacity(input.bytes.count / 128)
    var skipped: Int64 = 0
    var malformed: [(line: Int, reason: String)] = []
    let lines = input.bytes.withUnsafeBufferPointer { buffer in
        forEachLine(buffer) { line, text in
            switch parseTraceLine(text) {
            case let .event(event): events.append(event)
            case .skipped: skipped += 1
            case let .malformed(reason): malformed.append((line, reason))
            }
        }
    }
    return ParsedChunk(chunk: input.chunk, events: events, skipped: skipped, malformed: malformed, lines: lines)
}

/// Aggregates a parsed chunk.
public func aggregateChunk(_ parsed: ParsedChunk) -> ChunkSummary {
    var accumulator = TraceAccumulator()
    accumulator.skippedLines = parsed.skipped
    for event in parsed.events { accumulator.add(event) }
    return ChunkSummary(chunk: parsed.chunk, accumulator: accumulator, malformed: parsed.malformed, lines: parsed.lines)
}

/// The merger's state: the running totals, and per chunk its line count and
/// malformed lines (absolute line numbers need the counts of the chunks before).
public struct TraceMerger: Sendable {
    public private(set) var accumulator = TraceAccumulator()
    private var lineCounts: [[Int]]
    private var malformed: [(file: Int, chunk: Int, line: Int, reason: String)] = []
    public private(set) var mergedChunks = 0

    public init(manifest: ChunkManifest) {
        lineCounts = manifest.files.map { Array(repeating: 0, count: $0.chunks.count) }
    }

    /// Sorts each function's durations, the biggest first, in a structured
    /// scope on `executor` (the result's percentiles need them sorted; sorting
    /// sorted arrays again is linear, so the table does not pay twice).
    public mutating func sortDurations(on executor: Executor) async throws {
        let functions = accumulator.functions
        let sorted = try await withScope(on: executor) { scope in
            let parts = functions.sorted { $0.value.count > $1.value.count }.map { key, value in
                scope.spawn { (key, value.durations.sorted()) }
            }
            return try await whenAll(parts)
        }
        for (key, durations) in sorted { accumulator.functions[key]?.durations = durations }
    }

    public mutating func merge(_ summary: ChunkSummary) {
        accumulator.merge(summary.accumulator)
        lineCounts[summary.chunk.file][summary.chunk.index] = summary.lines
        for m in summary.malformed {
            malformed.append((summary.chunk.file, summary.chunk.index, m.line, m.reason))
        }
        mergedChunks += 1
    }

    /// The final result.
    public func finish(manifest: ChunkManifest) -> TraceAnalysis {
        var firstLine: [[Int]] = []
        for counts in lineCounts {
            var running = 0
            firstLine.append(counts.map { c in defer { running += c }; return running })
        }
        let lines = lineCounts.reduce(0) { $0 + $1.reduce(0, +) }
        let located = malformed.map { m in
            MalformedLine(file: manifest.files[m.file].path, line: firstLine[m.file][m.chunk] + m.line + 1, reason: m.reason)
        }
        return TraceAnalysis(accumulator: accumulator, malformed: located, lines: Int64(lines),
                             traceFiles: manifest.files.count, traceBytes: manifest.bytes)
    }
}
