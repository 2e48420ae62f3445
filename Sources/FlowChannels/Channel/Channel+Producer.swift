extension Channel {
    /// A registered sender: the channel closes when the last producer that
    /// was ever made for it is gone (`finish()` or end of its lifetime).
    ///
    /// Noncopyable, so each handle is exactly one slot. Registration
    /// happens when the handle is created, so create every producer (or
    /// make siblings with `makeSibling()` from a live one) before handing
    /// them to tasks: then no producer that ends early can close the
    /// channel while a sibling is yet to come.
    ///
    /// ```swift
    /// let channel = try Channel<Int>(capacity: 8)
    /// for p in 0..<3 {
    ///     let producer = channel.makeProducer()
    ///     Task { [producer = consume producer] in
    ///         for i in 0..<10 { try await producer.send(p * 100 + i) }
    ///     }   // the last producer to end closes the channel
    /// }
    /// for await x in channel { print(x) }
    /// ```
    public struct Producer: ~Copyable, Sendable {
        /// The channel this producer sends to.
        public let channel: Channel

        init(adopting channel: Channel) { self.channel = channel }

        deinit { channel.releaseProducer() }

        /// Sends through the channel; see `Channel.send(_:)`.
        @inlinable
        public func send(_ element: sending Element) async throws(SendError<Element>) {
            try await channel.send(element)
        }

        /// Sends without suspending; see `Channel.trySend(_:)`.
        @discardableResult
        @inlinable
        public func trySend(_ element: sending Element) -> TrySendResult<Element> {
            channel.trySend(element)
        }

        /// Sends from a plain thread; see `Channel.sendBlocking(_:)`.
        public func sendBlocking(_ element: sending Element) throws(SendError<Element>) {
            try channel.sendBlocking(element)
        }

        /// Registers another producer while this one still holds its slot,
        /// so the channel cannot close in between.
        public func makeSibling() -> Producer { channel.makeProducer() }

        /// Releases this producer's slot now; the last one closes the channel.
        public consuming func finish() {}
    }

    /// Registers a producer slot and returns its handle. The channel closes
    /// when every producer made so far is gone (never before the first one
    /// was made). Making a producer for a closed channel is allowed: its
    /// sends fail with `.closed`.
    public func makeProducer() -> Producer {
        state.withLock { $0.registerProducers(1) }
        return Producer(adopting: self)
    }

    /// Registers `count` slots at once; each must later be adopted by
    /// exactly one `Producer(adopting:)` (used by `Scope.spawnProducers`).
    func registerProducers(_ count: Int) {
        state.withLock { $0.registerProducers(count) }
    }

    func releaseProducer() {
        var wakeups = Wakeups()
        state.withLock { $0.releaseProducer(&wakeups) }
        wakeups.perform()
    }
}
