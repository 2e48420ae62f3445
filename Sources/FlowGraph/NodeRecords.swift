// The records a TaskGraph keeps per node, shared with GraphPlan.

/// Per-node facts, one append per node: 28 bytes, read by the scheduler
/// on every node (smaller records, fewer cache lines per node).
@usableFromInline
struct NodeInfo: Sendable {
    @usableFromInline var predEnd: Int32   // data inputs: preds[previous predEnd ..< predEnd]
    var inDegree: Int32     // data inputs + order-only predecessors
    var readers: Int32      // data readers (each `after:` mention counts; counted when freezing)
    var store: Int32        // the body: `position` in `stores[store]` (BodyStores.swift)
    var position: Int32
    var offset: Int32       // of the output slot in a run's slot buffer
    var destroyer: Int16    // index in `destroyers`, -1 for trivial outputs (TaskGraph.maxDestroyers)
    var flags: UInt8
    // A node's successors (data readers and order-only edges) are counted
    // when the graph is frozen (GraphPlan): no out-degree is kept here.

    init(predEnd: Int32, inDegree: Int32, readers: Int32, destroyer: Int32,
         store: Int32, position: Int32, offset: Int32, flags: UInt8) {
        self.predEnd = predEnd
        self.inDegree = inDegree
        self.readers = readers
        self.destroyer = Int16(truncatingIfNeeded: destroyer)
        self.store = store
        self.position = position
        self.offset = offset
        self.flags = flags
    }

    /// A plain node's record: no readers yet, no flags.
    @usableFromInline
    init(predEnd: Int32, inDegree: Int32, destroyer: Int32, store: Int32, position: Int32, offset: Int32) {
        self.init(predEnd: predEnd, inDegree: inDegree, readers: 0, destroyer: destroyer,
                  store: store, position: position, offset: offset, flags: 0)
    }

    static let isAsync: UInt8 = 1, needsSubmit: UInt8 = 2, hasTimeout: UInt8 = 4
    // A scoped or token node (ExtendedNode.swift). It carries `isAsync`
    // too: the chain loop's one test sends it off the fast path, and
    // `launchAsync` hands it on.
    static let isExtended: UInt8 = 8
}

struct OrderEdge {
    let from: Int32
    let to: Int32
}

/// How a node was named when it was added.
@usableFromInline
enum NodeName: Sendable {
    case anonymous
    case named(String)
    case indexed(group: Int32, Int32)
}

typealias SyncBody = @Sendable (GraphExecution) throws -> Void
typealias AsyncBody = @Sendable (GraphExecution) async throws -> Void

/// A node's body with its inputs and output erased: it reads its inputs
/// from the run's slots and writes its output to its own.
enum NodeBody: Sendable {
    case sync(SyncBody)
    case async(AsyncBody)
}

/// Destroys a value of one type in an output slot.
struct Destroyer: Sendable {
    let type: ObjectIdentifier
    let destroy: @Sendable (UnsafeMutableRawPointer) -> Void

    init(type: ObjectIdentifier, _ destroy: @escaping @Sendable (UnsafeMutableRawPointer) -> Void) {
        self.type = type
        self.destroy = destroy
    }
}

/// The names of a graph's nodes, stored sparsely: nothing for an unnamed
/// node, one entry per explicitly named node, one range per run of a
/// family's nodes (`parallel`, `fanOut`, `map` and each `reduce` level add
/// their nodes back to back). Building a large graph of unnamed or family
/// nodes so writes no per-node name; a lookup (errors, renderings) is a
/// binary search.
struct NodeNames: Sendable {
    struct Run: Sendable {
        var first: Int32        // the run's first node
        var count: Int32
        var group: Int32        // in `groups`
        var startIndex: Int32   // the family index of `first`
    }

    private(set) var explicit: [(node: Int32, name: String)] = []   // ascending nodes
    private(set) var runs: [Run] = []                                // ascending nodes
    private(set) var groups: [String] = []
    /// Per group: the columns of a `wavefront` grid, whose node `i` is shown
    /// as `base[row,column]`; 0 for a one-dimensional family (`base[i]`).
    private var groupColumns: [Int32] = []

    /// Registers a family base name (of a grid with `columns` columns, or
    /// 0 for a one-dimensional family); returns its group.
    mutating func addGroup(_ base: String, columns: Int = 0) -> Int32 {
        groups.append(base)
        groupColumns.append(Int32(truncatingIfNeeded: columns))
        return Int32(groups.count - 1)
    }

    /// The text of `name`, the name node `index` was added with.
    func display(_ name: NodeName, index: Int) -> String {
        switch name {
        case .anonymous: "#\(index)"
        case .named(let text): text
        case .indexed(let group, let i):
            if case let columns = groupColumns[Int(group)], columns > 0 {
                "\(groups[Int(group)])[\(i / columns),\(i % columns)]"
            } else {
                "\(groups[Int(group)])[\(i)]"
            }
        }
    }

    /// Records the name of node `index`, the newest node.
    @inline(__always)
    mutating func append(_ name: NodeName, at index: Int) {
        switch name {
        case .anonymous:
            return
        case .named(let text):
            explicit.append((Int32(truncatingIfNeeded: index), text))
        case .indexed(let group, let i):
            let node = Int32(truncatingIfNeeded: index)
            if let last = runs.last, last.group == group, last.first &+ last.count == node, last.startIndex &+ last.count == i {
                runs[runs.count - 1].count &+= 1
            } else {
                runs.append(Run(first: node, count: 1, group: group, startIndex: i))
            }
        }
    }

    /// Names nodes `first ..< first + count`, the newest, `group[0]`,
    /// `group[1]`, … (one run).
    mutating func appendFamily(group: Int32, first: Int, count: Int) {
        guard count > 0 else { return }
        runs.append(Run(first: Int32(truncatingIfNeeded: first), count: Int32(truncatingIfNeeded: count),
                        group: group, startIndex: 0))
    }

    /// The name node `index` is shown with: its own, `group[i]`, or `#index`.
    subscript(index: Int) -> String {
        display(name(of: index), index: index)
    }

    /// How node `index` was named.
    func name(of index: Int) -> NodeName {
        let node = Int32(truncatingIfNeeded: index)
        if let k = NodeNames.last(in: explicit.count, where: { explicit[$0].node <= node }), explicit[k].node == node {
            return .named(explicit[k].name)
        }
        if let k = NodeNames.last(in: runs.count, where: { runs[$0].first <= node }), node - runs[k].first < runs[k].count {
            return .indexed(group: runs[k].group, runs[k].startIndex + (node - runs[k].first))
        }
        return .anonymous
    }

    /// The last index in `0..<count` satisfying `isBefore`, which holds for a prefix.
    private static func last(in count: Int, where isBefore: (Int) -> Bool) -> Int? {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if isBefore(mid) { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? nil : lo - 1
    }
}
