extension Channel: AsyncSequence {
    /// Iteration never throws: it ends with `nil`.
    public typealias Failure = Never

    /// Receives until the channel is closed and drained (or the task is
    /// cancelled while waiting). Many iterators may run at once on one
    /// channel: each element goes to exactly one of them.
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let channel: Channel

        @inlinable init(channel: Channel) { self.channel = channel }

        /// The next element; `nil` once closed and drained, or when cancelled while waiting.
        @inlinable
        public mutating func next() async -> Element? {
            await channel.receive()
        }

        /// The next element; `nil` once closed and drained, or when cancelled while waiting.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async -> Element? {
            await channel.receive()
        }
    }

    /// An iterator receiving from this channel.
    @inlinable
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(channel: self)
    }
}
