// Node bodies, kept by kind and type instead of one closure per node.
//
// The obvious way to store a typed body is a type-erased wrapper closure
// per node (`{ run in run.put(try body(run.take(a)), at: index) }`). That
// wrapper is one heap allocation when the graph is built and one release
// when it is torn down — about a third of a small node's whole cost.
// Instead, the builder keeps one `BodyStore` per kind and type of body (a
// one-input `Int -> Int` task, a `parallel` family, …) holding the user's
// closures in a typed array, and a node records (store, position). Running
// a node is one virtual call into its store, which knows the types, reads
// the inputs from the run's slots (the node's data inputs are
// `plan.preds[predRange(node)]`, in `after:` order) and writes the output.
// A family (`parallel`, `fanOut`, `map`) stores its one closure once and
// uses the position as the family index.
//
// The fixed-arity `task` forms are `@inlinable`, so that they are
// specialised in the caller's module: generic code there would look up the
// store's and the closure array's type metadata at run time on every call
// (a hash-table probe costing more than the allocation it replaces).
//
// Sharing: a store is appended to only by the builder (one thread: the
// builder is not Sendable). Freezing takes a `snapshot()` — a new store
// sharing the closures (a frozen `BodyList`, or the array of
// `ErasedBodies` copy-on-write) — so a plan's stores are never mutated,
// and the builder's later appends copy first.

/// Bodies of one kind and type (abstract; see the subclasses below).
@usableFromInline
class BodyStore: @unchecked Sendable {  // mutated only by the builder's thread; plans hold immutable snapshots
    @usableFromInline init() {}

    /// Runs the synchronous body at `position` for node `node` and writes
    /// its output to the node's slot (the caller marks it written).
    func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        preconditionFailure("FlowGraph: not a synchronous body store")
    }

    /// Runs the `async` body at `position` for node `node`.
    func runAsync(_ position: Int32, node: Int, in run: GraphExecution) async throws {
        preconditionFailure("FlowGraph: not an async body store")
    }

    /// A store with the same bodies that later appends to `self` do not change.
    func snapshot() -> BodyStore { preconditionFailure("FlowGraph: snapshot() not implemented") }
}

/// A growable buffer of closures, handed from the builder to its plans
/// without a copy.
///
/// The builder appends; `freeze()` marks the list frozen and gives it to
/// the plan, which reads it at run time through `base` (`Array`'s
/// subscript, called from the generic store classes, is not specialised
/// and looks up the closure type's metadata on every read: a hash-table
/// probe per node). A frozen list is never written again: the builder's
/// next append copies it first (copy on write by flag, only when a graph
/// is changed after it was frozen).
@usableFromInline
final class BodyList<Body>: @unchecked Sendable {  // written by the builder's thread only until frozen, then immutable
    @usableFromInline @exclusivity(unchecked) var base: UnsafeMutablePointer<Body>
    @usableFromInline @exclusivity(unchecked) var count = 0
    @usableFromInline @exclusivity(unchecked) var capacity: Int
    @usableFromInline @exclusivity(unchecked) var isFrozen = false
    /// Destroys `count` bodies at an address: code made where `Body` is
    /// known (the typed stores' `typedDestroy`), cheaper than the generic
    /// `deinitialize`, which calls a value witness per closure. Nil: generic.
    @usableFromInline @exclusivity(unchecked) var destroyElements: (@Sendable (UnsafeMutableRawPointer, Int) -> Void)?

    @usableFromInline init(capacity: Int = 16) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    /// Its own memory (16-aligned, from GraphStorage) once it outgrew the
    /// first small buffer; nil before.
    @exclusivity(unchecked) private var block: GraphStorage.Block?

    /// Room for one more body at the end, counted: the caller initializes
    /// it at once (the builder; never on a frozen list).
    @inlinable
    func appendSlot() -> (slot: UnsafeMutablePointer<Body>, position: Int32) {
        if count == capacity { grow() }
        let slot = base + count
        count &+= 1
        return (slot, Int32(truncatingIfNeeded: count &- 1))
    }

