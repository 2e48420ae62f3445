import FlowAtomics

/// Keeps the large buffers of graphs, plans and runs that are gone, so the
/// next graph reuses them instead of asking the system for new pages.
///
/// Why: a graph of 10^5 nodes uses about 7 MB of tables (node records,
/// edges, the closures' buffers, successor lists, run state). malloc
/// serves blocks that large from fresh pages, and gives them back to the
/// system when they are freed (glibc trims the heap's top, or unmaps). So
/// every graph built after the last one died faulted all its tables in
/// again: about 1,500 page faults, a third of the whole cost per node of
/// building and running a chain. Reusing the buffers takes that away (the
/// C++ runtimes keep node pools for the same reason).
///
/// What is kept: arrays of plain values (node records, edge lists) and raw
/// blocks (closure buffers, run state) of at least `minimumBytes`, up to
/// `TaskGraph.storageCacheLimit` bytes in all (64 MiB by default; 0 keeps
/// nothing). When a buffer does not fit, the largest kept ones go first. A buffer is reused only by one owner at a time: an array comes
/// back emptied through `removeAll(keepingCapacity:)`, which reallocates
/// rather than touch storage another array still shares (copy on write),
/// and a raw block is given back only by its sole owner's deinit.
enum GraphStorage {
    /// Buffers smaller than this are not worth a lock round trip.
    static let minimumBytes = 64 << 10

    struct Block {
        let base: UnsafeMutableRawPointer
        let bytes: Int
    }

    struct Entry {
        let array: Any          // an array of a plain-value type
        let type: ObjectIdentifier
        let address: UnsafeRawPointer
        let bytes: Int
    }

    struct Cache {
        var arrays: [Entry] = []
        var blocks: [Block] = []
        var bytes = 0
        var limit = 64 << 20

        /// Drops entries, largest first, until `more` bytes fit under the limit.
        mutating func makeRoom(_ more: Int, dropped: inout [Block]) -> Bool {
            if more > limit { return false }
            while bytes + more > limit {
                let largestArray = arrays.indices.max { arrays[$0].bytes < arrays[$1].bytes }
                let largestBlock = blocks.indices.max { blocks[$0].bytes < blocks[$1].bytes }
                if let a = largestArray, largestBlock == nil || arrays[a].bytes >= blocks[largestBlock!].bytes {
                    bytes -= arrays.remove(at: a).bytes
                } else if let b = largestBlock {
                    let block = blocks.remove(at: b)
                    bytes -= block.bytes
                    dropped.append(block)
                } else {
                    return false
                }
            }
            return true
        }
    }

    // The cache is touched only under the lock, and a buffer in it belongs
    // to no one else (see the top comment).
    static let cache = Locked(Cache())

    static var limit: Int {
        get { cache.withLock { $0.limit } }
        set {
            var dropped: [Block] = []
            let removed: [Entry] = cache.withLock { cache in
                cache.limit = newValue
                var removed: [Entry] = []
                while cache.bytes > cache.limit {
                    if let entry = cache.arrays.popLast() {
                        cache.bytes -= entry.bytes
                        removed.append(entry)
                    } else if let block = cache.blocks.popLast() {
                        cache.bytes -= block.bytes
                        dropped.append(block)
                    } else {
                        break
                    }
                }
                return removed
            }
            _ = removed   // released here, outside the lock
            for block in dropped { block.base.deallocate() }
        }
    }

    // MARK: - Arrays

    /// An empty array with room for at least `minimumCapacity` elements,
    /// recycled from a graph that is gone, or nil when none is kept.
    static func array<Element>(of _: Element.Type, minimumCapacity: Int) -> [Element]? {
        let bytes = minimumCapacity * MemoryLayout<Element>.stride
        if bytes < minimumBytes { return nil }
        let type = ObjectIdentifier(Element.self)
        var kept: Any? = cache.withLock { cache -> Any? in
            guard let k = smallest(cache.arrays, atLeast: bytes, where: { $0.type == type }, size: \.bytes) else { return nil }
            let entry = cache.arrays.remove(at: k)
            cache.bytes -= entry.bytes
            return entry.array
        }
        guard var array = kept as? [Element] else { return nil }
        // Let go of the cache's reference first: with it, the buffer would
        // not be unique, and `removeAll` would copy it into new pages.
        kept = nil
        array.removeAll(keepingCapacity: true)   // reallocates if another array still shares it
        return array
    }

    /// Keeps `array` (of a plain-value type) for a later graph when it is
    /// large enough and fits under the limit.
    static func recycle<Element>(_ array: [Element]) {
        precondition(_isPOD(Element.self), "GraphStorage keeps arrays of plain values only")
        let bytes = array.capacity * MemoryLayout<Element>.stride
        if bytes < minimumBytes { return }
        guard let address = array.withUnsafeBufferPointer({ $0.baseAddress.map(UnsafeRawPointer.init) }) else { return }
        var dropped: [Block] = []
        cache.withLock { cache in
            if cache.arrays.contains(where: { $0.address == address }) { return }  // kept already (shared)
            guard cache.makeRoom(bytes, dropped: &dropped) else { return }
            cache.arrays.append(Entry(array: array, type: ObjectIdentifier(Element.self), address: address, bytes: bytes))
            cache.bytes += bytes
        }
        for block in dropped { block.base.deallocate() }
    }

