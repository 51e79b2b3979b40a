/// The signaling server's message handling without I/O: the ``SignalingHub`` plus each
/// connection's outbound queue accounting, which is where a slow consumer is detected.
///
/// The WebSocket server keeps only the I/O (one writer task per connection) and maps each
/// ``Delivery`` onto it; everything that decides what is sent, to whom, and when a connection is
/// dropped happens here, so tests and the fuzzer drive exactly the server's logic.
///
/// Flow control (docs/signaling.md): a connection's writer reports every text it wrote with
/// ``wrote(to:)``. Texts queued and not yet written are bounded by
/// ``SignalingLimits/outboundQueueMessages``; a connection whose queue is full when another text
/// is due is failed as a slow consumer (error, then close). So that a client cannot make *itself*
/// a slow consumer by sending faster than it reads its own answers, the server stops reading a
/// connection while ``mustWaitForWriter(_:)`` is true, that is while half the limit is queued.
public struct SignalingDispatcher: Sendable {
    /// What the driver must do on a connection's WebSocket, in order.
    public enum Delivery: Sendable, Hashable {
        /// Write this text frame (the connection's queue already counts it).
        case text(String, to: SignalingHub.ConnectionID)
        /// Close with this code; nothing more is delivered to the connection afterwards.
        case close(SignalingHub.ConnectionID, code: UInt16)
    }

    /// The rooms and peers.
    public private(set) var hub: SignalingHub
    private let limits: SignalingLimits
    /// Texts delivered and not yet reported written, per open connection.
    private var queued: [SignalingHub.ConnectionID: Int] = [:]

    /// A dispatcher over a new hub with `configuration`.
    public init(configuration: SignalingHub.Configuration) {
        hub = SignalingHub(configuration: configuration)
        limits = configuration.limits
    }

    /// Connections with an outbound queue: opened and not yet closed or disconnected.
    public var connectionCount: Int { queued.count }

    /// Texts queued for `id` and not yet written, or `nil` for an unknown connection.
    public func queuedCount(for id: SignalingHub.ConnectionID) -> Int? {
        queued[id]
    }

    /// The own-queue level at which the server stops reading a connection: half the limit.
    private var ownQueueHighWater: Int { max(1, limits.outboundQueueMessages / 2) }

    /// Registers a new connection with an empty queue.
    public mutating func open(now: ContinuousClock.Instant) -> SignalingHub.ConnectionID {
        let id = hub.open(now: now)
        queued[id] = 0
        return id
    }

    /// Whether the server must stop reading `id` until its writer catches up (see the type's
    /// documentation); `false` for an unknown connection.
    public func mustWaitForWriter(_ id: SignalingHub.ConnectionID) -> Bool {
        queued[id].map { $0 >= ownQueueHighWater } ?? false
    }

    /// The writer of `id` wrote one text. Returns whether a reader paused by
    /// ``mustWaitForWriter(_:)`` may resume. A report for a closed connection, or beyond what
    /// was queued, is ignored.
    public mutating func wrote(to id: SignalingHub.ConnectionID) -> Bool {
        guard let count = queued[id], count > 0 else { return false }
        queued[id] = count - 1
        return count - 1 < ownQueueHighWater
    }

    /// The client or the network closed `id`: its peer leaves its room and the others are told.
    public mutating func disconnected(_ id: SignalingHub.ConnectionID) -> [Delivery] {
        let deliveries = perform { $0.closed(id) }
        queued[id] = nil
        return deliveries
    }

    /// Runs one hub step (``SignalingHub/receive(_:from:now:)``, ``SignalingHub/expireIdle(now:)``,
    /// …) and turns its actions into deliveries: texts to connections that are still open, with
    /// a slow consumer failed through ``SignalingHub/fail(_:_:message:)`` (whose own actions
    /// follow), and closes that end a connection's queue.
    ///
    /// Terminates: each extra action comes from failing a connection, which then has no queue,
    /// so at most one failure per open connection.
    public mutating func perform(_ step: (inout SignalingHub) -> [SignalingHub.Action]) -> [Delivery] {
        var pending = step(&hub)
        var deliveries: [Delivery] = []
        var next = 0
        while next < pending.count {
            let action = pending[next]
            next += 1
            switch action {
            case .send(let text, let id):
                // A connection closed meanwhile drops it (SignalingHub.Action.send).
                guard let count = queued[id] else { continue }
                if count >= limits.outboundQueueMessages {
                    // Failing removes the hub's connection, so this happens once per connection.
                    pending += hub.fail(id, .slowConsumer, message: "\(count) messages unread")
                    continue
                }
                queued[id] = count + 1
                deliveries.append(.text(text, to: id))
            case .close(let id, let code):
                // After the close nothing more goes to this connection.
                guard queued.removeValue(forKey: id) != nil else { continue }
                deliveries.append(.close(id, code: code))
            }
        }
        return deliveries
    }
}
