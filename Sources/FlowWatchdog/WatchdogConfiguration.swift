extension Watchdog {
    /// How a `Watchdog` behaves. A value type: build one and pass it to
    /// `Watchdog.init(configuration:clock:handler:)`, which validates it.
    ///
    /// ```swift
    /// var configuration = Watchdog.Configuration()
    /// configuration.defaultTimeout = .seconds(60)
    /// configuration.cancelOnTimeout = true
    /// let watchdog = try Watchdog(configuration: configuration)
    /// ```
    public struct Configuration: Sendable, Equatable {
        /// The monitor thread's name (Linux keeps the first 15 bytes).
        public var threadName: String
        /// How many recent events `recentEvents` keeps; at least 1.
        public var eventLogCapacity: Int
        /// The timeout `watch(name:)` uses; positive when set.
        public var defaultTimeout: Duration?
        /// Request cancellation of each activity as it times out, after the
        /// handler saw the event.
        public var cancelOnTimeout: Bool
        /// Request cancellation of every unfinished activity when the global
        /// deadline passes, after the handler saw the event.
        public var cancelAllOnGlobalTimeout: Bool

        /// A configuration with the given values; the defaults suit most runs.
        public init(
            threadName: String = "flow-watchdog",
            eventLogCapacity: Int = 256,
            defaultTimeout: Duration? = nil,
            cancelOnTimeout: Bool = false,
            cancelAllOnGlobalTimeout: Bool = false
        ) {
            self.threadName = threadName
            self.eventLogCapacity = eventLogCapacity
            self.defaultTimeout = defaultTimeout
            self.cancelOnTimeout = cancelOnTimeout
            self.cancelAllOnGlobalTimeout = cancelAllOnGlobalTimeout
        }

        /// Throws `FlowError.invalidArgument` naming the first bad field.
        public func validate() throws(FlowError) {
            guard eventLogCapacity >= 1 else {
                throw .invalid("eventLogCapacity", eventLogCapacity, "must be at least 1")
            }
            if let defaultTimeout, defaultTimeout <= .zero {
                throw .invalid("defaultTimeout", defaultTimeout, "must be positive")
            }
            guard !threadName.isEmpty else {
                throw .invalid("threadName", "\"\"", "must not be empty")
            }
        }
    }
}