    /// Doubles the buffer. Past GraphStorage's minimum size it takes the
    /// largest kept block, so a list that grew large in the last graph
    /// jumps to that size at once, in pages already faulted in.
    @usableFromInline
    func grow() {
        let stride = MemoryLayout<Body>.stride
        let wanted = 2 * capacity * stride
        let next = wanted >= GraphStorage.minimumBytes
            ? GraphStorage.allocateLargest(atLeast: wanted)
            : GraphStorage.Block(base: .allocate(byteCount: wanted, alignment: 16), bytes: wanted)
        let bigger = next.base.bindMemory(to: Body.self, capacity: next.bytes / stride)
        bigger.moveInitialize(from: base, count: count)
        release()
        block = next
        base = bigger
        capacity = next.bytes / stride
    }

    /// Frees or keeps the current buffer (its elements are gone).
    private func release() {
        if let block { GraphStorage.free(block) } else { base.deallocate() }
    }

    /// A writable copy of a frozen list.
    @usableFromInline
    func copy() -> BodyList<Body> {
        let copy = BodyList(capacity: max(16, 2 * count))
        copy.base.initialize(from: base, count: count)
        copy.count = count
        copy.destroyElements = destroyElements
        return copy
    }

    deinit {
        if let destroyElements { destroyElements(UnsafeMutableRawPointer(base), count) } else { base.deinitialize(count: count) }
        release()
    }
}

/// Type-erased bodies (parameter packs, `fanIn`, `reduce`, `async` nodes):
/// one closure per node.
final class ErasedBodies: BodyStore, @unchecked Sendable {  // see BodyStore
    @exclusivity(unchecked) var bodies: [NodeBody] = []

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        guard case .sync(let body) = bodies[Int(position)] else { preconditionFailure("FlowGraph: async node run as sync") }
        try body(run)
    }

    override func runAsync(_ position: Int32, node: Int, in run: GraphExecution) async throws {
        guard case .async(let body) = bodies[Int(position)] else { preconditionFailure("FlowGraph: sync node run as async") }
        try await body(run)
    }

    override func snapshot() -> BodyStore {
        let copy = ErasedBodies()
        copy.bodies = bodies
        return copy
    }
}

/// What the fixed-arity stores (`Bodies0`, `Bodies1`, `Bodies2`) share:
/// a `BodyList` of the user's closures, appended to without reference
/// counting and destroyed by code specialised for the closure type.
@usableFromInline
protocol ListedBodies: BodyStore {
    associatedtype Body
    var bodies: BodyList<Body> { get set }
}

extension ListedBodies {
    /// Adds `body` to `store`; returns its position. The store and its
    /// list are held by the graph: no retain and release of either per
    /// node, and the body moves in (no retain and release of its context).
    @inlinable
    static func append(_ body: consuming Body, to store: Unmanaged<Self>) -> Int32 {
        let (slot, position) = store._withUnsafeGuaranteedRef { store in
            if store.bodies.isFrozen { store.bodies = store.bodies.copy() }
            return Unmanaged.passUnretained(store.bodies)._withUnsafeGuaranteedRef { $0.appendSlot() }
        }
        slot.initialize(to: body)
        return position
    }

    /// A new list whose bodies are destroyed by code specialised in the caller.
    @inlinable static func typedList() -> BodyList<Body> {
        let list = BodyList<Body>()
        list.destroyElements = { base, count in base.assumingMemoryBound(to: Body.self).deinitialize(count: count) }
        return list
    }
}

/// Synchronous bodies with no input.
@usableFromInline
final class Bodies0<Output: Sendable>: BodyStore, ListedBodies, @unchecked Sendable {  // see BodyStore
    @usableFromInline typealias Body = @Sendable () throws -> Output
    @usableFromInline @exclusivity(unchecked) var bodies: BodyList<Body>

    /// Calls the body at a position and writes its output (made where the
    /// types are known: see `typedInvoke`).
    @usableFromInline typealias Invoke = @Sendable (UnsafeMutableRawPointer, UnsafeMutableRawPointer) throws -> Void
    @usableFromInline let invoke: Invoke

    /// A store of `bodies` (`typedList()` for a new one, or a frozen
    /// list shared by a snapshot).
    @usableFromInline init(invoke: @escaping Invoke, bodies: BodyList<Body>) {
        self.invoke = invoke
        self.bodies = bodies
    }

