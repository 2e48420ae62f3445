#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How much memory a pipeline may fill with items in flight, and helpers
/// that size channel capacities and batches from it.
///
/// ```swift
/// let memory = MemoryBudget.detect()                     // half of what is available, ≥ 64 MiB
/// let capacity = memory.channelCapacity(elementSize: 4_096, channels: 3)
/// let batch = memory.batchSize(itemSize: 512, inFlight: 8)
/// ```
///
/// The available memory is `MemAvailable` from `/proc/meminfo`, bounded by
/// what the cgroup (v2 `memory.max` − `memory.current`, or v1
/// `memory.limit_in_bytes` − `memory.usage_in_bytes`) still allows.
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// The smallest default budget: 64 MiB.
    public static let minimumDefault = 64 << 20

    /// Bytes available when the budget was made (nil when unknown).
    public let available: Int?
    /// The budget in bytes.
    public let bytes: Int

    /// A budget of exactly `bytes`. Throws when `bytes` is not positive.
    public init(bytes: Int) throws(FlowError) {
        guard bytes > 0 else { throw .invalid("bytes", bytes, "must be positive") }
        self.available = nil
        self.bytes = bytes
    }

    /// The default budget for `available` bytes: half of it, at least
    /// 64 MiB (64 MiB when `available` is unknown).
    public init(available: Int?) {
        self.available = available
        bytes = max(MemoryBudget.minimumDefault, (available ?? 0) / 2)
    }

    /// Reads the available memory and makes the default budget, or a budget
    /// of `bytes` when given (the user's override; must be positive).
    public static func detect(bytes: Int? = nil) throws(FlowError) -> MemoryBudget {
        let available = availableMemory()
        guard let bytes else { return MemoryBudget(available: available) }
        guard bytes > 0 else { throw .invalid("bytes", bytes, "must be positive") }
        return MemoryBudget(available: available, bytes: bytes)
    }

    private init(available: Int?, bytes: Int) {
        self.available = available
        self.bytes = bytes
    }

    /// Bytes this process may still use: `MemAvailable` bounded by the
    /// cgroup limit minus the cgroup's usage; nil when nothing can be read.
    public static func availableMemory() -> Int? {
        let system = readFile("/proc/meminfo").flatMap(parseMemAvailable)
        let cgroup = cgroupRemaining()
        switch (system, cgroup) {
        case let (s?, c?): return min(s, c)
        case let (s?, nil): return s
        case let (nil, c?): return c
        case (nil, nil): return nil
        }
    }

    /// Resident memory of this process in bytes (`/proc/self/statm`), or nil
    /// when it cannot be read.
    public static func residentMemory() -> Int? {
        readFile("/proc/self/statm").flatMap { parseStatm($0, pageSize: Int(sysconf(Int32(_SC_PAGESIZE)))) }
    }

    /// How many elements of `elementSize` bytes each of `channels` channels
    /// may buffer so that together they stay within the budget; in
    /// `1...maximum`.
    public func channelCapacity(elementSize: Int, channels: Int = 1, maximum: Int = 1 << 20) -> Int {
        Self.fit(bytes, per: max(1, elementSize) * max(1, channels), maximum: maximum)
    }

    /// How many items of `itemSize` bytes a batch may hold when `inFlight`
    /// batches exist at once, within the budget; in `1...maximum`.
    public func batchSize(itemSize: Int, inFlight: Int = 1, maximum: Int = 1 << 20) -> Int {
        Self.fit(bytes, per: max(1, itemSize) * max(1, inFlight), maximum: maximum)
    }

    /// `budget 512 MiB of 1024 MiB available`.
    public var description: String {
        "budget \(bytes >> 20) MiB" + (available.map { " of \($0 >> 20) MiB available" } ?? "")
    }

    private static func fit(_ bytes: Int, per: Int, maximum: Int) -> Int {
        min(max(1, maximum), max(1, bytes / per))
    }

    // MARK: - Parsing (package: tested directly)

    /// `MemAvailable:  123456 kB` → bytes.
    package static func parseMemAvailable(_ meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let kib = Int(fields[1]) else { return nil }
            return kib * 1024
        }
        return nil
    }

    /// `/proc/self/statm` (`size resident shared …`, in pages) → resident bytes.
    package static func parseStatm(_ statm: String, pageSize: Int) -> Int? {
        let fields = statm.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let pages = Int(fields[1]), pageSize > 0 else { return nil }
        return pages * pageSize
    }

    /// A cgroup limit file: a byte count, or nil for "max" and for v1's
    /// "unlimited" values (at least 2^62).
    package static func parseLimit(_ text: String) -> Int? {
        let trimmed = text.split(whereSeparator: { $0 == "\n" || $0 == " " }).first.map(String.init) ?? ""
        guard let value = Int(trimmed), value < 1 << 62 else { return nil }
        return value
    }

    /// Limit minus usage, from cgroup v2 or v1 files; nil without a limit.
    private static func cgroupRemaining() -> Int? {
        let pairs = [("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                     ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes")]
        for (limitFile, usageFile) in pairs {
            guard let limitText = readFile(limitFile) else { continue }
            guard let limit = parseLimit(limitText) else { return nil }
            let usage = readFile(usageFile).flatMap(parseLimit) ?? 0
            return max(0, limit - usage)
        }
        return nil
    }

    /// A small text file (procfs, cgroupfs), or nil.
    private static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > 1 << 20 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
