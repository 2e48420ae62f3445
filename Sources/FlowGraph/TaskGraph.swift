import Synchronization

/// Source of graph identities, so a `Node` can be checked against its graph.
let graphIdentities = Atomic<UInt64>(1)

/// A typed dependency graph, built node by node, then run on an `Executor`.
///
/// ```swift
/// let graph = TaskGraph("stats")
/// let numbers = graph.task("load") { [3, 1, 2] }
/// let count = graph.task("count", after: numbers) { $0.count }
/// let total = graph.task("sum", after: numbers) { $0.reduce(0, +) }
/// let mean = graph.task("mean", after: total, count) { Double($0) / Double($1) }
/// let run = try await graph.run(on: executor)
/// print(run[mean]!)   // 2.0
/// ```
///
/// A node's body receives the values of the nodes it runs `after:`, typed,
/// through parameter packs; `order(_:before:)` adds an ordering without
/// data. `parallel`, `fanOut`, `fanIn`, `map` and `reduce` add families of
/// nodes (TaskGraph+Parallel.swift, TaskGraph+Reduce.swift): each goes
/// through the one core `addNode`.
///
/// `TaskGraph` is a builder and is **not** `Sendable`: build it on one
/// task or thread. `freeze()` (and `run`, through it) validates it and makes
/// an immutable, `Sendable` `GraphPlan`, which runs any number of times,
/// from any thread; a run never sees later changes to the builder.
public final class TaskGraph {
    /// The graph's name, used in errors and renderings.
    public let name: String
    @usableFromInline let id: UInt64

    // The nodes, in the order they were added (struct of arrays). A builder
    // is used from one thread (it is not Sendable), so the run-time
    // exclusivity checks on these fields are turned off: they cost more
    // than the rest of adding a node.
    @usableFromInline @exclusivity(unchecked) var info: [NodeInfo] = []
    @exclusivity(unchecked) var names = NodeNames()
    @exclusivity(unchecked) var stores: [BodyStore] = []       // node bodies by kind and type (BodyStores.swift)
    @exclusivity(unchecked) private var storeKeys: [ObjectIdentifier?] = []   // reusable stores' types; nil: one family's
    @exclusivity(unchecked) private var erasedStore: Int32 = -1
    // The store of the last typed node added, the common case of the next.
    @usableFromInline @exclusivity(unchecked) var lastStoreKey: ObjectIdentifier?
    @usableFromInline @exclusivity(unchecked) var lastStoreIndex: Int32 = -1
    @usableFromInline @exclusivity(unchecked) var lastStore: Unmanaged<BodyStore>?
    @usableFromInline @exclusivity(unchecked) var preds: [Int32] = []   // data inputs, node by node (NodeInfo.predEnd)
    @exclusivity(unchecked) var countedInputs = 0               // preds[..<countedInputs] are in info's readers
    @exclusivity(unchecked) var orderEdges: [OrderEdge] = []
    @exclusivity(unchecked) var options: [Int32: NodeOptions] = [:]
    @exclusivity(unchecked) var destroyers: [Destroyer] = []
    @exclusivity(unchecked) private var lastDestroyerType: ObjectIdentifier?
    @exclusivity(unchecked) private var lastDestroyerIndex: Int32 = -1
    @usableFromInline @exclusivity(unchecked) var slotBytes = 0
    @usableFromInline @exclusivity(unchecked) var slotAlignment = 16
    @exclusivity(unchecked) var problems: [FlowError] = []      // found while building, thrown by validate()
    @usableFromInline @exclusivity(unchecked) var version = 0
    @exclusivity(unchecked) private var cached: (version: Int, plan: GraphPlan)?

