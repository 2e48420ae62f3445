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
            // The slot is adopted here, so it is released when the child's
            // closure goes away even if the body never runs (cancelled
            // while waiting for a concurrency slot).
            let producer = Channel<Element>.Producer(adopting: channel)
            return spawn { [producer = consume producer] in try await body(index, producer) }
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
