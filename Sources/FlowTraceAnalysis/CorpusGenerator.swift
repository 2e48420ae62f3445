#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowPipeline

/// Generates a realistic I/O trace corpus: JSON-lines files of complete
/// events as DFTracer writes them — a metadata line per process, then
/// calls with name, category, pid, tid, timestamp, duration and arguments
/// (file name, bytes). Skewed like real traces: a few trace files are much
/// bigger, a few functions and a few touched files dominate, durations are
/// log-normal; about `malformedShare` of the lines are broken (truncated,
/// garbage, a missing or mistyped field). Deterministic for a given seed.
public struct CorpusGenerator: Sendable {
    public var files: Int
    public var events: Int
    public var seed: UInt64
    public var malformedShare: Double

    public init(files: Int = 64, events: Int = 2_000_000, seed: UInt64 = 42, malformedShare: Double = 0.0005) {
        self.files = files
        self.events = events
        self.seed = seed
        self.malformedShare = malformedShare
    }

    func validate() throws(FlowError) {
        if files < 1 { throw .invalid("files", files, "must be at least 1") }
        if events < 0 { throw .invalid("events", events, "must be at least 0") }
        if !(0...1).contains(malformedShare) { throw .invalid("malformedShare", malformedShare, "must be in 0...1") }
    }

    /// Events in file `i`: every 16th file (from the 3rd) is four times as big.
    func eventCounts() -> [Int] {
        let weights = (0..<files).map { $0 % 16 == 2 ? 4 : 1 }
        let total = weights.reduce(0, +)
        var counts = weights.map { events * $0 / total }
        var rest = events - counts.reduce(0, +)
        var i = 0
        while rest > 0 { counts[i % files] += 1; rest -= 1; i += 1 }
        return counts
    }

    /// Writes the corpus into `folder` (which must exist), one file per node
    /// of a `TaskGraph` run on `pipeline`; returns the paths in order.
    public func write(into folder: String, pipeline: Pipeline) async throws -> [String] {
        try validate()
        let counts = eventCounts()
        let graph = TaskGraph("generate")
        let me = self
        let paths = graph.parallel(files, name: "generate") { i in
            let path = folder + "/trace-" + zeroPadded(i, width: 3) + ".jsonl"
            try writeFile(me.content(file: i, events: counts[i]), to: path)
            return path
        }
        let all = graph.fanIn(paths, name: "corpus") { $0 }
        let run = try await pipeline.run(graph)
        return run[all] ?? []
    }