    /// The `Invoke` of this store's types, specialised in the caller.
    @inlinable static var typedInvoke: Invoke {
        { body, output in
            let f = body.assumingMemoryBound(to: (@Sendable () throws -> Output).self)
            output.initializeMemory(as: Output.self, to: try f.pointee())
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        try invoke(UnsafeMutableRawPointer(bodies.base + Int(position)), run.outputSlot(node))
    }

    override func snapshot() -> BodyStore {
        bodies.isFrozen = true
        return Bodies0<Output>(invoke: invoke, bodies: bodies)
    }
}

/// Synchronous bodies with one input.
@usableFromInline
final class Bodies1<A: Sendable, Output: Sendable>: BodyStore, ListedBodies, @unchecked Sendable {  // see BodyStore
    @usableFromInline typealias Body = @Sendable (A) throws -> Output
    @usableFromInline @exclusivity(unchecked) var bodies: BodyList<Body>

    /// Calls the body at a position with its input (moved out of its slot
    /// when the flag is set, else copied) and writes its output.
    @usableFromInline typealias Invoke = @Sendable (UnsafeMutableRawPointer, UnsafeMutableRawPointer, Bool,
                                                    UnsafeMutableRawPointer) throws -> Void
    @usableFromInline let invoke: Invoke

    /// A store of `bodies` (`typedList()` for a new one, or a frozen
    /// list shared by a snapshot).
    @usableFromInline init(invoke: @escaping Invoke, bodies: BodyList<Body>) {
        self.invoke = invoke
        self.bodies = bodies
    }

    /// The `Invoke` of this store's types, specialised in the caller.
    @inlinable static var typedInvoke: Invoke {
        { body, input, moves, output in
            let f = body.assumingMemoryBound(to: (@Sendable (A) throws -> Output).self)
            let slot = input.assumingMemoryBound(to: A.self)
            output.initializeMemory(as: Output.self, to: try f.pointee(moves ? slot.move() : slot.pointee))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let a = run.input(run.firstInput(of: node))
        defer { if a.shared { run.doneReading(a.node) } }
        try invoke(UnsafeMutableRawPointer(bodies.base + Int(position)), a.slot, a.moves, run.outputSlot(node))
    }

    override func snapshot() -> BodyStore {
        bodies.isFrozen = true
        return Bodies1<A, Output>(invoke: invoke, bodies: bodies)
    }
}

/// Synchronous bodies with two inputs.
@usableFromInline
final class Bodies2<A: Sendable, B: Sendable, Output: Sendable>: BodyStore, ListedBodies, @unchecked Sendable {  // see BodyStore
    @usableFromInline typealias Body = @Sendable (A, B) throws -> Output
    @usableFromInline @exclusivity(unchecked) var bodies: BodyList<Body>

    /// Calls the body at a position with its two inputs (each moved out of
    /// its slot when its flag is set, else copied) and writes its output.
    @usableFromInline typealias Invoke = @Sendable (UnsafeMutableRawPointer, UnsafeMutableRawPointer, Bool,
                                                    UnsafeMutableRawPointer, Bool,
                                                    UnsafeMutableRawPointer) throws -> Void
    @usableFromInline let invoke: Invoke

    /// A store of `bodies` (`typedList()` for a new one, or a frozen
    /// list shared by a snapshot).
    @usableFromInline init(invoke: @escaping Invoke, bodies: BodyList<Body>) {
        self.invoke = invoke
        self.bodies = bodies
    }

