extension TaskGraph {
    /// Adds a wavefront: a `rows` × `columns` grid of nodes where the cell
    /// at (row, column) runs after the cell above it and the cell to its
    /// left, and gets their values (nil on the first row and the first
    /// column). Cells on one anti-diagonal run in parallel.
    ///
    /// It is the shape of dynamic programming over a table split in blocks
    /// (edit distance, sequence alignment, dynamic time warping): each
    /// block needs the block above and the block to its left.
    ///
    /// ```swift
    /// // Paths through a 4 × 4 grid of cells, moving right or down.
    /// let paths = graph.wavefront(rows: 4, columns: 4, name: "paths") { row, column, above, left in
    ///     (row == 0 || column == 0) ? 1 : above! + left!
    /// }
    /// let run = try await graph.run(on: executor)
    /// print(run[paths.last!]!)   // 20
    /// ```
    ///
    /// One closure serves every cell (as in `parallel`), so a grid costs
    /// no allocation per cell. Cells are named `name[row,column]` when
    /// `name` is given. A negative `rows` or `columns` is reported by
    /// `validate()`; with either 0 the grid is empty.
    @inlinable
    public func wavefront<Output: Sendable>(
        rows: Int,
        columns: Int,
        name: String? = nil,
        options: NodeOptions = NodeOptions(),
        body: @escaping @Sendable (_ row: Int, _ column: Int, _ above: Output?, _ left: Output?) throws -> Output
    ) -> NodeGrid<Output> {
        addWavefront(rows: rows, columns: columns, name: name, options: options, output: Output.self,
                     store: WavefrontBodies(columns: columns, invoke: WavefrontBodies.invoke(body)))
    }

    @usableFromInline
    func addWavefront<Output: Sendable>(
        rows: Int, columns: Int, name: String?, options: NodeOptions, output: Output.Type, store: WavefrontBodies
    ) -> NodeGrid<Output> {
        let empty = NodeGrid<Output>(rows: 0, columns: 0, first: info.count, graph: id)
        let what = "of wavefront(rows:columns:) '\(name ?? "unnamed")'"
        guard rows >= 0 else {
            problem(.invalid("rows", rows, "\(what) must be at least 0"))
            return empty
        }
        guard columns >= 0 else {
            problem(.invalid("columns", columns, "\(what) must be at least 0"))
            return empty
        }
        let (count, overflow) = rows.multipliedReportingOverflow(by: columns)
        guard !overflow, count <= Int(Int32.max) else {
            problem(.invalid("rows", rows, "\(what): \(rows) × \(columns) cells are more than a graph holds (\(Int32.max) nodes)"))
            return empty
        }
        if count == 0 { return NodeGrid(rows: rows, columns: columns, first: info.count, graph: id) }
        let first = addFamily(count, name: name, options: options, output: Output.self,
                              store: addStore(store), input: .grid(columns: columns))
        return NodeGrid(rows: rows, columns: columns, first: first, graph: id)
    }
}

/// The nodes of a `wavefront` grid, by row and column.
///
/// Use a cell like any node: `after:` it, `order` it, read its value from
/// a run (`run[grid[row, column]]`). `last`, the bottom-right cell, runs
/// after every other cell.
public struct NodeGrid<Output: Sendable>: Sendable, Hashable {
    /// The number of rows.
    public let rows: Int
    /// The number of columns.
    public let columns: Int
    @usableFromInline let first: Int
    @usableFromInline let graph: UInt64

    @usableFromInline init(rows: Int, columns: Int, first: Int, graph: UInt64) {
        self.rows = rows
        self.columns = columns
        self.first = first
        self.graph = graph
    }

    /// The number of cells, `rows * columns`.
    public var count: Int { rows * columns }

    /// The cell at `row` and `column` (a precondition failure outside the grid).
    public subscript(row: Int, column: Int) -> Node<Output> {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns,
                     "NodeGrid: cell (\(row), \(column)) is outside the \(rows) × \(columns) grid")
        return Node(index: first + row * columns + column, graph: graph)
    }

    /// The bottom-right cell, which runs after every other; nil when the grid is empty.
    public var last: Node<Output>? {
        count == 0 ? nil : Node(index: first + count - 1, graph: graph)
    }

    /// Every cell, row by row.
    public var nodes: [Node<Output>] {
        (0..<count).map { Node(index: first + $0, graph: graph) }
    }
}
