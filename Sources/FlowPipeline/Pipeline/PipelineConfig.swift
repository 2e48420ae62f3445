/// How a `Pipeline` is built and watched: a value type with a fluent
/// interface. Every method returns a changed copy, so a base configuration
/// can be shared and specialised:
///
/// ```swift
/// let base = PipelineConfig().name("etl").computeThreads(4)
/// let strict = base.taskTimeout(.seconds(30)).globalTimeout(.seconds(600))
/// let pipeline = try Pipeline(strict)
/// ```
///
/// Values are checked when the pipeline is built (`Pipeline.init`, or
/// `validate()`): a bad one throws `FlowError.invalidArgument` naming the
/// field and the value, e.g. `invalid argument computeThreads = 0: must be in 1...1024`.
public struct PipelineConfig: Sendable, Equatable {
    /// Names the pipeline's executors (`<name>`, `<name>-io`) and appears in
    /// its errors and reports. Default "pipeline"; must not be empty.
    public var name: String = "pipeline"
    /// Worker threads of the compute executor. Default: the CPUs this
    /// process may really use (`Executor.availableCPUs()`: affinity mask and
    /// cgroup quota). Allowed: 1...1024.
    public var computeThreads: Int = Executor.availableCPUs()
    /// Worker threads of the I/O executor, for blocking work, so that it
    /// does not hold compute workers. 0 means no I/O executor. Default 2;
    /// allowed: 0...1024.
    public var ioThreads: Int = 2
    /// Whether the watchdog runs: task and global timeouts and stall
    /// detection need it. Default true.
    public var watchdog: Bool = true
    /// The deadline of each run: past it the run is cancelled and fails with
    /// `FlowError.timedOut`. Default none; must be positive.
    public var globalTimeout: Duration?
    /// The longest one unit of work may run on a worker: past it the
    /// watchdog reports it once, and a graph node that ran longer fails the
    /// run (see `Pipeline`). Default none; must be positive.
    public var taskTimeout: Duration?
    /// How long nothing may move, while work is pending, before the pipeline
    /// reports a stall and `isResponsive` turns false. Default 300 s.
    public var idleTimeout: Duration = .seconds(300)
    /// How long nothing may move before the stall is reported as a probable
    /// deadlock. Default 600 s; must be at least `idleTimeout`.
    public var deadlockTimeout: Duration = .seconds(600)
    /// What a run does when a task fails: `.failFast` (default) or `.continue`.
    public var errorPolicy: ErrorPolicy = .failFast
    /// Whether runs record each task's start and duration (two clock reads
    /// per task) for `Pipeline.report()`. Default false; a `taskTimeout`
    /// turns it on, since it is how a slow task is named.
    public var timings: Bool = false
    /// A file to write a Chrome trace-event JSON of each run to (Perfetto,
    /// chrome://tracing): one track per worker, one event per task. Nil
    /// (default): no trace. Turns timings on. The file is created when the
    /// pipeline is built, and rewritten after every run.
    public var trace: String?
    /// How runs' progress is tracked and reported: `.off` (default:
    /// `Pipeline.progress()` is nil and runs pay nothing), `.polled`,
    /// `.every(interval) { progress in … }` (a callback), or `.terminal` (a
    /// bar on standard error when it is a terminal). The interval of a
    /// callback must be positive.
    public var progress: ProgressReporting = .off

    /// The default configuration.
    public init() {}

    /// Returns a copy with `name` set.
    public func name(_ value: String) -> PipelineConfig { with { $0.name = value } }
    /// Returns a copy with `computeThreads` set.
    public func computeThreads(_ value: Int) -> PipelineConfig { with { $0.computeThreads = value } }
    /// Returns a copy with `ioThreads` set (0: no I/O executor).
    public func ioThreads(_ value: Int) -> PipelineConfig { with { $0.ioThreads = value } }
    /// Returns a copy with the watchdog switched on or off.
    public func watchdog(_ value: Bool) -> PipelineConfig { with { $0.watchdog = value } }
    /// Returns a copy with `globalTimeout` set (nil: none).
    public func globalTimeout(_ value: Duration?) -> PipelineConfig { with { $0.globalTimeout = value } }
    /// Returns a copy with `taskTimeout` set (nil: none).
    public func taskTimeout(_ value: Duration?) -> PipelineConfig { with { $0.taskTimeout = value } }
    /// Returns a copy with `idleTimeout` set.
    public func idleTimeout(_ value: Duration) -> PipelineConfig { with { $0.idleTimeout = value } }
    /// Returns a copy with `deadlockTimeout` set.
    public func deadlockTimeout(_ value: Duration) -> PipelineConfig { with { $0.deadlockTimeout = value } }
    /// Returns a copy with `errorPolicy` set.
    public func errorPolicy(_ value: ErrorPolicy) -> PipelineConfig { with { $0.errorPolicy = value } }
    /// Returns a copy with per-task timings on or off.
    public func timings(_ value: Bool) -> PipelineConfig { with { $0.timings = value } }
    /// Returns a copy writing a trace to `path` (nil: no trace).
    public func trace(_ path: String?) -> PipelineConfig { with { $0.trace = path } }
    /// Returns a copy with `progress` set.
    public func progress(_ value: ProgressReporting) -> PipelineConfig { with { $0.progress = value } }

    /// Throws `FlowError.invalidArgument` naming the first invalid field and its value.
    public func validate() throws(FlowError) {
        guard !name.isEmpty else { throw .invalid("name", "\"\"", "must not be empty") }
        guard (1...1024).contains(computeThreads) else {
            throw .invalid("computeThreads", computeThreads, "must be in 1...1024")
        }
        guard (0...1024).contains(ioThreads) else { throw .invalid("ioThreads", ioThreads, "must be in 0...1024") }
        if let globalTimeout, globalTimeout <= .zero {
            throw .invalid("globalTimeout", globalTimeout, "must be positive")
        }
        if let taskTimeout, taskTimeout <= .zero { throw .invalid("taskTimeout", taskTimeout, "must be positive") }
        guard idleTimeout > .zero else { throw .invalid("idleTimeout", idleTimeout, "must be positive") }
        guard deadlockTimeout >= idleTimeout else {
            throw .invalid("deadlockTimeout", deadlockTimeout, "must be at least idleTimeout (\(idleTimeout))")
        }
        if let trace, trace.isEmpty { throw .invalid("trace", "\"\"", "must be a file path") }
        if case .callback(let every, _) = progress, every <= .zero {
            throw .invalid("progress", every, "interval must be positive")
        }
    }

    private func with(_ change: (inout PipelineConfig) -> Void) -> PipelineConfig {
        var copy = self
        change(&copy)
        return copy
    }
}