    /// The `Invoke` of this store's types, specialised in the caller.
    @inlinable static var typedInvoke: Invoke {
        { body, input0, moves0, input1, moves1, output in
            let f = body.assumingMemoryBound(to: (@Sendable (A, B) throws -> Output).self)
            let slot0 = input0.assumingMemoryBound(to: A.self), slot1 = input1.assumingMemoryBound(to: B.self)
            let a = moves0 ? slot0.move() : slot0.pointee
            output.initializeMemory(as: Output.self, to: try f.pointee(a, moves1 ? slot1.move() : slot1.pointee))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let first = run.firstInput(of: node)
        let a = run.input(first), b = run.input(first + 1)
        defer {
            if a.shared { run.doneReading(a.node) }
            if b.shared { run.doneReading(b.node) }
        }
        try invoke(UnsafeMutableRawPointer(bodies.base + Int(position)), a.slot, a.moves, b.slot, b.moves,
                   run.outputSlot(node))
    }

    override func snapshot() -> BodyStore {
        bodies.isFrozen = true
        return Bodies2<A, B, Output>(invoke: invoke, bodies: bodies)
    }
}

// The family stores below hold the user's one closure inside an `invoke`
// closure made where the family was added (the `@inlinable` builder
// methods), so reading the input and writing the output are specialised
// for the family's types, as for `Bodies1`.

/// One `parallel` family: one closure, called with the family index.
@usableFromInline
final class ParallelBodies: BodyStore, @unchecked Sendable {  // immutable after init
    /// Calls the body with a family index and writes its output.
    @usableFromInline typealias Invoke = @Sendable (Int, UnsafeMutableRawPointer) throws -> Void
    let invoke: Invoke

    @usableFromInline init(invoke: @escaping Invoke) { self.invoke = invoke }

    @inlinable static func invoke<Output>(_ body: @escaping @Sendable (Int) throws -> Output) -> Invoke {
        { i, output in output.initializeMemory(as: Output.self, to: try body(i)) }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        try invoke(Int(position), run.outputSlot(node))
    }

    override func snapshot() -> BodyStore { self }
}

/// One `fanOut` family: one closure, called with the source's value and
/// the family index.
@usableFromInline
final class FanOutBodies: BodyStore, @unchecked Sendable {  // immutable after init
    /// Calls the body with the input (moved out when the flag is set, else
    /// copied) and a family index, and writes its output.
    @usableFromInline typealias Invoke = @Sendable (UnsafeMutableRawPointer, Bool, Int, UnsafeMutableRawPointer) throws -> Void
    let invoke: Invoke

    @usableFromInline init(invoke: @escaping Invoke) { self.invoke = invoke }

    @inlinable static func invoke<Input, Output>(_ body: @escaping @Sendable (Input, Int) throws -> Output) -> Invoke {
        { input, moves, i, output in
            let slot = input.assumingMemoryBound(to: Input.self)
            output.initializeMemory(as: Output.self, to: try body(moves ? slot.move() : slot.pointee, i))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let a = run.input(run.firstInput(of: node))
        defer { if a.shared { run.doneReading(a.node) } }
        try invoke(a.slot, a.moves, Int(position), run.outputSlot(node))
    }

    override func snapshot() -> BodyStore { self }
}

/// One `map` family: one closure, called with the node's one input.
@usableFromInline
final class MapBodies: BodyStore, @unchecked Sendable {  // immutable after init
    /// Calls the body with the input (moved out when the flag is set, else
    /// copied) and writes its output.
    @usableFromInline typealias Invoke = @Sendable (UnsafeMutableRawPointer, Bool, UnsafeMutableRawPointer) throws -> Void
    let invoke: Invoke

    @usableFromInline init(invoke: @escaping Invoke) { self.invoke = invoke }

    @inlinable static func invoke<Input, Output>(_ body: @escaping @Sendable (Input) throws -> Output) -> Invoke {
        { input, moves, output in
            let slot = input.assumingMemoryBound(to: Input.self)
            output.initializeMemory(as: Output.self, to: try body(moves ? slot.move() : slot.pointee))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let a = run.input(run.firstInput(of: node))
        defer { if a.shared { run.doneReading(a.node) } }
        try invoke(a.slot, a.moves, run.outputSlot(node))
    }

    override func snapshot() -> BodyStore { self }
}

/// One `fanIn` node, or every node of one `reduce`: one closure, called
/// with the node's inputs in order.
@usableFromInline
final class FanInBodies: BodyStore, @unchecked Sendable {  // immutable once the builder set `index`
    /// Where one input is and whether its reader moves it out (else copies it).
    @usableFromInline struct InputRef {
        @usableFromInline let slot: UnsafeMutableRawPointer
        @usableFromInline let moves: Bool
        init(slot: UnsafeMutableRawPointer, moves: Bool) { self.slot = slot; self.moves = moves }
    }

