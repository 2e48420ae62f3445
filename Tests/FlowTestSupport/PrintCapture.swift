import FlowAtomics

/// Captures what a documentation example prints, so that its test can check
/// the output the docs show. Shadow `print` in the test function, before the
/// example's code (a local constant wins over `Swift.print`, also inside the
/// example's closures, on any thread):
///
/// ```swift
/// let output = PrintCapture()
/// let print = output.printer
/// ```
public final class PrintCapture: Sendable {
    private let text = Locked("")

    public init() {}

    /// Appends what `Swift.print(items..., separator:terminator:)` would write.
    public func print(_ items: [Any], separator: String = " ", terminator: String = "\n") {
        let line = items.map { String(describing: $0) }.joined(separator: separator) + terminator
        text.withLock { $0 += line }
    }

    /// A `print(_:...)` that appends here (items joined by a space, then a
    /// newline, as `Swift.print` with its defaults).
    public var printer: @Sendable (Any...) -> Void {
        { [self] items in self.print(items) }
    }

    /// Everything printed so far.
    public var output: String { text.withLock { $0 } }

    /// The printed lines (a final newline ends the last line, it does not start another).
    public var lines: [String] {
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
