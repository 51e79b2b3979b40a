import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import ToolSupport
import Signaling
import SignalingClient
import WebRTC

/// `rtc join`: a terminal participant of a room of `rtc signal`, speaking the room
/// application of docs/signaling.md with browsers and other peers.
struct JoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join a room of `rtc signal`: chat with every peer, send and receive files.",
        discussion: """
            Connects to every peer in the room. Each line of stdin is a chat line to all; \
            '/send PATH [PEER]' sends a file (to every peer without PEER); '/peers' lists the \
            peers. End of input leaves the room (after outgoing transfers finish).
            """
    )

    @Option(help: "The signaling server's WebSocket URL, such as ws://127.0.0.1:8080/ws.")
    var signal: String

    @Option(help: "The room to join.")
    var room: String

    @Option(help: "The id to ask for (default: the server assigns one).")
    var peer: String?

    @Option(help: "The admission token, when the server requires one.")
    var token: String?

    @Option(help: "A file to send to each peer once its chat channel opens.")
    var send: String?

    @Option(help: "With --send: only to this peer.")
    var to: String?

    @Option(help: "Save received files in this directory (default: check them and discard).")
    var receive: String?

    @Flag(help: "Print events as JSON lines instead of text.")
    var json = false

    @Option(help: "auto: every non-loopback interface that is up, or loopback if there is none; loopback: only loopback.")
    var addresses: PeerCommand.Addresses = .auto

    func validate() throws {
        if let receive {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: receive, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--receive: \(receive) is not a directory")
            }
        }
        guard to == nil || send != nil else { throw ValidationError("--to needs --send") }
    }

    func run() async throws {
        ignoreBrokenPipes()
        let output = JoinOutput(json: json)
        let fileToSend: (name: String, bytes: [UInt8])?
        if let send {
            let bytes = try failing { () throws(InputError) in try readInput(send, limit: RoomApplication.maximumFileSize) }
            fileToSend = (RoomApplication.safeName(send), bytes)
        } else {
            fileToSend = nil
        }
        let transfers = TransferTracker()
        let roomReference = RoomReference()
        let application = RoomApplication(
            output: output, receiveDirectory: receive.map { URL(fileURLWithPath: $0) },
            onChatOpen: { [to] remote in
                guard let fileToSend, to == nil || to == remote, let peer = roomReference.room?.peer(remote) else { return }
                transfers.start { await Self.send(fileToSend, to: peer, output: output) }
            })
        var configuration = PeerConnectionConfiguration()
        configuration.hostAddresses = addresses == .loopback ? .loopback : defaultHostAddresses()
        let joined: SignalingRoom
        do {
            joined = try await SignalingRoom.join(
                url: signal, room: room, peer: peer, token: token, configuration: configuration
            ) { connection, remote, isOfferer in
                try await application.prepare(connection, remote: remote, isOfferer: isOfferer)
            }
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        roomReference.room = joined
        output.emit(.joined(room: joined.client.room, peer: joined.client.peerID, peers: joined.client.peersPresent))

        let roomEvents = Task {
            for await event in joined.events {
                switch event {
                case .peerAdded(let peer):
                    output.emit(.peerJoined(peer: peer.id))
                    Task { await application.follow(peer) }
                case .peerRemoved(let id):
                    output.emit(.peerLeft(peer: id))
                case .negotiationFailed(let id, let error):
                    output.emit(.note("negotiation with \(id) failed: \(error)"))
                case .serverError(let code, let message):
                    output.emit(.note("server: \(code.rawValue): \(message)"))
                case .message:
                    break
                case .signalingClosed(let code):
                    output.emit(.note("signaling closed (\(code.map(String.init) ?? "no code")); peer connections stay up"))
                }
            }
        }
        for await line in standardInputLines() {
            await command(line, room: joined, application: application, transfers: transfers, output: output)
        }
        await transfers.waitAll()
        // Our own leaving is not news: stop reporting before closing.
        roomEvents.cancel()
        await joined.close()
        output.emit(.left)
    }

    /// One line of stdin.
    private func command(
        _ line: String, room: SignalingRoom, application: RoomApplication, transfers: TransferTracker, output: JoinOutput
    ) async {
        let words = line.split(separator: " ", maxSplits: 2).map(String.init)
        switch words.first {
        case "/peers":
            output.emit(.note("peers with chat open: \(application.chatPeers.joined(separator: ", "))"))
        case "/send":
            guard words.count >= 2 else { return output.emit(.note("usage: /send PATH [PEER]")) }
            let bytes: [UInt8]
            do {
                bytes = try readInput(words[1], limit: RoomApplication.maximumFileSize)
            } catch {
                return output.emit(.note("cannot read \(words[1]): \(error)"))
            }
            let file = (name: RoomApplication.safeName(words[1]), bytes: bytes)
            let targets = words.count > 2 ? [words[2]] : application.chatPeers
            for target in targets {
                guard let peer = room.peer(target) else {
                    output.emit(.note("no peer \(target)"))
                    continue
                }
                transfers.start { await Self.send(file, to: peer, output: output) }
            }
        default:
            guard !line.isEmpty else { return }
            await application.chat(line)
            output.emit(.chat(from: room.client.peerID, text: line))
        }
    }

    private static func send(
        _ file: (name: String, bytes: [UInt8]), to peer: RoomPeer, output: JoinOutput
    ) async {
        let started = ContinuousClock.now
        let verdict = await RoomApplication.sendFile(file.bytes, name: file.name, to: peer)
        output.emit(
            .fileSent(
                to: peer.id, name: file.name, size: file.bytes.count, ok: verdict.ok, error: verdict.error,
                seconds: (ContinuousClock.now - started).seconds))
    }
}

/// The room, once joined, for callbacks created before it exists.
private final class RoomReference: Sendable {
    private let value = NIOLockedValueBox<SignalingRoom?>(nil)
    var room: SignalingRoom? {
        get { value.withLockedValue { $0 } }
        set { value.withLockedValue { $0 = newValue } }
    }
}

/// Outgoing transfers in flight, so that leaving waits for them.
private final class TransferTracker: Sendable {
    private let tasks = NIOLockedValueBox<[Task<Void, Never>]>([])

    func start(_ body: @escaping @Sendable () async -> Void) {
        tasks.withLockedValue { $0.append(Task { await body() }) }
    }

    func waitAll() async {
        for task in tasks.withLockedValue({ $0 }) {
            await task.value
        }
    }
}