    /// Calls the body with the inputs (an array made from the refs) and
    /// writes its output.
    @usableFromInline typealias Invoke = @Sendable (UnsafeBufferPointer<InputRef>, UnsafeMutableRawPointer) throws -> Void
    let invoke: Invoke
    var index: Int32 = -1   // in the builder's stores

    @usableFromInline init(invoke: @escaping Invoke) { self.invoke = invoke }

    @inlinable static func invoke<Input, Output>(_ body: @escaping @Sendable ([Input]) throws -> Output) -> Invoke {
        { refs, output in
            // (No `unsafeUninitializedCapacity: 0`: it writes the count of
            // the shared empty-array storage, a race between threads.)
            let values = refs.isEmpty ? [] : [Input](unsafeUninitializedCapacity: refs.count) { buffer, initialized in
                for k in 0..<refs.count {
                    let slot = refs[k].slot.assumingMemoryBound(to: Input.self)
                    (buffer.baseAddress! + k).initialize(to: refs[k].moves ? slot.move() : slot.pointee)
                }
                initialized = refs.count
            }
            output.initializeMemory(as: Output.self, to: try body(values))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let first = run.firstInput(of: node), count = run.firstInput(of: node + 1) - first
        let refs = UnsafeMutableBufferPointer<InputRef>.allocate(capacity: max(count, 1))
        var shared: [Int] = []
        for k in 0..<count {
            let a = run.input(first + k)
            refs.initializeElement(at: k, to: InputRef(slot: a.slot, moves: a.moves))
            if a.shared { shared.append(a.node) }
        }
        defer {
            for i in shared { run.doneReading(i) }
            refs.deallocate()
        }
        try invoke(UnsafeBufferPointer(rebasing: refs[..<count]), run.outputSlot(node))
    }

    override func snapshot() -> BodyStore { self }
}

/// One `wavefront` grid: one closure, called with the cell's row and
/// column and the values of the cells above and to the left (nil on the
/// first row and column).
@usableFromInline
final class WavefrontBodies: BodyStore, @unchecked Sendable {  // immutable after init
    /// Calls the body for a cell with its inputs (each nil when absent,
    /// else moved out of its slot when its flag is set, else copied) and
    /// writes its output.
    @usableFromInline typealias Invoke = @Sendable (Int, Int, UnsafeMutableRawPointer?, Bool,
                                                    UnsafeMutableRawPointer?, Bool,
                                                    UnsafeMutableRawPointer) throws -> Void
    let invoke: Invoke
    let columns: Int

    @usableFromInline init(columns: Int, invoke: @escaping Invoke) {
        self.columns = max(columns, 1)
        self.invoke = invoke
    }

    @inlinable static func invoke<Output>(
        _ body: @escaping @Sendable (Int, Int, Output?, Output?) throws -> Output
    ) -> Invoke {
        { row, column, above, aboveMoves, left, leftMoves, output in
            var up: Output? = nil
            if let above {
                let slot = above.assumingMemoryBound(to: Output.self)
                up = aboveMoves ? slot.move() : slot.pointee
            }
            var back: Output? = nil
            if let left {
                let slot = left.assumingMemoryBound(to: Output.self)
                back = leftMoves ? slot.move() : slot.pointee
            }
            output.initializeMemory(as: Output.self, to: try body(row, column, up, back))
        }
    }

    override func run(_ position: Int32, node: Int, in run: GraphExecution) throws {
        let row = Int(position) / columns, column = Int(position) - row * columns
        // The data inputs, in the order the builder recorded them: above, then left.
        var k = run.firstInput(of: node)
        let above = row > 0 ? run.input(k) : nil
        if row > 0 { k += 1 }
        let left = column > 0 ? run.input(k) : nil
        defer {
            if let above, above.shared { run.doneReading(above.node) }
            if let left, left.shared { run.doneReading(left.node) }
        }
        try invoke(row, column, above?.slot, above?.moves ?? false, left?.slot, left?.moves ?? false,
                   run.outputSlot(node))
    }

    override func snapshot() -> BodyStore { self }
}
