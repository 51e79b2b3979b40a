import Signaling

/// How a node keeps its view (docs/mesh.md, "Membership").
public enum MeshMode: String, Sendable, Hashable, CaseIterable {
    /// Every node links to every other: small groups.
    case full
    /// A view near log2(N) + 1 drawn from a gossiped sample of the overlay: large groups.
    case partial
}

/// Signaling between two nodes, routed through the overlay (docs/mesh.md, "Brokered connections").
public enum MeshSignal: Sendable, Hashable {
    case offer(sdp: String)
    case answer(sdp: String)
    /// A trickled candidate (`candidate-attribute` text, as in W3C `RTCIceCandidate.candidate`).
    case candidate(String, sdpMid: String?, sdpMLineIndex: Int?)
    case endOfCandidates
    /// The target will not link: `connected`, `full` or `glare`.
    case refuse(reason: String)
}

/// The members every routed message carries (docs/mesh.md, "Routing").
struct RoutedHeader: Sendable, Hashable {
    /// The message id: 16 hex digits, fresh per message.
    var id: String
    var from: String
    var to: String
    var ttl: Int
}

/// One message on a link's `mesh` channel (docs/mesh.md, "Messages").
enum MeshMessage: Sendable, Hashable {
    case hello(version: Int, id: String, mode: MeshMode)
    case peers([String])
    case signal(RoutedHeader, conn: String, MeshSignal)
    case broadcast(id: String, from: String, ttl: Int, data: JSONValue)
    case direct(RoutedHeader, data: JSONValue)
    case bye

    /// Why a text is not a message we act on.
    enum ParseError: Error, Sendable, Hashable {
        /// Not a JSON object, or members missing or of the wrong type.
        case malformed
        /// A well-formed message of a type this version does not know.
        case unknownType
    }

    static let version = 1
    static let maxTTL = 64
    static let maxBytes = 65_536
    /// The most ids a `peers` message may list; longer lists are malformed.
    static let maxPeersListed = 64

    init(parsing text: String) throws(ParseError) {
        guard text.utf8.count <= Self.maxBytes, let object = JSONText.object(from: text),
            let type = object["t"]?.stringValue
        else { throw .malformed }
        let fields = Fields(object)
        switch type {
        case "hello":
            guard let version = fields.int("v"), let id = fields.nodeID("id"),
                let mode = fields.string("mode").flatMap(MeshMode.init(rawValue:))
            else { throw .malformed }
            self = .hello(version: version, id: id, mode: mode)
        case "peers":
            guard case .array(let values)? = object["ids"], values.count <= Self.maxPeersListed else { throw .malformed }
            var ids: [String] = []
            for value in values {
                guard let id = value.stringValue, SignalingHub.isValidName(id) else { throw .malformed }
                ids.append(id)
            }
            self = .peers(ids)
        case "signal":
            guard let header = fields.routedHeader(to: true), let conn = fields.messageID("conn"),
                let signal = fields.signal()
            else { throw .malformed }
            self = .signal(header, conn: conn, signal)
        case "bcast":
            guard let header = fields.routedHeader(to: false), let data = object["data"] else { throw .malformed }
            self = .broadcast(id: header.id, from: header.from, ttl: header.ttl, data: data)
        case "direct":
            guard let header = fields.routedHeader(to: true), let data = object["data"] else { throw .malformed }
            self = .direct(header, data: data)
        case "bye":
            self = .bye
        default:
            throw .unknownType
        }
    }

