import Synchronization

extension Scope {
    /// Spawns `count` producers for `channel`. All `count` producer slots
    /// are registered before any child starts, so the channel closes only
    /// after the last of them ended (however early the first one ends).
    /// Each child gets its index and a borrowed `Channel.Producer`.
    ///
    /// ```swift
    /// scope.spawnProducers(channel, count: 4) { index, producer in
    ///     for i in 0..<1000 { try await producer.send(index * 1000 + i) }
    /// }
    /// ```
    @discardableResult
    public func spawnProducers<Element: Sendable>(
        _ channel: Channel<Element>,
        count: Int,
        _ body: @escaping @Sendable (_ index: Int, _ producer: borrowing Channel<Element>.Producer) async throws -> Void
    ) -> [JoinHandle<Void>] {
        precondition(count >= 0, "Scope.spawnProducers needs count >= 0, got \(count)")
        channel.registerProducers(count)
        return (0..<count).map { index in
            // Each child owns one registered slot. Its body adopts it as a
            // Producer (released when the body returns or throws); a child
            // whose body never runs (cancelled while waiting for a
            // concurrency slot) releases it in `onEnd`. Either way the slot
            // is released before the scope counts the child as ended, so the
            // channel is closed once the scope has joined its producers.
            let slot = ProducerSlot()
            return spawn(onEnd: { if slot.claim() { channel.releaseProducer() } }) {
                guard slot.claim() else { return }
                let producer = Channel<Element>.Producer(adopting: channel)
                try await body(index, producer)
            }
        }
    }

    /// Spawns `count` consumers that receive from `channel` until it is
    /// closed and drained (or the scope is cancelled), calling `body` for
    /// each element.
    @discardableResult
    public func spawnConsumers<Element: Sendable>(
        _ channel: Channel<Element>,
        count: Int,
        _ body: @escaping @Sendable (_ index: Int, _ element: Element) async throws -> Void
    ) -> [JoinHandle<Void>] {
        precondition(count >= 0, "Scope.spawnConsumers needs count >= 0, got \(count)")
        return (0..<count).map { index in
            spawn {
                for await element in channel { try await body(index, element) }
            }
        }
    }
}

/// One registered producer slot of a spawned producer: claimed exactly once,
/// by the body (which adopts it) or by the end hook (which releases it).
/// Lock-free: a single `exchange` decides the winner; any thread may call
/// `claim()`. Ordering: acquiring-and-releasing, so the winner's later
/// release of the slot happens after everything before the loser's claim;
/// the slot count itself is kept under the channel's lock.
final class ProducerSlot: Sendable {
    private let claimed = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool { !claimed.exchange(true, ordering: .acquiringAndReleasing) }
}