    /// The index of the smallest of `items` matching `matches` that holds
    /// at least `bytes`.
    private static func smallest<T>(_ items: [T], atLeast bytes: Int, where matches: (T) -> Bool,
                                    size: KeyPath<T, Int>) -> Int? {
        var best: Int?
        for (k, item) in items.enumerated() where item[keyPath: size] >= bytes && matches(item) {
            if best == nil || item[keyPath: size] < items[best!][keyPath: size] { best = k }
        }
        return best
    }

    // MARK: - Raw blocks

    /// Memory for at least `bytes` bytes, aligned to 16: a kept block (the
    /// smallest that is large enough) or a new one. Returns its real size.
    static func allocate(bytes: Int) -> Block {
        if bytes >= minimumBytes {
            let block: Block? = cache.withLock { cache in
                guard let k = smallest(cache.blocks, atLeast: bytes, where: { _ in true }, size: \.bytes) else { return nil }
                let block = cache.blocks.remove(at: k)
                cache.bytes -= block.bytes
                return block
            }
            if let block { return block }
        }
        return Block(base: .allocate(byteCount: max(bytes, 1), alignment: 16), bytes: max(bytes, 1))
    }

    /// The largest kept block when it holds at least `bytes`, else a new
    /// block of `bytes` (for buffers that grow: start with what is kept).
    static func allocateLargest(atLeast bytes: Int) -> Block {
        let block: Block? = cache.withLock { cache in
            guard let k = cache.blocks.indices.max(by: { cache.blocks[$0].bytes < cache.blocks[$1].bytes }),
                  cache.blocks[k].bytes >= bytes else { return nil }
            let block = cache.blocks.remove(at: k)
            cache.bytes -= block.bytes
            return block
        }
        return block ?? Block(base: .allocate(byteCount: max(bytes, 1), alignment: 16), bytes: max(bytes, 1))
    }

    /// Gives back a block from `allocate` whose contents are deinitialized:
    /// kept when large enough and under the limit, else freed.
    static func free(_ block: Block) {
        if block.bytes >= minimumBytes {
            var dropped: [Block] = []
            let kept = cache.withLock { cache -> Bool in
                guard cache.makeRoom(block.bytes, dropped: &dropped) else { return false }
                cache.blocks.append(block)
                cache.bytes += block.bytes
                return true
            }
            for b in dropped { b.base.deallocate() }
            if kept { return }
        }
        block.base.deallocate()
    }
}

/// A fixed-size table of plain values in GraphStorage memory: a plan's
/// successor lists and counter indices. Written only while the plan is
/// made, read-only after; the plan frees it in its deinit.
struct PlanTable<Element>: @unchecked Sendable {  // immutable once the plan that owns it is made (above)
    let base: UnsafeMutablePointer<Element>
    let count: Int
    private let block: GraphStorage.Block

    init(repeating value: Element, count: Int) {
        precondition(_isPOD(Element.self), "PlanTable holds plain values only")
        block = GraphStorage.allocate(bytes: count * MemoryLayout<Element>.stride)
        base = block.base.bindMemory(to: Element.self, capacity: count)
        base.initialize(repeating: value, count: count)
        self.count = count
    }

    subscript(i: Int) -> Element {
        @inline(__always) get { base[i] }
        @inline(__always) nonmutating set { base[i] = newValue }
    }

    /// Gives the memory back (the owner's deinit).
    func free() { GraphStorage.free(block) }
}

/// The first element of a plan's array for reading without bounds checks
/// while the plan lives (its arrays are constants, so their storage stays
/// put); any aligned address for an empty array, which is never read.
func unsafeBase<Element>(_ array: [Element]) -> UnsafePointer<Element> {
    array.withUnsafeBufferPointer { $0.baseAddress }
        ?? UnsafePointer(bitPattern: MemoryLayout<Element>.alignment)!
}

extension TaskGraph {
    /// The most bytes of large graph buffers Flow keeps, process-wide, for
    /// the next graphs once a graph, plan or run is gone: 64 MiB unless set.
    ///
    /// A graph of 10^5 nodes uses about 7 MB of tables. Taken fresh from
    /// the system for every graph, their pages cost more than building and
    /// running the graph itself; kept, the next graph reuses them. Buffers
    /// under 64 KiB (graphs of a few thousand nodes or fewer) are not kept.
    public static var storageCacheLimit: Int { GraphStorage.limit }

    /// The bytes of graph buffers kept now (see `storageCacheLimit`).
    public static var cachedStorageBytes: Int { GraphStorage.cache.withLock { $0.bytes } }

    /// Sets `storageCacheLimit`; 0 keeps nothing and frees what is kept.
    /// Throws `FlowError.invalidArgument` for a negative `bytes`.
    public static func setStorageCacheLimit(bytes: Int) throws(FlowError) {
        guard bytes >= 0 else { throw .invalid("bytes", bytes, "the storage cache limit must be >= 0") }
        GraphStorage.limit = bytes
    }
}
