/// What a channel does with a new element when its buffer is full.
///
/// Every policy except `.suspend` keeps senders moving; the ones that
/// discard an element count it in `ChannelStats.dropped`, so nothing is
/// lost silently.
public enum OverflowPolicy: Sendable, Equatable {
    /// The sender waits until there is room (backpressure). The default.
    case suspend
    /// The new element is discarded (and counted as dropped).
    case dropNewest
    /// The oldest buffered element is discarded (and counted as dropped)
    /// to make room for the new one. With capacity 0 there is nothing
    /// buffered, so the new element is the one dropped.
    case dropOldest
    /// `send` throws `SendError` with reason `.full`, handing the element back.
    case fail
}

/// Why a send did not deliver its element; the element comes back with it.
///
/// ```swift
/// do { try await channel.send(item) }
/// catch { retryLater(error.element) }   // error.reason: .closed, .cancelled or .full
/// ```
public struct SendError<Element: Sendable>: Error, Sendable, CustomStringConvertible {
    /// Why the element was not sent.
    public enum Reason: Sendable, Equatable {
        /// The channel was closed before the element was accepted.
        case closed
        /// The sending task was cancelled while it waited for room.
        case cancelled
        /// The buffer was full and the overflow policy is `.fail`.
        case full
    }

    /// Why the element was not sent.
    public let reason: Reason
    /// The element, handed back to the sender.
    public let element: Element

    /// Creates the error for `element`, refused for `reason`.
    public init(_ reason: Reason, element: Element) {
        self.reason = reason
        self.element = element
    }

    public var description: String {
        switch reason {
        case .closed: return "send failed: channel closed"
        case .cancelled: return "send failed: task cancelled while waiting for room"
        case .full: return "send failed: channel full (overflow policy .fail)"
        }
    }
}

/// The result of `Channel.trySend(_:)`, which never suspends.
public enum TrySendResult<Element: Sendable>: Sendable {
    /// The element was accepted (buffered or handed to a waiting receiver).
    case sent
    /// The overflow policy discarded the new element (`.dropNewest`, or
    /// `.dropOldest` at capacity 0); it is counted in `ChannelStats.dropped`.
    case dropped
    /// There was no room and the policy is `.suspend` or `.fail`: the element is handed back.
    case full(Element)
    /// The channel is closed: the element is handed back.
    case closed(Element)
}

/// A snapshot of a channel's counters.
///
/// Every snapshot has `sent == received + dropped + depth` and
/// `depth <= capacity`. The counters are exact when no operation is in
/// flight; while traffic goes on, a snapshot may count an element that is
/// being received as received a moment early. When nothing is in flight,
/// `suspendedReceivers > 0` only when `depth == 0`. Elements handed back by
/// a failed send are in none of these counters: they were never accepted.
public struct ChannelStats: Sendable, Equatable, CustomStringConvertible {
    /// The buffer capacity (0 for a rendezvous channel).
    public var capacity: Int
    /// Elements accepted by the channel (delivered, buffered or dropped).
    public var sent: Int
    /// Elements delivered to receivers.
    public var received: Int
    /// Elements discarded by the overflow policy.
    public var dropped: Int
    /// Elements buffered now.
    public var depth: Int
    /// Senders waiting for room (or, at capacity 0, for a receiver).
    public var suspendedSenders: Int
    /// Receivers waiting for an element.
    public var suspendedReceivers: Int
    /// Live producer handles.
    public var producers: Int
    /// Whether `close()` was called (or the last producer finished).
    public var isClosed: Bool

    public var description: String {
        "ChannelStats(capacity: \(capacity), sent: \(sent), received: \(received), dropped: \(dropped), "
            + "depth: \(depth), suspendedSenders: \(suspendedSenders), suspendedReceivers: \(suspendedReceivers), "
            + "producers: \(producers), closed: \(isClosed))"
    }
}
