/// The messages of docs/signaling.md, as values. Every message is a JSON object with a
/// string member `type`; these types give clients a typed view, while the server relays
/// the JSON objects themselves so that members it does not know survive the trip.

/// What one peer sends another through the server, addressed with `to` and delivered with `from`.
public enum RelayPayload: Sendable, Hashable {
    /// An SDP offer.
    case offer(sdp: String)
    /// An SDP answer.
    case answer(sdp: String)
    /// One trickled ICE candidate line (`candidate:...`); an empty `candidate` means end of candidates.
    case candidate(candidate: String, sdpMid: String?, sdpMLineIndex: Int?)
    /// The sender has sent all its candidates.
    case endOfCandidates
    /// An application payload, any JSON.
    case message(JSONValue)
    /// The sender closes its connection to the receiver.
    case bye

    /// The message types that are relayed.
    public static let types: Set<String> = ["offer", "answer", "candidate", "end-of-candidates", "message", "bye"]

    /// The payload an object carries, or `nil` when its `type` is not a relay type or a
    /// member it needs is missing or of the wrong kind.
    public init?(object: [String: JSONValue]) {
        switch object["type"]?.stringValue {
        case "offer":
            guard let sdp = object["sdp"]?.stringValue else { return nil }
            self = .offer(sdp: sdp)
        case "answer":
            guard let sdp = object["sdp"]?.stringValue else { return nil }
            self = .answer(sdp: sdp)
        case "candidate":
            guard let candidate = object["candidate"]?.stringValue else { return nil }
            self = .candidate(
                candidate: candidate, sdpMid: object["sdpMid"]?.stringValue,
                sdpMLineIndex: object["sdpMLineIndex"]?.intValue)
        case "end-of-candidates":
            self = .endOfCandidates
        case "message":
            guard let data = object["data"] else { return nil }
            self = .message(data)
        case "bye":
            self = .bye
        default:
            return nil
        }
    }

    /// The payload's members, `type` included (without `to` or `from`).
    public var members: [String: JSONValue] {
        switch self {
        case .offer(let sdp): ["type": "offer", "sdp": .string(sdp)]
        case .answer(let sdp): ["type": "answer", "sdp": .string(sdp)]
        case .candidate(let candidate, let sdpMid, let sdpMLineIndex):
            [
                "type": "candidate", "candidate": .string(candidate),
                "sdpMid": sdpMid.map(JSONValue.string) ?? .null,
                "sdpMLineIndex": sdpMLineIndex.map { .number(Double($0)) } ?? .null,
            ]
        case .endOfCandidates: ["type": "end-of-candidates"]
        case .message(let data): ["type": "message", "data": data]
        case .bye: ["type": "bye"]
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .string(value)
    }
}

/// A message from a client to the server.
public enum ClientMessage: Sendable, Hashable {
    /// Enter `room`, optionally asking for an id and presenting an admission token.
    case join(room: String, peer: String?, token: String?)
    /// A payload for the peer `to`.
    case relay(to: String, RelayPayload)
    /// Keeps the connection from idling out; answered with `pong`.
    case ping
    /// Leave the room (the server then closes the connection).
    case leave

    /// The JSON text of the message.
    public var text: String {
        switch self {
        case .join(let room, let peer, let token):
            var members: [String: JSONValue] = ["type": "join", "room": .string(room)]
            if let peer { members["peer"] = .string(peer) }
            if let token { members["token"] = .string(token) }
            return JSONText.text(of: members)
        case .relay(let to, let payload):
            var members = payload.members
            members["to"] = .string(to)
            return JSONText.text(of: members)
        case .ping:
            return JSONText.text(of: ["type": "ping"])
        case .leave:
            return JSONText.text(of: ["type": "leave"])
        }
    }
}

/// A message from the server to a client.
public enum ServerMessage: Sendable, Hashable {
    /// The join succeeded: the room, the id the peer has, and the peers present before it, in joining order.
    case welcome(room: String, peer: String, peers: [String])
    /// Another peer joined the room.
    case peerJoined(String)
    /// A peer left the room.
    case peerLeft(String)
    /// A payload from another peer.
    case relayed(from: String, RelayPayload)
    /// The answer to `ping`.
    case pong
    /// An error; `ref` is the type of the message that caused it, when known.
    case error(code: SignalingErrorCode, message: String, ref: String?)

    /// Parses a message from the server; `nil` for text that is not one.
    public init?(text: String) {
        guard let object = JSONText.object(from: text), let type = object["type"]?.stringValue else { return nil }
        switch type {
        case "welcome":
            guard let room = object["room"]?.stringValue, let peer = object["peer"]?.stringValue,
                case .array(let list) = object["peers"]
            else { return nil }
            self = .welcome(room: room, peer: peer, peers: list.compactMap(\.stringValue))
        case "peer-joined":
            guard let peer = object["peer"]?.stringValue else { return nil }
            self = .peerJoined(peer)
        case "peer-left":
            guard let peer = object["peer"]?.stringValue else { return nil }
            self = .peerLeft(peer)
        case "pong":
            self = .pong
        case "error":
            guard let code = object["code"]?.stringValue.flatMap(SignalingErrorCode.init(rawValue:)) else { return nil }
            self = .error(code: code, message: object["message"]?.stringValue ?? "", ref: object["ref"]?.stringValue)
        default:
            guard let from = object["from"]?.stringValue, let payload = RelayPayload(object: object) else { return nil }
            self = .relayed(from: from, payload)
        }
    }

    /// The JSON text of the message.
    public var text: String {
        switch self {
        case .welcome(let room, let peer, let peers):
            JSONText.text(of: [
                "type": "welcome", "room": .string(room), "peer": .string(peer), "peers": .array(peers.map(JSONValue.string)),
            ])
        case .peerJoined(let peer): JSONText.text(of: ["type": "peer-joined", "peer": .string(peer)])
        case .peerLeft(let peer): JSONText.text(of: ["type": "peer-left", "peer": .string(peer)])
        case .relayed(let from, let payload):
            JSONText.text(of: payload.members.merging(["from": .string(from)]) { _, new in new })
        case .pong: JSONText.text(of: ["type": "pong"])
        case .error(let code, let message, let ref):
            JSONText.text(of: [
                "type": "error", "code": .string(code.rawValue), "message": .string(message),
                "ref": ref.map(JSONValue.string) ?? .null,
            ])
        }
    }
}

/// The error codes of docs/signaling.md.
public enum SignalingErrorCode: String, Sendable, Hashable, CaseIterable {
    case badJSON = "bad-json"
    case unknownType = "unknown-type"
    case invalidField = "invalid-field"
    case notJoined = "not-joined"
    case alreadyJoined = "already-joined"
    case peerIDTaken = "peer-id-taken"
    case unknownPeer = "unknown-peer"
    case binaryNotSupported = "binary-not-supported"
    case rateLimited = "rate-limited"
    case roomFull = "room-full"
    case tooManyRooms = "too-many-rooms"
    case unauthorized = "unauthorized"
    case messageTooLarge = "message-too-large"
    case slowConsumer = "slow-consumer"
    case idleTimeout = "idle-timeout"
    case serverShutdown = "server-shutdown"

    /// The WebSocket close code (RFC 6455 §7.4.1) that follows a fatal error; `nil` when the
    /// connection stays open.
    public var closeCode: UInt16? {
        switch self {
        case .roomFull, .tooManyRooms, .unauthorized, .slowConsumer: 1008  // policy violation
        case .messageTooLarge: 1009  // message too big
        case .idleTimeout, .serverShutdown: 1001  // going away
        default: nil
        }
    }
}