    /// An empty graph named `name`.
    public init(_ name: String = "graph") {
        self.name = name
        id = graphIdentities.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// The number of nodes added so far.
    @inlinable public var nodeCount: Int { info.count }

    /// Reserves room for `nodes` more nodes and `inputs` more data edges,
    /// so that a large graph is built without regrowing its storage.
    public func reserveCapacity(nodes: Int, inputs: Int = 0) {
        TaskGraph.reserve(&info, nodes)
        TaskGraph.reserve(&preds, inputs)
    }

    /// Makes room for `more` elements, growing at least geometrically (an
    /// exact `reserveCapacity` per call would make many small calls
    /// quadratic). An empty array takes recycled storage when some is kept
    /// (GraphStorage.swift).
    static func reserve<Element>(_ array: inout [Element], _ more: Int) {
        let needed = array.count + more
        guard needed > array.capacity else { return }
        let target = max(needed, 2 * array.capacity)
        if array.isEmpty, let recycled = GraphStorage.array(of: Element.self, minimumCapacity: target) {
            array = recycled
            return
        }
        array.reserveCapacity(target)
    }

    deinit {
        // The node tables go to the next graph (a plan made from this
        // graph may still share them: copy on write keeps that safe).
        GraphStorage.recycle(info)
        GraphStorage.recycle(preds)
    }

    /// The name a node is shown with: its own, `group[i]` for a node of a
    /// named family, `#index` for an unnamed node.
    public func name<T>(of node: Node<T>) -> String {
        check(node, "name(of:)")
        return names[node.index]
    }

    // MARK: - The core

    @inline(__always)
    func check<T>(_ node: Node<T>, _ api: String) {
        precondition(node.graph == id && node.index < info.count,
                     "TaskGraph.\(api): node #\(node.index) belongs to another graph than '\(name)'")
    }

    /// Records `node` as the next data input of the node that the next
    /// `addNode` call adds.
    @inlinable
    func recordInput<T>(_ node: Node<T>) {
        if node.graph != id || node.index >= nodeCount { foreignNode(node.index, "after:") }
        preds.append(Int32(truncatingIfNeeded: node.index))
    }

    @usableFromInline
    func foreignNode(_ index: Int, _ api: String) -> Never {
        preconditionFailure("TaskGraph.\(api): node #\(index) belongs to another graph than '\(name)'")
    }

    /// Adds a node whose data inputs are those recorded since the previous
    /// `addNode`, with a type-erased body (one closure per node).
    func addNode<Output: Sendable>(
        _ name: NodeName, options: NodeOptions, output: Output.Type, body: NodeBody
    ) -> Node<Output> {
        if erasedStore < 0 {
            stores.append(ErasedBodies())
            storeKeys.append(nil)
            erasedStore = Int32(stores.count - 1)
        }
        let erased = unsafeDowncast(stores[Int(erasedStore)], to: ErasedBodies.self)
        let position = Int32(truncatingIfNeeded: erased.bodies.count)
        var isAsync = false
        if case .async = body { isAsync = true }
        erased.bodies.append(body)
        return addNode(name, options: options, output: Output.self, store: erasedStore, position: position, isAsync: isAsync)
    }

    /// The store of bodies of type `S` shared by all nodes of that type,
    /// made on first use, and its index.
    @inlinable
    func store<S: BodyStore>(_ type: S.Type, make: () -> S) -> (store: Unmanaged<S>, index: Int32) {
        // Unmanaged: the caller appends through it with no retain and
        // release of the store per node (`stores` keeps it alive).
        if ObjectIdentifier(S.self) == lastStoreKey, let last = lastStore {
            return (Unmanaged.fromOpaque(last.toOpaque()), lastStoreIndex)
        }
        return storeSlow(type, make: make)
    }

    @usableFromInline
    func storeSlow<S: BodyStore>(_ type: S.Type, make: () -> S) -> (store: Unmanaged<S>, index: Int32) {
        let key = ObjectIdentifier(S.self)
        let index: Int32
        if let known = storeKeys.firstIndex(where: { $0 == key }) {
            index = Int32(known)
        } else {
            stores.append(make())
            storeKeys.append(key)
            index = Int32(stores.count - 1)
        }
        lastStoreKey = key
        lastStoreIndex = index
        lastStore = .passUnretained(stores[Int(index)])
        return (.passUnretained(unsafeDowncast(stores[Int(index)], to: S.self)), index)
    }

    /// Adds a store used by one family of nodes only; returns its index.
    func addStore(_ store: BodyStore) -> Int32 {
        stores.append(store)
        storeKeys.append(nil)
        return Int32(stores.count - 1)
    }

    /// Adds a fan-in store (one body, for one `fanIn` or all the nodes of one `reduce`).
    func addFanInStore(_ store: FanInBodies) -> FanInBodies {
        store.index = addStore(store as BodyStore)
        return store
    }

    /// Adds a node whose data inputs are those recorded since the previous
    /// `addNode`, running body `position` of store `store`. Every builder
    /// method ends here.
    @usableFromInline
    func addNode<Output: Sendable>(
        _ name: NodeName, options: NodeOptions, output: Output.Type, store: Int32, position: Int32, isAsync: Bool = false
    ) -> Node<Output> {
        let index = info.count
        let predStart = index == 0 ? 0 : Int(info[index - 1].predEnd)
        var flags: UInt8 = isAsync ? NodeInfo.isAsync : 0
        if !options.isDefault {
            if options.needsSubmit { flags |= NodeInfo.needsSubmit }
            if options.timeout != nil { flags |= NodeInfo.hasTimeout }
            self.options[Int32(index)] = options
            do { try options.validate(node: names.display(name, index: index)) }
            catch { problems.append(error) }
        }
        let size = MemoryLayout<Output>.size, alignment = MemoryLayout<Output>.alignment
        let offset = (slotBytes + alignment - 1) & ~(alignment - 1)
        slotBytes = offset + size
        if alignment > slotAlignment { slotAlignment = alignment }
        if slotBytes > Int(Int32.max) || index == Int(Int32.max) {
            problems.append(.invalid("nodes", index, "graph '\(self.name)' is too large: at most \(Int32.max) nodes and 2 GiB of inline output values"))
        }
        info.append(NodeInfo(predEnd: Int32(truncatingIfNeeded: preds.count),
                             inDegree: Int32(truncatingIfNeeded: preds.count - predStart),
                             readers: 0, destroyer: destroyer(for: Output.self),
                             store: store, position: position,
                             offset: Int32(truncatingIfNeeded: offset), flags: flags))
        names.append(name, at: index)
        version &+= 1
        return Node(index: index, graph: id)
    }

    /// `addNode` for the common case, an unnamed node with default
    /// options, inlined where the graph is built: its output's size,
    /// alignment and triviality are constants there.
    @inlinable
    func addPlainNode<Output: Sendable>(output: Output.Type, store: Int32, position: Int32) -> Node<Output> {
        let index = info.count
        let predEnd = preds.count
        let predStart = index == 0 ? 0 : Int(info[index - 1].predEnd)
        let size = MemoryLayout<Output>.size, alignment = MemoryLayout<Output>.alignment
        let offset = (slotBytes + alignment - 1) & ~(alignment - 1)
        slotBytes = offset + size
        if alignment > slotAlignment { slotAlignment = alignment }
        if slotBytes > Int(Int32.max) || index == Int(Int32.max) { tooLarge() }
        let destroyer: Int32 = _isPOD(Output.self) ? -1 : destroyerIndex(for: Output.self)
        info.append(NodeInfo(predEnd: Int32(truncatingIfNeeded: predEnd),
                             inDegree: Int32(truncatingIfNeeded: predEnd - predStart),
                             destroyer: destroyer, store: store, position: position,
                             offset: Int32(truncatingIfNeeded: offset)))
        version &+= 1
        return Node(index: index, graph: id)
    }

    @usableFromInline
    func tooLarge() {
        problems.append(.invalid("nodes", info.count, "graph '\(self.name)' is too large: at most \(Int32.max) nodes and 2 GiB of inline output values"))
    }

    @usableFromInline
    func destroyerIndex<Output>(for type: Output.Type) -> Int32 { destroyer(for: Output.self) }

    /// Adds `count` nodes running positions `0..<count` of `store`, with
    /// the inputs `input` gives them, named `base[i]` (`base[row,column]`
    /// in a grid; unnamed when `base` is nil); returns the first node's
    /// index. `parallel`, `fanOut`, `map` and `wavefront` end here: with
    /// default options the loop does only the per-node appends (types,
    /// sizes and names are worked out once).
    func addFamily<Output: Sendable>(
        _ count: Int, name base: String?, options: NodeOptions, output: Output.Type,
        store: Int32, input: FamilyInput
    ) -> Int {
        let first = info.count
        var columns = 0
        if case .grid(let c) = input { columns = c }
        if !options.isDefault {
            let nameOf = family(base, columns: columns)
            reserveCapacity(nodes: count, inputs: count * input.maximumPerNode)
            for i in 0..<count {
                switch input {
                case .none: break
                case .same(let node): recordInput(at: node)
                case .each(let node): recordInput(at: node(i))
                case .grid(let columns):
                    if i >= columns { recordInput(at: first + i - columns) }
                    if i % columns != 0 { recordInput(at: first + i - 1) }
                }
                let _: Node<Output> = addNode(nameOf(i), options: options, output: Output.self,
                                              store: store, position: Int32(truncatingIfNeeded: i))
            }
            return first
        }
        // The inputs first, then the nodes: the node loop calls nothing
        // opaque, so the appends stay in registers.
        let predStart = first == 0 ? 0 : Int(info[first - 1].predEnd)
        reserveCapacity(nodes: count, inputs: count * input.maximumPerNode)
        switch input {
        case .none: break
        case .same(let node): preds.append(contentsOf: repeatElement(Int32(truncatingIfNeeded: node), count: count))
        case .each(let node): for i in 0..<count { preds.append(Int32(truncatingIfNeeded: node(i))) }
        case .grid(let columns):
            // Above, then left, written in place (no per-edge append).
            let rows = count / columns, start = preds.count
            let edges = 2 * count - rows - columns
            preds.append(contentsOf: repeatElement(0, count: edges))
            preds.withUnsafeMutableBufferPointer { preds in
                var k = start, i = Int32(truncatingIfNeeded: first), width = Int32(truncatingIfNeeded: columns)
                // Wrapping: a grid past Int32.max nodes is reported by tooLarge() below.
                for _ in 1..<max(columns, 1) {   // the first row: left only
                    preds[k] = i
                    k += 1
                    i &+= 1
                }
                i &+= 1
                for _ in 1..<max(rows, 1) {
                    preds[k] = i &- width   // the first column: above only
                    k += 1
                    i &+= 1
                    for _ in 1..<columns {
                        preds[k] = i &- width
                        preds[k + 1] = i &- 1
                        k += 2
                        i &+= 1
                    }
                }
            }
        }
        let size = MemoryLayout<Output>.size, alignment = MemoryLayout<Output>.alignment
        let destroyer = destroyer(for: Output.self)
        var slot = slotBytes, predEnd = predStart, column = 0
        for i in 0..<count {
            let offset = (slot + alignment - 1) & ~(alignment - 1)
            slot = offset + size
            let inputs: Int
            switch input {
            case .none: inputs = 0
            case .same, .each: inputs = 1
            case .grid(let columns):
                inputs = (i >= columns ? 1 : 0) + (column != 0 ? 1 : 0)
                column = column + 1 == columns ? 0 : column + 1
            }
            predEnd += inputs
            info.append(NodeInfo(predEnd: Int32(truncatingIfNeeded: predEnd),
                                 inDegree: Int32(truncatingIfNeeded: inputs),
                                 readers: 0, destroyer: destroyer,
                                 store: store, position: Int32(truncatingIfNeeded: i),
                                 offset: Int32(truncatingIfNeeded: offset), flags: 0))
        }
        if let base { names.appendFamily(group: names.addGroup(base, columns: columns), first: first, count: count) }
        slotBytes = slot
        if alignment > slotAlignment { slotAlignment = alignment }
        if slotBytes > Int(Int32.max) || info.count > Int(Int32.max) { tooLarge() }
        version &+= 1
        return first
    }

    /// Handles of nodes `first ..< first + count` (a family just added).
    func nodes<Output: Sendable>(first: Int, count: Int, output: Output.Type) -> [Node<Output>] {
        let graph = id
        guard count > 0 else { return [] }  // capacity 0 would write the shared empty-array storage
        // Raw stores of the two trivial fields: a typed `initialize` here,
        // in generic code, would look up `Node<Output>`'s metadata per element.
        let stride = MemoryLayout<Node<Output>>.stride
        let indexAt = MemoryLayout<Node<Output>>.offset(of: \Node<Output>.index)!
        let graphAt = MemoryLayout<Node<Output>>.offset(of: \Node<Output>.graph)!
        return [Node<Output>](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
            for i in 0..<count {
                raw.storeBytes(of: first + i, toByteOffset: i * stride + indexAt, as: Int.self)
                raw.storeBytes(of: graph, toByteOffset: i * stride + graphAt, as: UInt64.self)
            }
            initialized = count
        }
    }

    /// `recordInput` for a node index already checked.
    @inline(__always)
    func recordInput(at node: Int) {
        preds.append(Int32(truncatingIfNeeded: node))
    }

    /// Counts the data inputs recorded since the last call into their
    /// nodes' `readers` (done when freezing, in one pass, rather than per
    /// input while building).
    func countInputs() {
        let start = countedInputs
        guard start < preds.count else { return }
        preds.withUnsafeBufferPointer { preds in
            info.withUnsafeMutableBufferPointer { info in
                for k in start..<preds.count {
                    let i = Int(preds[k])
                    info[i].readers &+= 1
                }
            }
        }
        countedInputs = preds.count
    }

    /// The index of the function that destroys an `Output` in its slot;
    /// -1 for trivial types, which need none.
    @inline(__always)
    private func destroyer<Output>(for type: Output.Type) -> Int32 {
        if _isPOD(Output.self) { return -1 }
        let key = ObjectIdentifier(Output.self)
        if key == lastDestroyerType { return lastDestroyerIndex }
        let index: Int32
        if let known = destroyers.firstIndex(where: { $0.type == key }) {
            index = Int32(known)
        } else {
            if destroyers.count == TaskGraph.maxDestroyers {
                problems.append(.invalid("nodes", info.count, "graph '\(name)' has outputs of more than \(TaskGraph.maxDestroyers) types that need releasing (\(Output.self) is one more)"))
                return -1   // the graph does not validate: it never runs
            }
            destroyers.append(Destroyer(type: key) { $0.assumingMemoryBound(to: Output.self).deinitialize(count: 1) })
            index = Int32(destroyers.count - 1)
        }
        lastDestroyerType = key
        lastDestroyerIndex = index
        return index
    }

    /// The most distinct output types with something to release in one
    /// graph (a node record keeps the index in 16 bits).
    static let maxDestroyers = Int(Int16.max)

    /// The input of each node of a family (`addFamily`).
    enum FamilyInput {
        case none               // no input (`parallel`)
        case same(Int)          // all read one node (`fanOut`)
        case each((Int) -> Int) // node i reads node(i) (`map`)
        case grid(columns: Int) // a `wavefront` grid, row by row: node i reads
                                // i - columns (above) and i - 1 (left) when they exist

        var maximumPerNode: Int {
            switch self {
            case .none: 0
            case .same, .each: 1
            case .grid: 2
            }
        }
    }

    /// A name maker for a family of nodes: `base[i]` (`base[row,column]`
    /// for a grid of `columns` columns), or unnamed nodes when `base` is nil.
    func family(_ base: String?, columns: Int = 0) -> (Int) -> NodeName {
        guard let base else { return { _ in .anonymous } }
        let group = names.addGroup(base, columns: columns)
        return { .indexed(group: group, Int32(truncatingIfNeeded: $0)) }
    }

    func problem(_ error: FlowError) {
        problems.append(error)
        version &+= 1
    }

    // MARK: - Ordering without data

    /// Makes `second` run after `first` finished, without passing a value.
    ///
    /// Data edges (`after:`) cannot form a cycle; order-only edges can, and
    /// `validate()` reports the cycle by node names.
    public func order<A, B>(_ first: Node<A>, before second: Node<B>) {
        check(first, "order(_:before:)")
        check(second, "order(_:before:)")
        orderEdges.append(OrderEdge(from: Int32(first.index), to: Int32(second.index)))
        info[second.index].inDegree &+= 1
        version &+= 1
    }

    // MARK: - Validation and freezing

    /// Throws a `FlowError` for a graph that cannot run: a problem recorded
    /// while building (such as `splitEvery` below 2 or invalid node
    /// options), an empty graph, two nodes or families with one name, or a
    /// cycle through order-only edges (`FlowError.cycle` with the names of
    /// the nodes on it, in order).
    public func validate() throws(FlowError) {
        _ = try freeze()
    }

    /// Validates the graph and returns its immutable plan (the same plan
    /// until the graph changes).
    public func freeze() throws(FlowError) -> GraphPlan {
        if let cached, cached.version == version { return cached.plan }
        if let first = problems.first { throw first }
        guard !info.isEmpty else {
            throw .invalid("graph", name, "has no nodes: add one with task(_:after:body:) before running it")
        }
        try checkNames()
        let plan = try GraphPlan(self)
        cached = (version, plan)
        return plan
    }

    private func checkNames() throws(FlowError) {
        var seen = Set<String>()
        var groups = Set<String>()
        for base in names.groups where !groups.insert(base).inserted {
            throw duplicate(base + "[…]")
        }
        for (_, text) in names.explicit {
            if text.isEmpty { throw .invalid("name", "\"\"", "node names in graph '\(self.name)' must not be empty") }
            if !seen.insert(text).inserted { throw duplicate(text) }
            if groups.contains(text) { throw duplicate(text) }
            if text.last == "]", let open = text.lastIndex(of: "["), groups.contains(String(text[..<open])) {
                throw duplicate(text)
            }
        }
    }

    private func duplicate(_ text: String) -> FlowError {
        .invalid("name", "\"\(text)\"", "is used by more than one node of graph '\(name)'; node names must be unique")
    }
}

@available(*, unavailable, message: "TaskGraph is a builder: freeze() it into a Sendable GraphPlan")
extension TaskGraph: Sendable {}
