#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What goes wrong with the input: each says which path and why, and makes
/// `flow-demo` exit with code 2.
public enum TraceInputError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The input folder does not exist or cannot be listed.
    case missingFolder(path: String, reason: String)
    /// The folder holds no trace file.
    case noTraceFiles(path: String)
    /// A trace file cannot be opened or read.
    case unreadableFile(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingFolder(path, reason): return "cannot read input folder \(path): \(reason)"
        case let .noTraceFiles(path): return "no trace files in \(path) (expected *.jsonl, *.json or *.pfw files)"
        case let .unreadableFile(path, reason): return "cannot read trace file \(path): \(reason)"
        }
    }
}

func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

/// The trace files of a folder: its `*.jsonl`, `*.json` and `*.pfw` entries
/// (regular files, or links to them), sorted by name. Hidden files are skipped.
public func traceFiles(in folder: String) throws(TraceInputError) -> [String] {
    guard let dir = opendir(folder) else { throw .missingFolder(path: folder, reason: errnoText()) }
    defer { closedir(dir) }
    var isDirectory = stat()
    guard stat(folder, &isDirectory) == 0, (isDirectory.st_mode & S_IFMT) == S_IFDIR else {
        throw .missingFolder(path: folder, reason: "not a directory")
    }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name.hasPrefix(".") { continue }
        guard name.hasSuffix(".jsonl") || name.hasSuffix(".json") || name.hasSuffix(".pfw") else { continue }
        let path = folder.hasSuffix("/") ? folder + name : folder + "/" + name
        var info = stat()
        // A dangling link is kept: opening it later reports the file clearly.
        if lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { continue }
        names.append(path)
    }
    guard !names.isEmpty else { throw .noTraceFiles(path: folder) }
    return names.sorted()
}

/// An open trace file, closed on deinit.
final class TraceFile: Sendable {
    let path: String
    let fd: Int32
    let size: Int64

    init(_ path: String) throws(TraceInputError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadableFile(path: path, reason: errnoText()) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let reason = errnoText()
            close(fd)
            throw .unreadableFile(path: path, reason: reason)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .unreadableFile(path: path, reason: "not a regular file")
        }
        self.path = path
        self.fd = fd
        self.size = Int64(info.st_size)
    }

    deinit { close(fd) }

    /// Reads `length` bytes at `offset` (fewer at the end of the file).
    func read(offset: Int64, length: Int) throws(TraceInputError) -> [UInt8] {
        var failure: Int32 = 0
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            var done = 0
            while done < length {
                let n = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            count = done
        }
        if failure != 0 { throw .unreadableFile(path: path, reason: errnoText(failure)) }
        return bytes
    }

    /// The whole file.
    func readAll() throws(TraceInputError) -> [UInt8] { try read(offset: 0, length: Int(size)) }
}

/// Calls `body` for each line of `bytes` (without its `\n`), numbered from 0.
/// A last line without a newline counts; a final newline does not start one.
@inline(__always)
func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (Int, UnsafeBufferPointer<UInt8>) -> Void) -> Int {
    var start = 0
    var line = 0
    let count = bytes.count
    guard let base = bytes.baseAddress else { return 0 }
    while start < count {
        let end: Int
        if let hit = memchr(base + start, 0x0A, count - start) {
            end = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        } else {
            end = count
        }
        body(line, UnsafeBufferPointer(start: base + start, count: end - start))
        line += 1
        start = end + 1
    }
    return line
}