    /// The bytes of file `file`.
    public func content(file: Int, events count: Int) -> [UInt8] {
        var rng = SplitMix64(seed: seed &+ UInt64(file) &* 0x9E37_79B9_7F4A_7C15)
        var out: [UInt8] = []
        out.reserveCapacity(count * 150 + 200)
        let pid = 1000 + file
        out.append(contentsOf: #"{"name":"PR","cat":"dftracer","ph":"M","pid":\#(pid),"tid":\#(pid),"args":{"name":"hostname","value":"node-\#(file % 8)"}}"#.utf8)
        out.append(0x0A)
        var clock = Int64(1_700_000_000_000_000) + Int64(file) * 1_000_000
        var line: [UInt8] = []
        for id in 0..<count {
            line.removeAll(keepingCapacity: true)
            let function = Self.functions[rng.pick(Self.functionWeights)]
            let tid = pid * 10 + Int(rng.next() % 4)
            let duration = max(1, Int64(function.meanMicros * rng.logNormal(sigma: 0.9)))
            clock += Int64(rng.next() % 40) + duration
            line.append(contentsOf: #"{"id":"#.utf8)
            line.appendDecimal(Int64(id))
            line.append(contentsOf: #","name":""#.utf8)
            line.append(contentsOf: function.name.utf8)
            line.append(contentsOf: #"","cat":""#.utf8)
            line.append(contentsOf: function.category.utf8)
            line.append(contentsOf: #"","pid":"#.utf8)
            line.appendDecimal(Int64(pid))
            line.append(contentsOf: #","tid":"#.utf8)
            line.appendDecimal(Int64(tid))
            line.append(contentsOf: #","ts":"#.utf8)
            line.appendDecimal(clock)
            line.append(contentsOf: #","dur":"#.utf8)
            line.appendDecimal(duration)
            line.append(contentsOf: #","ph":"X","args":{"fname":""#.utf8)
            line.append(contentsOf: Self.touchedFiles[rng.pick(Self.touchedFileWeights)].utf8)
            line.append(contentsOf: #"""#.utf8)
            if function.movesBytes {
                line.append(contentsOf: #","size":"#.utf8)
                line.appendDecimal(Self.sizes[rng.pick(Self.sizeWeights)])
            }
            line.append(contentsOf: "}}".utf8)
            if Double(rng.next() >> 11) / Double(1 << 53) < malformedShare {
                corrupt(&line, &rng)
            }
            out.append(contentsOf: line)
            out.append(0x0A)
        }
        return out
    }

    /// Breaks a line in one of the ways real traces break.
    private func corrupt(_ line: inout [UInt8], _ rng: inout SplitMix64) {
        switch rng.next() % 4 {
        case 0:                                     // truncated by a crash mid-write
            line.removeLast(Int(rng.next() % UInt64(line.count - 2)) + 1)
        case 1:                                     // binary garbage
            line = Array("\u{1}\u{2}garbage \u{7f} from a torn write".utf8)
        case 2:                                     // the duration went missing
            if let r = line.firstRange(of: Array(#","dur":"#.utf8)) {
                var end = r.upperBound
                while end < line.count, line[end] != UInt8(ascii: ",") { end += 1 }
                line.removeSubrange(r.lowerBound..<end)
            }
        default:                                    // a string where a number belongs
            if let r = line.firstRange(of: Array(#","dur":"#.utf8)) {
                line.insert(UInt8(ascii: "\""), at: r.upperBound)
                var end = r.upperBound + 1
                while end < line.count, line[end] != UInt8(ascii: ",") { end += 1 }
                line.insert(UInt8(ascii: "\""), at: end)
            }
        }
    }

    struct Function: Sendable {
        var category: String
        var name: String
        var meanMicros: Double
        var movesBytes: Bool
    }

    static let functions: [Function] = [
        Function(category: "POSIX", name: "read", meanMicros: 40, movesBytes: true),
        Function(category: "POSIX", name: "write", meanMicros: 60, movesBytes: true),
        Function(category: "POSIX", name: "open64", meanMicros: 25, movesBytes: false),
        Function(category: "POSIX", name: "close", meanMicros: 6, movesBytes: false),
        Function(category: "POSIX", name: "lseek64", meanMicros: 2, movesBytes: false),
        Function(category: "POSIX", name: "pread64", meanMicros: 45, movesBytes: true),
        Function(category: "POSIX", name: "pwrite64", meanMicros: 70, movesBytes: true),
        Function(category: "POSIX", name: "__xstat64", meanMicros: 9, movesBytes: false),
        Function(category: "POSIX", name: "fsync", meanMicros: 900, movesBytes: false),
        Function(category: "POSIX", name: "mkdir", meanMicros: 80, movesBytes: false),
        Function(category: "STDIO", name: "fread", meanMicros: 35, movesBytes: true),
        Function(category: "STDIO", name: "fwrite", meanMicros: 50, movesBytes: true),
        Function(category: "STDIO", name: "fopen", meanMicros: 30, movesBytes: false),
        Function(category: "STDIO", name: "fclose", meanMicros: 8, movesBytes: false),
        Function(category: "MPI", name: "MPI_File_read_at_all", meanMicros: 400, movesBytes: true),
        Function(category: "MPI", name: "MPI_File_write_at_all", meanMicros: 650, movesBytes: true),
        Function(category: "MPI", name: "MPI_Barrier", meanMicros: 120, movesBytes: false),
        Function(category: "H5", name: "H5Dread", meanMicros: 300, movesBytes: true),
        Function(category: "H5", name: "H5Dwrite", meanMicros: 450, movesBytes: true),
        Function(category: "H5", name: "H5Fopen", meanMicros: 200, movesBytes: false),
    ]
    /// Zipf-like: the first functions dominate.
    static let functionWeights: [Double] = functions.indices.map { 1 / pow(Double($0 + 1), 1.1) }
    static let touchedFiles: [String] = (0..<48).map { "/scratch/run-17/" + ($0 < 4 ? "checkpoint" : "shard") + "-" + zeroPadded($0, width: 2) + ".h5" }
    static let touchedFileWeights: [Double] = touchedFiles.indices.map { 1 / pow(Double($0 + 1), 1.3) }
    static let sizes: [Int64] = [512, 4096, 65536, 262_144, 1 << 20, 4 << 20]
    static let sizeWeights: [Double] = [2, 10, 6, 3, 2, 1]
}

/// `n` in decimal, left-padded with zeros to `width`.
func zeroPadded(_ n: Int, width: Int) -> String {
    let digits = "\(n)"
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

extension [UInt8] {
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        var v = value.magnitude
        var width = 1
        var p: UInt64 = 10
        while width < 20, v >= p { width += 1; p = p &* 10 }
        let end = count + width
        append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width))
        var i = end - 1
        repeat {
            self[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
            i -= 1
        } while v > 0
    }
}

/// SplitMix64: small, fast, deterministic.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func unit() -> Double { Double(next() >> 11) / Double(UInt64(1) << 53) }

    /// An index drawn with the given (unnormalised) weights.
    mutating func pick(_ weights: [Double]) -> Int {
        var x = unit() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            if x < w { return i }
            x -= w
        }
        return weights.count - 1
    }

    /// exp(N(0, sigma²)) scaled to mean 1.
    mutating func logNormal(sigma: Double) -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        let z = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return exp(sigma * z - sigma * sigma / 2)
    }
}

/// Writes `bytes` to a new file at `path`.
func writeFile(_ bytes: [UInt8], to path: String) throws(TraceInputError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .unreadableFile(path: path, reason: errnoText()) }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
        if n < 0 {
            if errno == EINTR { continue }
            throw .unreadableFile(path: path, reason: errnoText())
        }
        done += n
    }
}

/// A new empty folder under the system's temporary directory.
public func makeTemporaryFolder(prefix: String) throws(TraceInputError) -> String {
    let base = getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp"
    var template = Array((base + "/" + prefix + "-XXXXXX").utf8CString)
    guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw .missingFolder(path: base, reason: errnoText())
    }
    return String(cString: result)
}

/// Removes a folder of plain files (the generated corpus).
public func removeFolder(_ folder: String) {
    if let dir = opendir(folder) {
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            unlink(folder + "/" + name)
        }
        closedir(dir)
    }
    rmdir(folder)
}
