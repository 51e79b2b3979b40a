/// The signaling server's rooms as a state machine without I/O: text in from a
/// connection, actions out (messages to send, connections to close), time as a parameter.
/// The WebSocket server drives one hub; tests and fuzzers drive it directly.
///
/// Every client message costs bounded work: one parse of at most
/// ``SignalingLimits/maxMessageBytes`` and at most one message per peer of one room.
public struct SignalingHub: Sendable {
    /// One client connection, as the driver knows it.
    public struct ConnectionID: Hashable, Sendable, CustomStringConvertible {
        let value: UInt64
        public var description: String { "#\(value)" }
    }

    /// What the driver must do.
    public enum Action: Sendable, Hashable {
        /// Queue `text` for the connection (a connection that was closed in the meantime drops it).
        case send(String, to: ConnectionID)
        /// Close the connection with this WebSocket close code; the hub has forgotten it.
        case close(ConnectionID, code: UInt16)
    }

    /// The hub's settings.
    public struct Configuration: Sendable {
        public var limits: SignalingLimits
        public var admission: Admission
        /// The current Unix time in seconds, for token expiry.
        public var unixTime: @Sendable () -> Int64

        public init(
            limits: SignalingLimits = SignalingLimits(), admission: Admission = .open,
            unixTime: @escaping @Sendable () -> Int64
        ) {
            self.limits = limits
            self.admission = admission
            self.unixTime = unixTime
        }
    }

    private struct Membership: Sendable {
        var room: String
        var peer: String
    }

    private struct Connection: Sendable {
        var lastActivity: ContinuousClock.Instant
        var bucket: TokenBucket
        var consecutiveDrops = 0
        var membership: Membership?
    }

    private let configuration: Configuration
    private var limits: SignalingLimits { configuration.limits }
    private var connections: [ConnectionID: Connection] = [:]
    /// Each room's peers in joining order, with their connections.
    private var rooms: [String: [(peer: String, connection: ConnectionID)]] = [:]
    private var nextConnection: UInt64 = 1

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Rooms with at least one peer.
    public var roomCount: Int { rooms.count }
    /// Peers in all rooms.
    public var peerCount: Int { rooms.values.reduce(0) { $0 + $1.count } }
    /// Open connections, joined or not.
    public var connectionCount: Int { connections.count }

    /// The earliest time at which ``expireIdle(now:)`` has something to do.
    public var nextDeadline: ContinuousClock.Instant? {
        connections.values.map(\.lastActivity).min().map { $0 + limits.idleTimeout }
    }

    /// Registers a new connection.
    public mutating func open(now: ContinuousClock.Instant) -> ConnectionID {
        let id = ConnectionID(value: nextConnection)
        nextConnection += 1
        connections[id] = Connection(
            lastActivity: now, bucket: TokenBucket(rate: limits.messagesPerSecond, capacity: limits.burst, now: now))
        return id
    }

    /// The connection went away (closed by the client or the network): its peer leaves its room.
    public mutating func closed(_ id: ConnectionID) -> [Action] {
        guard let connection = connections.removeValue(forKey: id) else { return [] }
        return leaveRoom(connection.membership, connection: id)
    }

    /// Ends a connection for a reason found outside the hub (a slow consumer, an oversized
    /// or undecodable frame): an error message, then the close.
    public mutating func fail(_ id: ConnectionID, _ code: SignalingErrorCode, message: String) -> [Action] {
        guard connections[id] != nil else { return [] }
        return [.send(ServerMessage.error(code: code, message: message, ref: nil).text, to: id)]
            + forceClose(id, code: code.closeCode ?? 1008)
    }

    /// A binary frame: not part of the protocol.
    public mutating func receiveBinary(from id: ConnectionID, now: ContinuousClock.Instant) -> [Action] {
        guard admitMessage(from: id, now: now) else { return rateLimited(id) }
        return [error(.binaryNotSupported, "messages are JSON text frames", ref: nil, to: id)]
    }

    /// A text message from a connection.
    public mutating func receive(_ text: String, from id: ConnectionID, now: ContinuousClock.Instant) -> [Action] {
        guard connections[id] != nil else { return [] }
        if text.utf8.count > limits.maxMessageBytes {
            return fail(id, .messageTooLarge, message: "messages are limited to \(limits.maxMessageBytes) bytes")
        }
        guard admitMessage(from: id, now: now) else { return rateLimited(id) }
        guard let object = JSONText.object(from: text), let type = object["type"]?.stringValue else {
            return [error(.badJSON, "a message is a JSON object with a string member \"type\"", ref: nil, to: id)]
        }
        switch type {
        case "ping":
            return [.send(ServerMessage.pong.text, to: id)]
        case "join":
            return join(object, from: id)
        case "leave":
            return forceClose(id, code: 1000)
        case _ where RelayPayload.types.contains(type):
            return relay(object, type: type, from: id)
        default:
            return [error(.unknownType, "unknown message type", ref: type, to: id)]
        }
    }

    /// Closes every connection that has been silent for the idle timeout.
    public mutating func expireIdle(now: ContinuousClock.Instant) -> [Action] {
        let expired = connections.filter { now - $0.value.lastActivity >= limits.idleTimeout }.keys
        return expired.sorted { $0.value < $1.value }.flatMap { id in
            fail(id, .idleTimeout, message: "nothing received for \(limits.idleTimeout)")
        }
    }

