import FlowGraph
import FlowTestSupport
import Synchronization
import Testing

/// `wavefront(rows:columns:)`: each cell runs once, after the cell above
/// and the cell to its left, with their values; edges of the grid, names,
/// options, failures and value release.
@Suite("Graph wavefront", .serialized, .timeLimit(.minutes(2)))
struct GraphWavefrontTests {
    /// The sequential reference: cell values by row and column.
    static func reference(rows: Int, columns: Int, _ f: (Int, Int, Int?, Int?) -> Int) -> [Int] {
        var values = [Int](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            for c in 0..<columns {
                values[r * columns + c] = f(r, c, r > 0 ? values[(r - 1) * columns + c] : nil,
                                            c > 0 ? values[r * columns + c - 1] : nil)
            }
        }
        return values
    }

    static func cell(_ r: Int, _ c: Int, _ above: Int?, _ left: Int?) -> Int {
        mix(mix(above ?? r, left ?? c), r &* 1_000 &+ c)
    }

    /// Grids of many shapes (one row, one column, one cell, wide, tall):
    /// every cell runs exactly once, after its neighbours above and to the
    /// left, and every value matches the sequential reference.
    @Test func everyCellRunsOnceAfterItsNeighboursWithTheirValues() async throws {
        let executor = try Executor(workers: 3, name: "g-wave")
        let big = StressScale.factor < 1 ? 64 : 256
        let shapes = [(1, 1), (1, 17), (17, 1), (2, 2), (3, 50), (50, 3), (31, 29), (big, big)]
        for (rows, columns) in shapes {
            let probe = Probe(rows * columns)
            let graph = TaskGraph("wave-\(rows)x\(columns)")
            let grid = graph.wavefront(rows: rows, columns: columns) { (r, c, above: Int?, left: Int?) in
                let id = r * columns + c
                var before: [Int] = []
                if r > 0 { before.append(id - columns) }
                if c > 0 { before.append(id - 1) }
                #expect((above == nil) == (r == 0) && (left == nil) == (c == 0))
                probe.enter(id, after: before)
                probe.leave(id)
                return GraphWavefrontTests.cell(r, c, above, left)
            }
            #expect(grid.rows == rows && grid.columns == columns && grid.count == rows * columns)
            let plan = try graph.freeze()
            let run = try await withTimeLimit(.seconds(60), "wavefront \(rows)x\(columns)") { try await plan.run(on: executor) }
            let expected = GraphWavefrontTests.reference(rows: rows, columns: columns, GraphWavefrontTests.cell)
            #expect(run[grid.last!] == expected.last!, "\(rows)x\(columns)")
            #expect(probe.wrongCounts.isEmpty, "\(rows)x\(columns): \(probe.wrongCounts)")
            #expect(probe.misordered.load(ordering: .relaxed) == 0, "\(rows)x\(columns)")
            // Only the last cell is terminal: every other value was read and released.
            #expect(run[grid[0, 0]] == (rows * columns == 1 ? expected[0] : nil))
            // The same plan again gives the same result.
            let again = try await withTimeLimit(.seconds(60), "wavefront rerun") { try await plan.run(on: executor) }
            #expect(again[grid.last!] == expected.last!)
        }
        await executor.shutdown()
    }

    /// The grid joins the rest of the graph: a node before its first cell
    /// (order-only), readers of its cells, and non-default options (which
    /// take the builder's slow path) give the same values.
    @Test func cellsConnectToOtherNodesAndOptionsKeepTheSemantics() async throws {
        let executor = try Executor(workers: 2, name: "g-wave-mix")
        for options in [NodeOptions(), NodeOptions(priority: .high)] {
            let graph = TaskGraph("mixed")
            let started = Atomic<Bool>(false)
            let first = graph.task("first") { started.store(true, ordering: .releasing) }
            let grid = graph.wavefront(rows: 5, columns: 7, name: "dp", options: options) { (r, c, above: Int?, left: Int?) in
                let first = started.load(ordering: .acquiring)
                #expect(first)
                return GraphWavefrontTests.cell(r, c, above, left)
            }
            graph.order(first, before: grid[0, 0])
            let corner = graph.task("corner", after: grid[4, 0], grid.last!) { $0 &+ $1 }
            let row = graph.fanIn((0..<7).map { grid[2, $0] }, name: "row") { $0 }
            let plan = try graph.freeze()
            let run = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
            let expected = GraphWavefrontTests.reference(rows: 5, columns: 7, GraphWavefrontTests.cell)
            #expect(run[corner] == expected[28] &+ expected[34])
            #expect(run[row] == Array(expected[14..<21]))
            #expect(graph.name(of: grid[2, 3]) == "dp[2,3]")
            #expect(grid.nodes.count == 35 && grid.nodes[9] == grid[1, 2])
            #expect(plan.options(ofNodeAt: grid[1, 1].index) == options)
        }
        await executor.shutdown()
    }

