#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers

/// What `rtc join` reports, as text for a person or as JSON lines (`--json`) for a script.
final class JoinOutput: Sendable {
    enum Event {
        case joined(room: String, peer: String, peers: [String])
        case peerJoined(peer: String)
        case peerState(peer: String, state: String)
        case chatOpen(peer: String)
        case chat(from: String, text: String)
        case fileStarted(from: String, name: String, size: Int)
        case fileReceived(from: String, name: String, size: Int, sha256: String, ok: Bool, path: String?)
        case fileSent(to: String, name: String, size: Int, ok: Bool, error: String?, seconds: Double)
        case peerLeft(peer: String)
        case note(String)
        case left
    }

    private let json: Bool
    private let lock = NIOLock()

    init(json: Bool) {
        self.json = json
    }

    func emit(_ event: Event) {
        let line = (json ? Self.json(event).compact() : Self.text(event)) + "\n"
        lock.withLock { writeFully(STDOUT_FILENO, line) }
    }

    private static func text(_ event: Event) -> String {
        switch event {
        case .joined(let room, let peer, let peers):
            "* joined room \(room) as \(peer); present: \(peers.isEmpty ? "nobody" : peers.joined(separator: ", "))"
        case .peerJoined(let peer): "* \(peer) joined"
        case .peerState(let peer, let state): "* \(peer): \(state)"
        case .chatOpen(let peer): "* chat with \(peer) is open"
        case .chat(let from, let text): "[\(from)] \(text)"
        case .fileStarted(let from, let name, let size): "* receiving \(name) (\(size) bytes) from \(from)"
        case .fileReceived(let from, let name, let size, _, let ok, let path):
            "* received \(name) (\(size) bytes) from \(from): \(ok ? "SHA-256 ok" : "SHA-256 MISMATCH")"
                + (path.map { " -> \($0)" } ?? "")
        case .fileSent(let to, let name, let size, let ok, let error, let seconds):
            "* sent \(name) (\(size) bytes) to \(to) in \(fixed(seconds)) s: \(ok ? "confirmed" : "FAILED: \(error ?? "")")"
        case .peerLeft(let peer): "* \(peer) left"
        case .note(let text): "* \(text)"
        case .left: "* left the room"
        }
    }

    private static func json(_ event: Event) -> JSON {
        switch event {
        case .joined(let room, let peer, let peers):
            .object(["event": .string("joined"), "room": .string(room), "peer": .string(peer), "peers": .array(peers.map(JSON.string))])
        case .peerJoined(let peer): .object(["event": .string("peer-joined"), "peer": .string(peer)])
        case .peerState(let peer, let state): .object(["event": .string("peer-state"), "peer": .string(peer), "state": .string(state)])
        case .chatOpen(let peer): .object(["event": .string("chat-open"), "peer": .string(peer)])
        case .chat(let from, let text): .object(["event": .string("chat"), "from": .string(from), "text": .string(text)])
        case .fileStarted(let from, let name, let size):
            .object(["event": .string("file-started"), "from": .string(from), "name": .string(name), "size": .integer(Int64(size))])
        case .fileReceived(let from, let name, let size, let sha256, let ok, let path):
            .object([
                "event": .string("file-received"), "from": .string(from), "name": .string(name), "size": .integer(Int64(size)),
                "sha256": .string(sha256), "ok": .bool(ok), "path": path.map(JSON.string),
            ])
        case .fileSent(let to, let name, let size, let ok, let error, let seconds):
            .object([
                "event": .string("file-sent"), "to": .string(to), "name": .string(name), "size": .integer(Int64(size)),
                "ok": .bool(ok), "error": error.map(JSON.string), "seconds": .double(seconds),
            ])
        case .peerLeft(let peer): .object(["event": .string("peer-left"), "peer": .string(peer)])
        case .note(let text): .object(["event": .string("note"), "text": .string(text)])
        case .left: .object(["event": .string("left")])
        }
    }
}
