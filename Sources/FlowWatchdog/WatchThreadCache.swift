#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// WatchThreadCache — per-thread state of the `watch` / `finish` hot path.
//
// What it holds: one recycled token (the last token this thread withdrew
// from an inbox in `finish`), a block of watch ids reserved from a
// process-wide counter, and the last timeout converted to nanoseconds.
//
// Who may call what: only the owning thread touches its record (it is
// reached through a pthread key); the record is freed, and its cached token
// released, by the key's destructor when the thread exits.
//
// Recycling rule (why a cached token may be reused): the cache holds one
// strong reference. `watch` reuses the token only when
// `isKnownUniquelyReferenced` says that reference is the only one: then no
// user, no inbox, no heap and no other thread can reach the token, so
// nobody can observe it changing. (The runtime's release decrements are
// releasing and the uniqueness load is acquiring, so every earlier access
// by a former holder happens before the reuse.) A token is cached only
// after a successful withdrawal in `finish` — it was never seen by the
// monitor — and reused only when it finished without a cancel request, so
// its callback list is empty or closed. Everything reuse rewrites is
// atomic; `name`, `clock` and `inboxSlot` are not rewritten: reuse requires
// them to match. (Weak or unowned references do not count as holders: code
// that keeps only such a reference to a finished token may see it reused.)
//
// Ids: each thread reserves `idBlock` ids at a time with one relaxed
// fetch-add, so ids are unique in the process (hence in every watchdog)
// and increase in watch order on one thread.
struct WatchThreadCache {
    /// The cached token as a raw word holding one retain (0: none); a
    /// word, not an optional reference, so that storing it costs no call.
    var tokenWord: UInt = 0
    var nextID: UInt64 = 0
    var endID: UInt64 = 0
    var lastTimeout: Int128 = 0  // in attoseconds (Duration's == is not inlined)
    var lastTimeoutNanoseconds: UInt64 = 0
    /// Pushes by this thread (for `WatchdogCore.drainEvery`).
    var pushes: UInt64 = 0
    /// Where `watch` reads the clock into.
    var scratch = timespec()

    static let idBlock: UInt64 = 1024
    private static let idCounter = Atomic<UInt64>(0)

    /// Takes the cached token out (the caller owns its retain), if any.
    @inline(__always)
    mutating func takeToken() -> WatchToken? {
        let word = tokenWord
        guard word != 0 else { return nil }
        tokenWord = 0
        return Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: word)!).takeRetainedValue()
    }

    /// Caches `token`, whose retain `unmanaged` the caller hands over; a
    /// previously cached token is released.
    @inline(__always)
    mutating func store(_ unmanaged: Unmanaged<WatchToken>) {
        let old = tokenWord
        tokenWord = UInt(bitPattern: unmanaged.toOpaque())
        if old != 0 { Unmanaged<WatchToken>.fromOpaque(UnsafeRawPointer(bitPattern: old)!).release() }
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

    /// Counts one push; returns the new count.
    @inline(__always)
    mutating func countPush() -> UInt64 {
        pushes &+= 1
        return pushes
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
            _ = record.pointee.takeToken()  // released here
            record.deinitialize(count: 1)
            record.deallocate()
        }
        precondition(rc == 0, "FlowWatchdog: pthread_key_create failed (\(rc))")
        return key
    }()
}
