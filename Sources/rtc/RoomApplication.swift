import Foundation
import NIOConcurrencyHelpers
import Signaling
import SignalingClient
import ToolSupport
import WebRTC

/// The room application of docs/signaling.md over data channels: a `chat` channel per
/// pair (text lines) and a `file` channel per transfer (a JSON header, binary chunks of
/// at most 16 KiB, a JSON verdict from the receiver). `rtc join` is this plus a terminal.
final class RoomApplication: Sendable {
    /// Files above this are refused (the browser page keeps them in memory).
    static let maximumFileSize = 512 << 20
    /// Transfer chunk size: what every browser accepts in one message.
    static let chunkSize = 16_384

    private let output: JoinOutput
    private let receiveDirectory: URL?
    /// Each peer's open `chat` channel.
    private let chats = NIOLockedValueBox<[String: DataChannel]>([:])
    /// Called when a peer's chat channel opens (`--send` starts there).
    private let onChatOpen: @Sendable (String) -> Void

    init(output: JoinOutput, receiveDirectory: URL?, onChatOpen: @escaping @Sendable (String) -> Void) {
        self.output = output
        self.receiveDirectory = receiveDirectory
        self.onChatOpen = onChatOpen
    }

    /// The peers whose chat channel is open.
    var chatPeers: [String] { chats.withLockedValue { Array($0.keys).sorted() } }

    /// The offerer's part of preparing a connection: the `chat` channel, before the offer.
    func prepare(_ connection: PeerConnection, remote: String, isOfferer: Bool) async throws {
        guard isOfferer else { return }
        attachChat(try await connection.createDataChannel("chat"), peer: remote)
    }

    /// Follows one peer's connection until it closes: state changes, the channels it opens.
    func follow(_ peer: RoomPeer) async {
        for await event in peer.events {
            switch event {
            case .connectionStateChanged(let state):
                output.emit(.peerState(peer: peer.id, state: "\(state)"))
            case .dataChannel(let channel) where channel.label == "chat":
                attachChat(channel, peer: peer.id)
            case .dataChannel(let channel) where channel.label == "file":
                Task { await self.receiveFile(on: channel, from: peer.id) }
            default:
                break
            }
        }
        chats.withLockedValue { _ = $0.removeValue(forKey: peer.id) }
    }

    /// Sends a chat line to every peer whose chat channel is open.
    func chat(_ line: String) async {
        for channel in chats.withLockedValue({ Array($0.values) }) {
            try? await channel.send(line)
        }
    }

    private func attachChat(_ channel: DataChannel, peer: String) {
        Task {
            for await event in channel.events {
                if event == .open {
                    chats.withLockedValue { $0[peer] = channel }
                    output.emit(.chatOpen(peer: peer))
                    onChatOpen(peer)
                }
            }
            chats.withLockedValue { if $0[peer] === channel { $0[peer] = nil } }
        }
        Task {
            for await message in channel.messages {
                if case .text(let line) = message { output.emit(.chat(from: peer, text: line)) }
            }
        }
    }

    // MARK: - Files

    /// Sends `bytes` as `name` to `peer` over a new `file` channel; returns the receiver's verdict.
    static func sendFile(_ bytes: [UInt8], name: String, to peer: RoomPeer) async -> (ok: Bool, error: String?) {
        let digest = SHA256Hasher.hex(of: bytes)
        let channel: DataChannel
        do {
            channel = try await peer.connection.createDataChannel("file")
        } catch {
            return (false, "\(error)")
        }
        defer { channel.close() }
        var events = channel.events.makeAsyncIterator()
        guard await events.next() == .open else { return (false, "the file channel did not open") }
        let header = JSONText.text(of: ["name": .string(name), "size": .number(Double(bytes.count)), "sha256": .string(digest)])
        do {
            try await channel.send(header)
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + Self.chunkSize, bytes.count)
                try await channel.send(Array(bytes[offset..<end]))
                offset = end
            }
        } catch {
            return (false, "\(error)")
        }
        for await message in channel.messages {
            guard case .text(let text) = message, let verdict = JSONText.object(from: text) else { continue }
            let ok = verdict["ok"] == .bool(true) && verdict["sha256"]?.stringValue == digest
            return (ok, ok ? nil : verdict["error"]?.stringValue ?? "the receiver's digest differs")
        }
        return (false, "the channel closed before the receiver answered")
    }

    /// Receives one file on a `file` channel the peer opened, checks it, answers with the verdict.
    private func receiveFile(on channel: DataChannel, from peer: String) async {
        var header: (name: String, size: Int, sha256: String)?
        var received = 0
        let hasher = SHA256Hasher()
        var file: FileHandle?
        var path: String?
        defer { try? file?.close() }
        for await message in channel.messages {
            switch (message, header) {
            case (.text(let text), nil):
                guard let object = JSONText.object(from: text), let name = object["name"]?.stringValue,
                    let size = object["size"]?.intValue, let sha256 = object["sha256"]?.stringValue,
                    (0...Self.maximumFileSize).contains(size)
                else {
                    return await answer(channel, ok: false, error: "bad header or file above \(Self.maximumFileSize) bytes")
                }
                header = (Self.safeName(name), size, sha256.lowercased())
                if let directory = receiveDirectory {
                    let target = directory.appendingPathComponent(Self.safeName(name))
                    guard FileManager.default.createFile(atPath: target.path, contents: nil),
                        let handle = FileHandle(forWritingAtPath: target.path)
                    else {
                        return await answer(channel, ok: false, error: "the receiver cannot write the file")
                    }
                    file = handle
                    path = target.path
                }
                output.emit(.fileStarted(from: peer, name: Self.safeName(name), size: size))
            case (.binary(let chunk), let expected?):
                received += chunk.count
                guard received <= expected.size else {
                    return await answer(channel, ok: false, error: "more than \(expected.size) bytes")
                }
                hasher.update(chunk)
                try? file?.write(contentsOf: chunk)
            default:
                return await answer(channel, ok: false, error: "unexpected message")
            }
            if let expected = header, received == expected.size {
                let digest = hasher.finish()
                let ok = digest == expected.sha256
                output.emit(
                    .fileReceived(from: peer, name: expected.name, size: received, sha256: digest, ok: ok, path: path))
                return await answer(channel, ok: ok, sha256: digest, error: ok ? nil : "SHA-256 mismatch")
            }
        }
    }

    private func answer(_ channel: DataChannel, ok: Bool, sha256: String? = nil, error: String? = nil) async {
        var verdict: [String: JSONValue] = ["ok": .bool(ok)]
        if let sha256 { verdict["sha256"] = .string(sha256) }
        if let error { verdict["error"] = .string(error) }
        try? await channel.send(JSONText.text(of: verdict))
    }

    /// The last path component, so a header cannot name a file outside the receive directory.
    static func safeName(_ name: String) -> String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        return last.isEmpty || last == "." || last == ".." ? "file" : last
    }
}
