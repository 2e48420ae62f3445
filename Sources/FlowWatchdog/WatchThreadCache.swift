#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// WatchThreadCache — per-thread state of the `watch` hot path.
//
// What it holds: the thread's lanes (WatchLane: one per watchdog it has
// watched on, each holding the thread's recycled tokens), the lane used
// last together with its watchdog's serial number (the fast path compares
// one word), a block of watch ids reserved from a process-wide counter, and
// the last timeout converted to nanoseconds.
//
// Who may call what: only the owning thread touches its record (it is
// reached through a pthread key); at thread exit the key's destructor
// closes the thread's lanes (their tokens go to the watchdogs, which keep
// watching the unfinished ones) and frees the record.
//
// Ids: each thread reserves `idBlock` ids at a time with one relaxed
// fetch-add, so ids are unique in the process (hence in every watchdog)
// and increase in watch order on one thread.
struct WatchThreadCache {
    /// The words of the lane used last (`lanes` holds the lane) and its watchdog's serial.
    var laneBlock: WatchLane.Block?
    var laneSerial: UInt64 = 0
    var lanes: [WatchLane] = []
    var nextID: UInt64 = 0
    var endID: UInt64 = 0
    var lastTimeout: Int128 = 0  // in attoseconds (Duration's == is not inlined)
    var lastTimeoutNanoseconds: UInt64 = 0
    /// Where `watch` reads the clock into.
    var scratch = timespec()

    static let idBlock: UInt64 = 1024
    private static let idCounter = Atomic<UInt64>(0)

    /// The words of this thread's lane in `core` (created and registered on first use).
    @inline(__always)
    mutating func laneBlock(for core: WatchdogCore) -> WatchLane.Block {
        if laneSerial == core.serial, let laneBlock { return laneBlock }
        return lane(for: core).block
    }

    /// This thread's lane in `core` (created and registered on first use).
    @inline(never)
    mutating func lane(for core: WatchdogCore) -> WatchLane {
        if laneSerial == core.serial, let lane = lanes.last(where: { $0.coreSerial == core.serial }) { return lane }
        // Forget the lanes of stopped watchdogs (their tokens are released with the lane).
        lanes.removeAll { $0.detached.load(ordering: .acquiring) }
        let lane: WatchLane
        if let known = lanes.first(where: { $0.coreSerial == core.serial }) {
            lane = known
        } else {
            lane = WatchLane(coreSerial: core.serial)
            core.register(lane)
            lanes.append(lane)
        }
        laneBlock = lane.block
        laneSerial = core.serial
        return lane
    }

    /// `timeout` in nanoseconds (nil when not positive), remembering the
    /// last conversion: callers nearly always pass the same timeout.
    @inline(__always)
    mutating func nanoseconds(of timeout: Duration) -> UInt64? {
        let attoseconds = timeout.attoseconds
        if attoseconds == lastTimeout && attoseconds != 0 { return lastTimeoutNanoseconds }
        guard let ns = timeout.positiveNanoseconds else { return nil }
        lastTimeout = attoseconds
        lastTimeoutNanoseconds = ns
        return ns
    }

    /// The next id of this thread (1, 2, ... within reserved blocks).
    @inline(__always)
    mutating func takeID() -> UInt64 {
        if nextID == endID {
            let base = Self.idCounter.wrappingAdd(Self.idBlock, ordering: .relaxed).oldValue
            nextID = base &+ 1
            endID = base &+ Self.idBlock &+ 1
        }
        defer { nextID &+= 1 }
        return nextID
    }

    /// The calling thread's record, created on first use.
    @inline(__always)
    static var current: UnsafeMutablePointer<WatchThreadCache> { current(key) }

    /// The same, given `key` (cached by the caller).
    @inline(__always)
    static func current(_ key: pthread_key_t) -> UnsafeMutablePointer<WatchThreadCache> {
        if let raw = pthread_getspecific(key) { return raw.assumingMemoryBound(to: WatchThreadCache.self) }
        return create()
    }

    @inline(never)
    private static func create() -> UnsafeMutablePointer<WatchThreadCache> {
        let record = UnsafeMutablePointer<WatchThreadCache>.allocate(capacity: 1)
        record.initialize(to: WatchThreadCache())
        let rc = pthread_setspecific(key, record)
        precondition(rc == 0, "FlowWatchdog: pthread_setspecific failed (\(rc))")
        return record
    }

    static let key: pthread_key_t = {
        var key = pthread_key_t()
        let rc = pthread_key_create(&key) { raw in
            #if canImport(Darwin)
            let record = raw.assumingMemoryBound(to: WatchThreadCache.self)
            #else
            guard let raw else { return }
            let record = raw.assumingMemoryBound(to: WatchThreadCache.self)
            #endif
            for lane in record.pointee.lanes { lane.close() }  // unfinished tokens stay watched
            record.deinitialize(count: 1)
            record.deallocate()
        }
        precondition(rc == 0, "FlowWatchdog: pthread_key_create failed (\(rc))")
        return key
    }()
}
