#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Executor {
    /// How an executor is built. Every field has a sensible default; wrong
    /// values are reported by `Executor.init` as a `FlowError` naming the
    /// field and the value.
    public struct Configuration: Sendable, Equatable {
        /// Worker threads. Default: the CPUs this process may really use
        /// (`Executor.availableCPUs()`: the affinity mask, bounded by a
        /// cgroup CPU quota), at least 1. Allowed: 1...1024.
        public var workers: Int
        /// Threads are named `<name>-<index>` (Linux keeps 15 characters).
        public var name: String
        /// Central rings that take work submitted from outside the pool.
        /// Default: one per worker, at most 8. Allowed: 1...64.
        public var centralShards: Int
        /// Capacity of each central ring, and of the high and low priority
        /// rings: a power of two in 2...2^24. Default 16384. When every
        /// ring is full, work goes to an unbounded overflow list instead of
        /// blocking or being dropped.
        public var shardCapacity: Int
        /// Capacity of each worker's affinity inbox (power of two, 2...2^24).
        public var inboxCapacity: Int
        /// Rounds a worker searches the queues before it parks (0...100000).
        /// More spinning answers a new submission faster but burns CPU that
        /// the submitter may need; the default is 64.
        public var spinBudget: Int

        public init(
            workers: Int = Executor.availableCPUs(),
            name: String = "flow",
            centralShards: Int? = nil,
            shardCapacity: Int = 16_384,
            inboxCapacity: Int = 1_024,
            spinBudget: Int = 64
        ) {
            self.workers = workers
            self.name = name
            self.centralShards = centralShards ?? min(8, max(1, workers))
            self.shardCapacity = shardCapacity
            self.inboxCapacity = inboxCapacity
            self.spinBudget = spinBudget
        }

        /// Throws a `FlowError` naming the first invalid field.
        public func validate() throws(FlowError) {
            guard (1...1024).contains(workers) else {
                throw .invalid("workers", workers, "must be in 1...1024")
            }
            guard !name.isEmpty else { throw .invalid("name", "\"\"", "must not be empty") }
            guard (1...64).contains(centralShards) else {
                throw .invalid("centralShards", centralShards, "must be in 1...64")
            }
            for (field, value) in [("shardCapacity", shardCapacity), ("inboxCapacity", inboxCapacity)] {
                guard value >= 2, value <= 1 << 24, value & (value - 1) == 0 else {
                    throw .invalid(field, value, "must be a power of two in 2...16777216")
                }
            }
            guard (0...100_000).contains(spinBudget) else {
                throw .invalid("spinBudget", spinBudget, "must be in 0...100000")
            }
        }
    }

    /// The number of CPUs this process may really use: the CPUs in its
    /// affinity mask, bounded by the cgroup v2 `cpu.max` quota or the cgroup
    /// v1 CFS quota (rounded up), at least 1.
    public static func availableCPUs() -> Int {
        var cpus = affinityCPUCount() ?? Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        if let quota = cgroupCPUQuota() { cpus = min(cpus, quota) }
        return max(1, cpus)
    }

    static func affinityCPUCount() -> Int? {
        #if os(Linux)
        // sched_getaffinity is a GNU extension the Glibc module does not
        // export; look it up by name (it is in every glibc and musl).
        typealias GetAffinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer?) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") else { return nil }
        let getAffinity = unsafeBitCast(symbol, to: GetAffinity.self)
        var mask = [UInt64](repeating: 0, count: 16)  // 1024 CPUs
        let rc = mask.withUnsafeMutableBytes { getAffinity(0, $0.count, $0.baseAddress) }
        guard rc == 0 else { return nil }
        let count = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        return count > 0 ? count : nil
        #else
        return nil
        #endif
    }

    /// The CPU quota from cgroup v2 (`/sys/fs/cgroup/cpu.max`) or v1
    /// (`cpu.cfs_quota_us` / `cpu.cfs_period_us`), rounded up; nil when
    /// there is no quota.
    static func cgroupCPUQuota() -> Int? {
        if let v2 = readSmallFile("/sys/fs/cgroup/cpu.max") { return parseCgroupV2CPUMax(v2) }
        for dir in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"] {
            if let quota = readSmallFile(dir + "/cpu.cfs_quota_us"),
               let period = readSmallFile(dir + "/cpu.cfs_period_us") {
                return parseCgroupV1Quota(quota: quota, period: period)
            }
        }
        return nil
    }

    /// Parses cgroup v2 `cpu.max` ("max 100000" or "150000 100000").
    package static func parseCgroupV2CPUMax(_ text: String) -> Int? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count >= 2, parts[0] != "max",
              let quota = Int(parts[0]), let period = Int(parts[1]), quota > 0, period > 0 else { return nil }
        return (quota + period - 1) / period
    }

    /// Parses cgroup v1 CFS files (a quota of -1 means none).
    package static func parseCgroupV1Quota(quota: String, period: String) -> Int? {
        let trim = { (s: String) in s.split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init) ?? "" }
        guard let q = Int(trim(quota)), let p = Int(trim(period)), q > 0, p > 0 else { return nil }
        return (q + p - 1) / p
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}
