/// Every number that bounds what one client can make the server hold or do
/// (docs/signaling.md, "Limits").
public struct SignalingLimits: Sendable, Hashable {
    /// Largest message accepted, in bytes of UTF-8; a larger one closes the connection (1009).
    public var maxMessageBytes: Int
    /// Sustained messages per second per connection (a token bucket's refill rate).
    public var messagesPerSecond: Double
    /// Messages a connection may send at once above the sustained rate (the bucket's size).
    public var burst: Int
    /// Dropped messages in a row after which a flooding connection is closed.
    public var maxConsecutiveDrops: Int
    /// Peers in one room.
    public var maxPeersPerRoom: Int
    /// Rooms on the server.
    public var maxRooms: Int
    /// A connection from which nothing arrives for this long is closed (1001).
    public var idleTimeout: Duration
    /// Messages queued for one connection before it counts as a slow consumer and is closed.
    public var outboundQueueMessages: Int

    public init(
        maxMessageBytes: Int = 65_536,
        messagesPerSecond: Double = 50,
        burst: Int = 200,
        maxConsecutiveDrops: Int = 100,
        maxPeersPerRoom: Int = 32,
        maxRooms: Int = 1_000,
        idleTimeout: Duration = .seconds(60),
        outboundQueueMessages: Int = 256
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.messagesPerSecond = messagesPerSecond
        self.burst = burst
        self.maxConsecutiveDrops = maxConsecutiveDrops
        self.maxPeersPerRoom = maxPeersPerRoom
        self.maxRooms = maxRooms
        self.idleTimeout = idleTimeout
        self.outboundQueueMessages = outboundQueueMessages
    }
}

/// A token bucket: `capacity` messages at once, refilled at `rate` per second.
package struct TokenBucket: Sendable {
    private var tokens: Double
    private var updated: ContinuousClock.Instant
    private let rate: Double
    private let capacity: Double

    package init(rate: Double, capacity: Int, now: ContinuousClock.Instant) {
        self.rate = rate
        self.capacity = Double(max(1, capacity))
        self.tokens = self.capacity
        self.updated = now
    }

    /// Takes one token if there is one.
    package mutating func take(now: ContinuousClock.Instant) -> Bool {
        let elapsed = now - updated
        if elapsed > .zero {
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            tokens = min(capacity, tokens + seconds * rate)
            updated = now
        }
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
