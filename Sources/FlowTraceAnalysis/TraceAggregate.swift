/// A function of the trace: its category and its name.
public struct FunctionKey: Hashable, Sendable, Comparable {
    public var category: String
    public var name: String

    public init(category: String, name: String) {
        self.category = category
        self.name = name
    }

    public static func < (a: FunctionKey, b: FunctionKey) -> Bool {
        (a.category, a.name) < (b.category, b.name)
    }
}

/// A malformed line: where it is and why it was refused.
public struct MalformedLine: Sendable, Equatable, Comparable, CustomStringConvertible {
    /// The trace file's path.
    public var file: String
    /// 1-based line number in the file.
    public var line: Int
    public var reason: String

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public static func < (a: MalformedLine, b: MalformedLine) -> Bool { (a.file, a.line) < (b.file, b.line) }

    public var description: String { "\(file):\(line): \(reason)" }
}

/// Running totals for one function: mergeable, and independent of the order
/// events arrive in once ``finish()`` sorted the durations.
public struct FunctionAccumulator: Sendable, Equatable {
    public var count: Int64 = 0
    public var totalDuration: Int64 = 0
    public var bytes: Int64 = 0
    /// Every duration (exact percentiles need them all; 8 bytes per event).
    public var durations: [Int64] = []

    public init() {}

    @inline(__always) mutating func add(duration: Int64, bytes: Int64) {
        count += 1
        totalDuration &+= duration
        self.bytes &+= bytes
        durations.append(duration)
    }

    mutating func merge(_ other: FunctionAccumulator) {
        count += other.count
        totalDuration &+= other.totalDuration
        bytes &+= other.bytes
        durations.append(contentsOf: other.durations)
    }
}

/// Per trace-file-argument totals (the files the traced program touched).
public struct FileAccumulator: Sendable, Equatable {
    public var events: Int64 = 0
    public var bytes: Int64 = 0
    public init() {}

    @inline(__always) mutating func add(bytes: Int64) {
        events += 1
        self.bytes &+= bytes
    }

    mutating func merge(_ other: FileAccumulator) {
        events += other.events
        bytes &+= other.bytes
    }
}

/// The statistics of any part of a trace (a chunk, a file, the whole
/// corpus): what the per-chunk aggregation produces and the merger merges.
public struct TraceAccumulator: Sendable {
    public var functions: [FunctionKey: FunctionAccumulator] = [:]
    public var files: [String: FileAccumulator] = [:]
    public var events: Int64 = 0
    public var skippedLines: Int64 = 0

    public init() {}

    /// Adds one event.
    @inline(__always) public mutating func add(_ event: TraceEvent) {
        events += 1
        functions[FunctionKey(category: event.category, name: event.name), default: FunctionAccumulator()]
            .add(duration: event.duration, bytes: event.bytes)
        if !event.file.isEmpty { files[event.file, default: FileAccumulator()].add(bytes: event.bytes) }
    }

    /// Adds everything `other` holds.
    public mutating func merge(_ other: TraceAccumulator) {
        events += other.events
        skippedLines += other.skippedLines
        for (key, value) in other.functions {
            functions[key, default: FunctionAccumulator()].merge(value)
        }
        for (key, value) in other.files { files[key, default: FileAccumulator()].merge(value) }
    }
}

/// One row of the result table.
public struct FunctionRow: Sendable, Equatable {
    public var key: FunctionKey
    public var count: Int64
    public var totalDuration: Int64
    public var bytes: Int64
    /// Nearest-rank percentiles of the durations.
    public var p50: Int64
    public var p95: Int64
    public var maxDuration: Int64

    /// Mean duration (microseconds).
    public var meanDuration: Double { count == 0 ? 0 : Double(totalDuration) / Double(count) }
}

/// The result of an analysis: exact, and the same whichever way it was computed.
public struct TraceAnalysis: Sendable, Equatable {
    /// One row per function, sorted by category then name.
    public var functions: [FunctionRow]
    /// The touched files, most bytes first (ties by name).
    public var files: [(name: String, events: Int64, bytes: Int64)]
    /// Events analysed.
    public var events: Int64
    /// Lines that held no event to analyse (blank, array brackets, metadata events).
    public var skippedLines: Int64
    /// Every malformed line, in file and line order.
    public var malformed: [MalformedLine]
    /// Lines read, in all.
    public var lines: Int64
    /// Trace files analysed and their bytes.
    public var traceFiles: Int
    public var traceBytes: Int64

    public static func == (a: TraceAnalysis, b: TraceAnalysis) -> Bool {
        a.functions == b.functions && a.events == b.events && a.skippedLines == b.skippedLines
            && a.malformed == b.malformed && a.lines == b.lines && a.traceFiles == b.traceFiles
            && a.traceBytes == b.traceBytes
            && a.files.elementsEqual(b.files) { $0.name == $1.name && $0.events == $1.events && $0.bytes == $1.bytes }
    }

    /// Builds the result from merged totals: sorts each function's durations
    /// (the only order-dependent state) and reads the percentiles.
    public init(accumulator: TraceAccumulator, malformed: [MalformedLine], lines: Int64, traceFiles: Int, traceBytes: Int64) {
        functions = accumulator.functions.map { key, value in
            let sorted = value.durations.sorted()
            return FunctionRow(key: key, count: value.count, totalDuration: value.totalDuration, bytes: value.bytes,
                               p50: Self.percentile(sorted, 0.50), p95: Self.percentile(sorted, 0.95),
                               maxDuration: sorted.last ?? 0)
        }.sorted { $0.key < $1.key }
        files = accumulator.files.map { (name: $0.key, events: $0.value.events, bytes: $0.value.bytes) }
            .sorted { ($0.bytes, $1.name) > ($1.bytes, $0.name) }
        events = accumulator.events
        skippedLines = accumulator.skippedLines
        self.malformed = malformed.sorted()
        self.lines = lines
        self.traceFiles = traceFiles
        self.traceBytes = traceBytes
    }

    /// Nearest rank: the smallest value with at least `p` of the values at or below it.
    static func percentile(_ sorted: [Int64], _ p: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }
}