    /// Closes every connection (the server is stopping).
    public mutating func shutdown() -> [Action] {
        connections.keys.sorted { $0.value < $1.value }.flatMap { id in
            fail(id, .serverShutdown, message: "the server is stopping")
        }
    }

    // MARK: - Messages

    private mutating func join(_ object: [String: JSONValue], from id: ConnectionID) -> [Action] {
        guard connections[id]?.membership == nil else {
            return [error(.alreadyJoined, "this connection has joined a room already", ref: "join", to: id)]
        }
        guard let room = object["room"]?.stringValue, Self.isValidName(room) else {
            return [error(.invalidField, "room: 1 to 64 characters of A-Z a-z 0-9 . _ -", ref: "join", to: id)]
        }
        let requested = object["peer"]?.stringValue
        if object["peer"] != nil && object["peer"] != .null {
            guard let requested, Self.isValidName(requested) else {
                return [error(.invalidField, "peer: 1 to 64 characters of A-Z a-z 0-9 . _ -", ref: "join", to: id)]
            }
        }
        guard configuration.admission.admits(token: object["token"]?.stringValue, room: room, now: configuration.unixTime())
        else {
            return fail(id, .unauthorized, message: "a valid token for this room is required")
        }
        let present = rooms[room] ?? []
        if present.isEmpty && rooms.count >= limits.maxRooms {
            return fail(id, .tooManyRooms, message: "the server holds \(limits.maxRooms) rooms")
        }
        guard present.count < limits.maxPeersPerRoom else {
            return fail(id, .roomFull, message: "room \(room) holds \(limits.maxPeersPerRoom) peers")
        }
        let peer: String
        if let requested {
            guard !present.contains(where: { $0.peer == requested }) else {
                return [error(.peerIDTaken, "peer id \(requested) is in use in this room", ref: "join", to: id)]
            }
            peer = requested
        } else {
            peer = Self.freshPeerID(avoiding: Set(present.map(\.peer)))
        }
        connections[id]?.membership = Membership(room: room, peer: peer)
        rooms[room, default: []].append((peer, id))
        let joined = ServerMessage.peerJoined(peer).text
        return [.send(ServerMessage.welcome(room: room, peer: peer, peers: present.map(\.peer)).text, to: id)]
            + present.map { .send(joined, to: $0.connection) }
    }

    private func relay(_ object: [String: JSONValue], type: String, from id: ConnectionID) -> [Action] {
        guard let membership = connections[id]?.membership else {
            return [error(.notJoined, "join a room first", ref: type, to: id)]
        }
        guard let to = object["to"]?.stringValue else {
            return [error(.invalidField, "to: the id of a peer in your room", ref: type, to: id)]
        }
        guard RelayPayload(object: object) != nil else {
            return [error(.invalidField, "a member of \(type) is missing or malformed", ref: type, to: id)]
        }
        guard let target = rooms[membership.room]?.first(where: { $0.peer == to }) else {
            return [error(.unknownPeer, "no peer \(to) in room \(membership.room)", ref: type, to: id)]
        }
        // Every member survives except `to`; `from` is the server's word, not the sender's.
        var relayed = object
        relayed["to"] = nil
        relayed["from"] = .string(membership.peer)
        return [.send(JSONText.text(of: relayed), to: target.connection)]
    }

    // MARK: - Connections

    /// Takes a token from the connection's bucket and records activity.
    private mutating func admitMessage(from id: ConnectionID, now: ContinuousClock.Instant) -> Bool {
        guard var connection = connections[id] else { return false }
        connection.lastActivity = now
        let admitted = connection.bucket.take(now: now)
        connection.consecutiveDrops = admitted ? 0 : connection.consecutiveDrops + 1
        connections[id] = connection
        return admitted
    }

    /// The answer to a dropped message: one error per run of drops (never an amplifier),
    /// and the close once the run is too long.
    private mutating func rateLimited(_ id: ConnectionID) -> [Action] {
        guard let drops = connections[id]?.consecutiveDrops else { return [] }
        if drops >= limits.maxConsecutiveDrops {
            return fail(id, .rateLimited, message: "\(drops) messages in a row above the rate limit")
        }
        guard drops == 1 else { return [] }
        return [
            error(.rateLimited, "above \(limits.messagesPerSecond) messages per second; message dropped", ref: nil, to: id)
        ]
    }

    private mutating func forceClose(_ id: ConnectionID, code: UInt16) -> [Action] {
        guard let connection = connections.removeValue(forKey: id) else { return [] }
        return [.close(id, code: code)] + leaveRoom(connection.membership, connection: id)
    }

    private mutating func leaveRoom(_ membership: Membership?, connection id: ConnectionID) -> [Action] {
        guard let membership, var members = rooms[membership.room] else { return [] }
        members.removeAll { $0.connection == id }
        rooms[membership.room] = members.isEmpty ? nil : members
        let left = ServerMessage.peerLeft(membership.peer).text
        return members.map { .send(left, to: $0.connection) }
    }

    private func error(_ code: SignalingErrorCode, _ message: String, ref: String?, to id: ConnectionID) -> Action {
        .send(ServerMessage.error(code: code, message: message, ref: ref).text, to: id)
    }

    // MARK: - Names

    /// Room names and peer ids: 1 to 64 characters of `A-Z a-z 0-9 . _ -`.
    public static func isValidName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard (1...64).contains(bytes.count) else { return false }
        return bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    private static func freshPeerID(avoiding taken: Set<String>) -> String {
        while true {
            let candidate = "p-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
            if !taken.contains(candidate) { return candidate }
        }
    }
}
