#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FlowAtomics
import Synchronization

/// The scale of stress tests: 1 normally, smaller under ThreadSanitizer
/// (the Makefile sets `FLOW_STRESS_SCALE`, for example 0.1), so that the
/// sanitizer pass stays well inside CI's time budget.
public enum StressScale {
    public static let factor: Double = {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        if let raw = getenv("FLOW_STRESS_SCALE"), let value = Double(String(cString: raw)), value > 0 {
            return value
        }
        #endif
        return 1
    }()

    /// `n` scaled down under the sanitizer, never below `minimum`.
    public static func scaled(_ n: Int, minimum: Int = 1) -> Int {
        max(minimum, Int((Double(n) * factor).rounded()))
    }
}

/// Why a stress run failed.
public struct StressFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Runs bodies on many OS threads at once, released together by a start
/// gate, and fails by time limit instead of hanging.
public enum Stress {
    /// Runs `body(thread)` on `threads` threads, all started together; waits
    /// up to `timeout` for all of them. Throws `StressFailure` on timeout
    /// (the stuck threads are left behind: the test has failed anyway).
    public static func run(
        threads: Int,
        timeout: Duration = .seconds(60),
        _ body: @escaping @Sendable (_ thread: Int) -> Void
    ) throws {
        let start = Gate()
        let done = Latch(count: threads)
        var handles: [TestThread] = []
        for t in 0..<threads {
            handles.append(TestThread.spawn {
                start.wait(timeout: .seconds(3600))
                body(t)
                done.countDown()
            })
        }
        start.open()
        guard done.wait(timeout: timeout) else {
            for h in handles { h.detach() }  // they may never return; the test has failed anyway
            throw StressFailure("stress run of \(threads) threads did not finish within \(timeout)")
        }
        for h in handles { h.join() }
    }

    /// Runs `rounds` rounds of `run(threads:)`, calling `check` after each.
    public static func rounds(
        _ rounds: Int,
        threads: Int,
        timeout: Duration = .seconds(60),
        body: @escaping @Sendable (_ round: Int, _ thread: Int) -> Void,
        check: (_ round: Int) throws -> Void = { _ in }
    ) throws {
        for r in 0..<rounds {
            try run(threads: threads, timeout: timeout) { t in body(r, t) }
            try check(r)
        }
    }

    /// Conservation: `received` holds exactly the items of `sent`, each as
    /// many times. Returns a description of the first difference, or nil.
    public static func conservationViolation<T: Hashable>(sent: some Sequence<T>, received: some Sequence<T>) -> String? {
        var counts: [T: Int] = [:]
        var sentCount = 0, receivedCount = 0
        for x in sent { counts[x, default: 0] += 1; sentCount += 1 }
        for x in received { counts[x, default: 0] -= 1; receivedCount += 1 }
        if sentCount != receivedCount {
            return "sent \(sentCount) items, received \(receivedCount)"
        }
        if let bad = counts.first(where: { $0.value != 0 }) {
            return bad.value > 0 ? "item \(bad.key) lost \(bad.value) time(s)" : "item \(bad.key) duplicated \(-bad.value) time(s)"
        }
        return nil
    }
}

/// Collects values from many threads (a mutex-protected array: test-only).
public final class Collector<T: Sendable>: Sendable {
    private let items = Locked<[T]>([])
    public init() {}
    public func append(_ x: T) { items.withLock { $0.append(x) } }
    public func append(contentsOf xs: [T]) { items.withLock { $0.append(contentsOf: xs) } }
    public var values: [T] { items.withLock { $0 } }
    public func removeAll() { items.withLock { $0.removeAll() } }
}

/// Counts the live instances and deinits of the `Tracked` values made with
/// it. Give each test its own counter: tests run in parallel.
public final class DeinitCounter: Sendable {
    public let live = Atomic<Int>(0)
    public let deinits = Atomic<Int>(0)
    public init() {}
    public var liveCount: Int { live.load(ordering: .acquiring) }
    public var deinitCount: Int { deinits.load(ordering: .acquiring) }
}

/// A payload that reports its deinit to a `DeinitCounter`, so tests can
/// check that containers release what they hold exactly once.
public final class Tracked: Sendable {
    public let value: Int
    public let counter: DeinitCounter
    public init(_ value: Int, counter: DeinitCounter) {
        self.value = value
        self.counter = counter
        counter.live.wrappingAdd(1, ordering: .relaxed)
    }
    deinit {
        counter.live.wrappingSubtract(1, ordering: .releasing)
        counter.deinits.wrappingAdd(1, ordering: .releasing)
    }
}

/// Runs an async body, failing with `StressFailure` if it does not finish
/// within `timeout`. The body keeps running in the background on timeout
/// (it cannot be stopped), but the test returns and fails instead of hanging.
public func withTimeLimit<T: Sendable>(
    _ timeout: Duration,
    _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let result = Locked<Result<T, any Error>?>(nil)
    let done = Gate()
    let task = Task {
        let r: Result<T, any Error>
        do { r = .success(try await body()) } catch { r = .failure(error) }
        result.withLock { $0 = r }
        done.open()
    }
    // Wait on a real thread so a hung body that blocks the cooperative pool
    // cannot stop the timer.
    let opened = await withCheckedContinuation { (cont: CheckedContinuation<Bool, Never>) in
        TestThread.detached { cont.resume(returning: done.wait(timeout: timeout)) }
    }
    guard opened else {
        task.cancel()
        throw StressFailure("\(what) did not finish within \(timeout)")
    }
    return try result.withLock { $0! }.get()
}

/// A small deterministic random generator (SplitMix64), so that a failing
/// randomized test reproduces from its seed.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Re-checks `condition` until it holds or `timeout` passes; returns whether
/// it held. For effects that follow a completion on another thread without
/// a hand-off the test can wait on (an executor worker releasing the closure
/// it just ran, say). The short pauses between checks only pace the polling;
/// the condition is what the test waits for.
public func waitUntil(timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        await Task.yield()
        try? await Task.sleep(for: .microseconds(100))
    }
    return true
}