    /// The JSON text sent on the channel.
    var text: String {
        var object: [String: JSONValue]
        switch self {
        case .hello(let version, let id, let mode):
            object = ["t": "hello", "v": .number(Double(version)), "id": .string(id), "mode": .string(mode.rawValue)]
        case .peers(let ids):
            object = ["t": "peers", "ids": .array(ids.map(JSONValue.string))]
        case .signal(let header, let conn, let signal):
            object = header.members(type: "signal")
            object["conn"] = .string(conn)
            signal.add(to: &object)
        case .broadcast(let id, let from, let ttl, let data):
            object = ["t": "bcast", "id": .string(id), "from": .string(from), "ttl": .number(Double(ttl)), "data": data]
        case .direct(let header, let data):
            object = header.members(type: "direct")
            object["data"] = data
        case .bye:
            object = ["t": "bye"]
        }
        return JSONText.text(of: object)
    }
}

extension RoutedHeader {
    fileprivate func members(type: String) -> [String: JSONValue] {
        ["t": .string(type), "id": .string(id), "from": .string(from), "to": .string(to), "ttl": .number(Double(ttl))]
    }
}

extension MeshSignal {
    fileprivate func add(to object: inout [String: JSONValue]) {
        switch self {
        case .offer(let sdp):
            object["kind"] = "offer"
            object["sdp"] = .string(sdp)
        case .answer(let sdp):
            object["kind"] = "answer"
            object["sdp"] = .string(sdp)
        case .candidate(let candidate, let sdpMid, let sdpMLineIndex):
            object["kind"] = "candidate"
            object["candidate"] = .string(candidate)
            object["sdpMid"] = sdpMid.map(JSONValue.string) ?? .null
            object["sdpMLineIndex"] = sdpMLineIndex.map { .number(Double($0)) } ?? .null
        case .endOfCandidates:
            object["kind"] = "end"
        case .refuse(let reason):
            object["kind"] = "refuse"
            object["reason"] = .string(reason)
        }
    }
}

/// Typed reads of a message's members; `nil` for a missing member or a wrong type.
private struct Fields {
    let object: [String: JSONValue]

    init(_ object: [String: JSONValue]) { self.object = object }

    func string(_ key: String) -> String? { object[key]?.stringValue }

    func int(_ key: String) -> Int? { object[key]?.intValue }

    func nodeID(_ key: String) -> String? {
        string(key).flatMap { SignalingHub.isValidName($0) ? $0 : nil }
    }

    /// 1 to 64 printable ASCII characters: we only compare ids, so their form is free
    /// within bounds (docs/mesh.md asks for 16 hex digits when sending).
    func messageID(_ key: String) -> String? {
        guard let id = string(key), (1...64).contains(id.utf8.count),
            id.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        return id
    }

    func routedHeader(to hasTarget: Bool) -> RoutedHeader? {
        guard let id = messageID("id"), let from = nodeID("from"), let ttl = int("ttl"),
            (1...MeshMessage.maxTTL).contains(ttl)
        else { return nil }
        guard hasTarget else { return RoutedHeader(id: id, from: from, to: "", ttl: ttl) }
        guard let to = nodeID("to") else { return nil }
        return RoutedHeader(id: id, from: from, to: to, ttl: ttl)
    }

    func signal() -> MeshSignal? {
        switch string("kind") {
        case "offer": string("sdp").map { .offer(sdp: $0) }
        case "answer": string("sdp").map { .answer(sdp: $0) }
        case "candidate":
            candidate()
        case "end": .endOfCandidates
        case "refuse": .refuse(reason: string("reason") ?? "")
        default: nil
        }
    }

    /// `sdpMid` and `sdpMLineIndex` may be absent or null (W3C `RTCIceCandidateInit`);
    /// present, they must have their types.
    private func candidate() -> MeshSignal? {
        guard let candidate = string("candidate") else { return nil }
        let mid: String?
        switch object["sdpMid"] {
        case nil, .null?: mid = nil
        case .string(let value)?: mid = value
        default: return nil
        }
        let index: Int?
        switch object["sdpMLineIndex"] {
        case nil, .null?: index = nil
        case let value?:
            guard let integer = value.intValue, integer >= 0 else { return nil }
            index = integer
        }
        return .candidate(candidate, sdpMid: mid, sdpMLineIndex: index)
    }
}
