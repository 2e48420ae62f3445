#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// How a `Pipeline` tracks and reports the progress of its runs
/// (`PipelineConfig.progress`).
///
/// Anything but `.off` gives each run a `GraphMonitor` (two clock reads and
/// four stores per task) so that `Pipeline.progress()` can answer; `.off`
/// costs nothing.
public enum ProgressReporting: Sendable, Equatable, CustomStringConvertible {
    /// No tracking: `Pipeline.progress()` returns nil. The default.
    case off
    /// Tracked, nothing reported: poll `Pipeline.progress()` yourself.
    case polled
    /// Tracked; `handler` is called every `interval` while a run is in
    /// flight, and once more with the final progress when it ended. Make
    /// one with `every(_:_:)`.
    case callback(every: Duration, ProgressHandler)
    /// Tracked; a one-line bar on standard error, redrawn in place every
    /// 200 ms and finished with a newline when the run ends — only when
    /// standard error is a terminal (`isatty`); otherwise nothing is drawn.
    case terminal

    /// Calls `body` every `interval` during a run and once at its end.
    /// `body` runs on a task of its own, never on the run's workers; a
    /// slow `body` delays the next call, not the run.
    public static func every(_ interval: Duration,
                             _ body: @escaping @Sendable (PipelineProgress) -> Void) -> ProgressReporting {
        .callback(every: interval, ProgressHandler(body))
    }

    /// How often the terminal bar is redrawn.
    public static let terminalInterval: Duration = .milliseconds(200)

    /// True unless `.off`.
    public var tracks: Bool { self != .off }

    /// How often a report is made; nil for `.off` and `.polled`.
    public var interval: Duration? {
        switch self {
        case .off, .polled: nil
        case .callback(let every, _): every
        case .terminal: ProgressReporting.terminalInterval
        }
    }

    public var description: String {
        switch self {
        case .off: "off"
        case .polled: "polled"
        case .callback(let every, let handler): "every \(every) (handler #\(handler.id))"
        case .terminal: "terminal"
        }
    }
}

/// A progress callback, compared by identity: copies of one handler are
/// equal, two handlers made from closures are not (closures cannot be
/// compared). Keeps `PipelineConfig` `Equatable`.
public struct ProgressHandler: Sendable, Equatable {
    /// A number unique to this handler (and its copies).
    public let id: UInt64
    /// The callback.
    public let body: @Sendable (PipelineProgress) -> Void

    private static let nextID = Atomic<UInt64>(0)

    /// Wraps `body` with a fresh id.
    public init(_ body: @escaping @Sendable (PipelineProgress) -> Void) {
        id = ProgressHandler.nextID.wrappingAdd(1, ordering: .relaxed).newValue
        self.body = body
    }

    public static func == (a: ProgressHandler, b: ProgressHandler) -> Bool { a.id == b.id }
}

/// A counter of finer-grained units of work that a long task advances, so
/// that progress moves while it runs. Get one from
/// `Pipeline.progressCounter(_:)`; it appears in `PipelineProgress.units`
/// and on the terminal bar (`chunks 120/512`).
///
/// ```swift
/// let chunks = pipeline.progressCounter("chunks")
/// let scan = graph.task("scan") { () async throws -> Int in
///     chunks.addTotal(4)
///     var sum = 0
///     for i in 0..<4 {
///         sum += i
///         chunks.advance()
///     }
///     return sum
/// }
/// ```
///
/// Counters live as long as the pipeline and accumulate over its runs
/// (a task that announces its units with `addTotal` before it advances
/// them keeps `completed <= total`); `reset()` sets both to zero.
public final class ProgressCounter: Sendable {
    // Ordering: `addTotal` and `advance` are release RMWs; a reader loads
    // `done` (acquire) before `announced`, so every `addTotal` that
    // preceded an `advance` it saw is seen too: completed <= total when
    // the writer announces before it advances.
    /// The label shown with the counter, e.g. "chunks".
    public let label: String
    private let done = Atomic<Int>(0)
    private let announced = Atomic<Int>(0)

    init(label: String) { self.label = label }

    /// Announces `n` more units to do.
    public func addTotal(_ n: Int) { announced.wrappingAdd(n, ordering: .releasing) }

    /// Records `n` units done.
    public func advance(by n: Int = 1) { done.wrappingAdd(n, ordering: .releasing) }

    /// Units done.
    public var completed: Int { done.load(ordering: .acquiring) }

    /// Units announced.
    public var total: Int { announced.load(ordering: .acquiring) }

    /// Sets completed and total to zero.
    public func reset() {
        done.store(0, ordering: .releasing)
        announced.store(0, ordering: .releasing)
    }

    /// Completed, then total (see the ordering note).
    var units: PipelineProgress.Units {
        let completed = done.load(ordering: .acquiring)
        return PipelineProgress.Units(label: label, completed: completed, total: announced.load(ordering: .acquiring))
    }
}

/// Draws the progress bar on a file descriptor (standard error), only
/// when it is a terminal.
struct TerminalProgress: Sendable {
    let fd: Int32

    static let standardError = TerminalProgress(fd: 2)

    /// Whether the descriptor is a terminal: nothing is drawn otherwise.
    var isTerminal: Bool { isatty(fd) == 1 }

    /// Redraws the line in place (`\r`, the bar, clear to the end of the
    /// line); `final` ends it with a newline. Returns the bytes written.
    @discardableResult
    func draw(_ progress: PipelineProgress, final: Bool) -> Int {
        guard isTerminal else { return 0 }
        let text = "\r" + progress.bar(width: max(20, columns() - 1)) + "\u{1B}[K" + (final ? "\n" : "")
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { buffer in
            var written = 0
            while written < buffer.count {
                let n = write(fd, buffer.baseAddress! + written, buffer.count - written)
                if n <= 0 { break }
                written += n
            }
            return written
        }
    }

    /// The terminal's width (`TIOCGWINSZ`), else `COLUMNS`, else 80.
    private func columns() -> Int {
        var size = winsize()
        if ioctl(fd, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let raw = getenv("COLUMNS"), let value = Int(String(cString: raw)), value > 0 { return value }
        return 80
    }
}
