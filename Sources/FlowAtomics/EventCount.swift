import Synchronization

// EventCount — a condition variable for lock-free code (Dmitry Vyukov's
// event count; folly::EventCount; Eigen's EventCount).
//
// It lets a thread wait for a condition that other threads make true with
// lock-free operations, without a lost wake-up and without a syscall on the
// notifying side while nobody waits.
//
// Protocol for a waiter:
//     let key = eventCount.prepareWait()   // announce: "I am about to sleep"
//     if conditionHolds() { eventCount.cancelWait(); return }   // re-check
//     eventCount.commitWait(key)           // sleeps unless notified since prepare
// For a notifier: make the condition true (a push, a store), then call
// `notifyOne()` or `notifyAll()`.
//
// Algorithm: one 64-bit word, the high 32 bits an epoch, the low 32 bits
// the number of waiters between prepare and the end of their wait.
// prepareWait adds a waiter and returns the epoch; commitWait sleeps, under
// the lock, while the epoch is unchanged; notify does nothing when there is
// no waiter, else bumps the epoch and signals (one) or broadcasts (all).
//
// Who may call what: any thread. Each prepareWait is followed by exactly
// one cancelWait or commitWait on the same thread.
//
// Orderings and the no-lost-wake-up argument: prepareWait's increment is
// seq_cst and precedes the waiter's re-check of the condition; notify issues
// a seq_cst fence after the notifier made the condition true and before it
// loads the waiter count. By the total order of seq_cst operations, either
// the notifier sees the waiter (and bumps the epoch, so commitWait returns
// or is signalled: the bump happens before taking the lock to signal, and
// commitWait checks the epoch under that lock), or the waiter's re-check
// sees the condition. Epoch wrap-around after 2^32 notifications would need
// a waiter to sleep through all of them with a key of the same value.

/// Lets threads block until lock-free state changes, without lost
/// wake-ups. See the file comment for the protocol.
public final class EventCount: Sendable {
    /// What `prepareWait` hands to `commitWait`.
    public struct Key: Sendable, Equatable {
        fileprivate let epoch: UInt64
    }

    private static let waiterMask: UInt64 = 0xFFFF_FFFF
    private static let epochUnit: UInt64 = 1 << 32

    private let state = Atomic<UInt64>(0)
    private let lock = ConditionLock()

    public init() {}

    /// Announces that the caller is about to wait; re-check the condition
    /// after this, then call `cancelWait()` or `commitWait(_:)`.
    @inline(__always)
    public func prepareWait() -> Key {
        let new = state.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue  // before the re-check
        return Key(epoch: new >> 32)
    }

    /// The condition held after all: leave without sleeping.
    @inline(__always)
    public func cancelWait() {
        state.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Sleeps until a notification that came after `prepareWait`.
    public func commitWait(_ key: Key) {
        lock.lock()
        while state.load(ordering: .sequentiallyConsistent) >> 32 == key.epoch {
            lock.wait()
        }
        lock.unlock()
        state.wrappingSubtract(1, ordering: .sequentiallyConsistent)
    }

    /// Sleeps until a notification after `prepareWait` or until `timeout`;
    /// returns false on timeout.
    @discardableResult
    public func commitWait(_ key: Key, timeout: Duration) -> Bool {
        let deadline = monotonicNanoseconds() &+ timeout.clampedNanoseconds
        var notified = true
        lock.lock()
        while state.load(ordering: .sequentiallyConsistent) >> 32 == key.epoch {
            if !lock.wait(untilNanoseconds: deadline) {
                notified = state.load(ordering: .sequentiallyConsistent) >> 32 != key.epoch
                break
            }
        }
        lock.unlock()
        state.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return notified
    }

    /// Wakes one waiter, if any. Costs a fence and a load when none waits.
    @inline(__always)
    public func notifyOne() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)      // the condition before the waiter count
        if state.load(ordering: .relaxed) & EventCount.waiterMask == 0 { return }
        wake(all: false)
    }

    /// Wakes every waiter.
    @inline(__always)
    public func notifyAll() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if state.load(ordering: .relaxed) & EventCount.waiterMask == 0 { return }
        wake(all: true)
    }

    @inline(never)
    private func wake(all: Bool) {
        state.wrappingAdd(EventCount.epochUnit, ordering: .sequentiallyConsistent)
        lock.lock()
        lock.unlock()
        if all { lock.broadcast() } else { lock.signal() }
    }

    /// Threads between prepareWait and the end of their wait (a snapshot).
    public var waiters: Int { Int(state.load(ordering: .relaxed) & EventCount.waiterMask) }
}