    /// Values that need releasing: interior values are read by two cells
    /// (copied, released after the second), the last row and column by
    /// one (moved); all but the last cell's are gone after the run.
    @Test func valuesAreReleasedAfterTheirLastReader() async throws {
        let executor = try Executor(workers: 2, name: "g-wave-release")
        let counter = DeinitCounter()
        let graph = TaskGraph("release")
        let grid = graph.wavefront(rows: 12, columns: 9) { (r, c, above: Tracked?, left: Tracked?) in
            Tracked((above?.value ?? 0) + (left?.value ?? 0) + 1, counter: counter)
        }
        let plan = try graph.freeze()
        var run: GraphRun? = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor) }
        // Cell (r, c) counts the monotone paths from (0, 0) plus those from every cell before it.
        let expected = GraphWavefrontTests.reference(rows: 12, columns: 9) { _, _, a, l in (a ?? 0) + (l ?? 0) + 1 }
        #expect(run?[grid.last!]?.value == expected.last!)
        #expect(counter.liveCount == 1)
        #expect(counter.deinitCount == 12 * 9 - 1)
        run = nil
        #expect(await waitUntil { counter.liveCount == 0 })
        await executor.shutdown()
    }

    /// A failing cell: fail-fast names it as `name[row,column]`; with the
    /// continue policy every cell not below or right of it runs.
    @Test func aFailingCellStopsOnlyTheCellsDownstream() async throws {
        let executor = try Executor(workers: 2, name: "g-wave-fail")
        for policy in [ErrorPolicy.failFast, .continue] {
            let ran = Locked(Set<Int>())
            let graph = TaskGraph("fail")
            let grid = graph.wavefront(rows: 6, columns: 6, name: "dp") { (r, c, _: Int?, _: Int?) throws -> Int in
                if r == 2 && c == 3 { throw TestFailure(tag: "cell") }
                ran.withLock { _ = $0.insert(r * 6 + c) }
                return r + c
            }
            let plan = try graph.freeze()
            do {
                _ = try await withTimeLimit(.seconds(30)) { try await plan.run(on: executor, errorPolicy: policy) }
                Issue.record("expected a GraphError")
            } catch let error as GraphError {
                #expect(error.node == "dp[2,3]")
                #expect(error.failures.count == 1)
                #expect(error.run.state(of: grid[2, 3]) == .failed)
                #expect(error.run.state(of: grid.last!) == .skipped || error.run.state(of: grid.last!) == .cancelled)
                let cells = ran.withLock { $0 }
                for r in 0..<6 {
                    for c in 0..<6 where r >= 2 && c >= 3 {
                        #expect(!cells.contains(r * 6 + c), "cell (\(r), \(c)) is downstream of the failure")
                    }
                }
                if policy == .continue {
                    let independent = (0..<36).filter { !($0 / 6 >= 2 && $0 % 6 >= 3) }
                    #expect(cells == Set(independent))
                }
            }
        }
        await executor.shutdown()
    }

    /// Both workers take part, even when both were parked when the run
    /// began: in a wavefront each cell pushes at most one successor on its
    /// worker's deque and pops it back later, so a rule that woke a parked
    /// neighbour only once two jobs waited left the grid on one worker.
    @Test func aWavefrontRunsOnEveryWorker() async throws {
        let executor = try Executor(workers: 2, name: "g-wave-workers")
        let clock = ContinuousClock()
        let parkedBy = clock.now + .seconds(10)
        var backoff = Backoff()
        while executor.parkedWorkerCount < 2 && clock.now < parkedBy {   // let both park
            backoff.snooze()
            if backoff.isCompleted { backoff.reset() }
        }
        let seen = Locked(Set<Int>())
        let graph = TaskGraph("wave-workers")
        let grid = graph.wavefront(rows: 32, columns: 32) { (r, c, above: Int?, left: Int?) in
            if let worker = executor.currentWorkerIndex { seen.withLock { _ = $0.insert(worker) } }
            let busyUntil = clock.now + .microseconds(50)   // a little work per cell: 50 ms in all
            while clock.now < busyUntil {}
            return (above ?? 0) &+ (left ?? 0) &+ 1
        }
        let plan = try graph.freeze()
        let run = try await withTimeLimit(.seconds(60), "wavefront on every worker") { try await plan.run(on: executor) }
        #expect(run[grid.last!] != nil)
        #expect(seen.withLock { $0 } == [0, 1])
        await executor.shutdown()
    }

    @Test func badSizesAreReportedByName() throws {
        let cases = [(-1, 4, "rows", "-1"), (4, -2, "columns", "-2"), (Int.max, 2, "rows", "\(Int.max)"),
                     (70_000, 70_000, "rows", "70000")]
        for (rows, columns, parameter, shown) in cases {
            let graph = TaskGraph("bad")
            let grid = graph.wavefront(rows: rows, columns: columns, name: "w") { (_, _, _: Int?, _: Int?) in 0 }
            #expect(grid.count == 0 && grid.last == nil)
            _ = graph.task("other") { 1 }
            #expect {
                try graph.validate()
            } throws: { error in
                guard case let .invalidArgument(name, value, reason)? = error as? FlowError else { return false }
                return name == parameter && value == shown && reason.contains("wavefront(rows:columns:) 'w'")
            }
        }
        // An empty grid is no error: it adds no node.
        let graph = TaskGraph("empty-grid")
        let empty = graph.wavefront(rows: 0, columns: 5) { (_, _, _: Int?, _: Int?) in 0 }
        #expect(empty.count == 0 && empty.last == nil && empty.nodes.isEmpty && graph.nodeCount == 0)
    }

    /// Names of grid cells take part in the uniqueness check.
    @Test func aNodeNamedLikeACellIsADuplicate() {
        let graph = TaskGraph("names")
        _ = graph.wavefront(rows: 2, columns: 2, name: "dp") { (_, _, _: Int?, _: Int?) in 0 }
        _ = graph.task("dp[1,0]") { 0 }
        #expect(throws: FlowError.self) { try graph.validate() }
    }
}
