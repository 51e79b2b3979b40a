import NIOCore
import NIOPosix
import Signaling

/// Why a ``SignalingClient`` call failed.
public struct SignalingClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable, Hashable {
        /// The server could not be reached or the WebSocket handshake failed.
        case connection(String)
        /// The server refused the join (its error code and message).
        case refused(SignalingErrorCode, String)
        /// The server did not answer the join in time.
        case timedOut
        /// The connection is closed.
        case closed
    }

    /// The cause.
    public var reason: Reason

    public var description: String {
        switch reason {
        case .connection(let why): "signaling connection failed: \(why)"
        case .refused(let code, let message): "signaling server refused: \(code.rawValue): \(message)"
        case .timedOut: "signaling server did not answer in time"
        case .closed: "signaling connection is closed"
        }
    }
}

/// What a ``SignalingClient`` reports after joining.
public enum SignalingClientEvent: Sendable, Hashable {
    /// A peer joined the room (it will send an offer: the newcomer offers).
    case peerJoined(String)
    /// A peer left the room.
    case peerLeft(String)
    /// A payload from a peer.
    case relayed(from: String, RelayPayload)
    /// The server reported an error about something we sent.
    case error(SignalingErrorCode, message: String)
    /// The connection closed (with the server's close code, if it sent one); the last event.
    case closed(code: UInt16?)
}

/// A client of the signaling server of docs/signaling.md: joins one room, then sends
/// payloads to peers and reports what arrives.
///
/// ```swift
/// let client = try await SignalingClient.join(url: "ws://127.0.0.1:8080/ws", room: "demo")
/// for peer in client.peersPresent { try await client.send(.message("hello"), to: peer) }
/// for await event in client.events { print(event) }
/// ```
public final class SignalingClient: Sendable {
    /// Our id in the room.
    public let peerID: String
    /// The room joined.
    public let room: String
    /// The peers that were present when we joined, in joining order: we offer to each.
    public let peersPresent: [String]
    /// Everything after the welcome, in order; finishes after ``SignalingClientEvent/closed(code:)``.
    public let events: AsyncStream<SignalingClientEvent>

    private let connection: WebSocketConnection
    /// The reader and the keepalive.
    private let tasks: [Task<Void, Never>]

    private init(
        peerID: String, room: String, peersPresent: [String], events: AsyncStream<SignalingClientEvent>,
        connection: WebSocketConnection, tasks: [Task<Void, Never>]
    ) {
        self.peerID = peerID
        self.room = room
        self.peersPresent = peersPresent
        self.events = events
        self.connection = connection
        self.tasks = tasks
    }

    /// Connects to `url` (`ws://host:port/ws`) and joins `room`, optionally asking for
    /// the id `peer` and presenting an admission `token`.
    public static func join(
        url: String, room: String, peer: String? = nil, token: String? = nil,
        timeout: Duration = .seconds(10), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(SignalingClientError) -> SignalingClient {
        let connection: WebSocketConnection
        do {
            connection = try await WebSocketConnection.connect(to: url, timeout: timeout, group: group)
        } catch {
            throw SignalingClientError(reason: .connection(error.description))
        }
        // One reader for the connection's whole life: the first reply to the join goes to
        // `replies`, everything after it to `events`.
        let (replies, reply) = AsyncStream.makeStream(of: ServerMessage.self)
        let (events, continuation) = AsyncStream.makeStream(of: SignalingClientEvent.self)
        let pump = Task {
            var joined = false
            for await text in connection.messages {
                guard let message = ServerMessage(text: text) else { continue }
                if !joined {
                    guard message.answersJoin else { continue }
                    joined = true
                    reply.yield(message)
                    reply.finish()
                    continue
                }
                switch message {
                case .peerJoined(let peer): continuation.yield(.peerJoined(peer))
                case .peerLeft(let peer): continuation.yield(.peerLeft(peer))
                case .relayed(let from, let payload): continuation.yield(.relayed(from: from, payload))
                case .error(let code, let message, _): continuation.yield(.error(code, message: message))
                case .welcome, .pong: break
                }
            }
            reply.finish()
            continuation.yield(.closed(code: connection.closeCode))
            continuation.finish()
        }
        let deadline = Task {
            try? await Task.sleep(for: timeout)
            reply.finish()
        }
        defer { deadline.cancel() }
        do {
            try await connection.send(ClientMessage.join(room: room, peer: peer, token: token).text)
        } catch {
            await connection.close()
            throw SignalingClientError(reason: .connection(error.description))
        }
        var first = replies.makeAsyncIterator()
        let welcome = await first.next()
        guard case .welcome(let joinedRoom, let peerID, let present)? = welcome else {
            await connection.close()
            await pump.value
            if case .error(let code, let message, _)? = welcome {
                throw SignalingClientError(reason: .refused(code, message))
            }
            throw SignalingClientError(reason: connection.closeCode == nil ? .timedOut : .closed)
        }
        // docs/signaling.md: clients ping every 20 s, well inside the server's idle timeout.
        let keepalive = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(20))
                guard !Task.isCancelled, (try? await connection.send(ClientMessage.ping.text)) != nil else { return }
            }
        }
        return SignalingClient(
            peerID: peerID, room: joinedRoom, peersPresent: present, events: events, connection: connection,
            tasks: [pump, keepalive])
    }

    /// Sends `payload` to the peer `peer` of our room.
    public func send(_ payload: RelayPayload, to peer: String) async throws(SignalingClientError) {
        do {
            try await connection.send(ClientMessage.relay(to: peer, payload).text)
        } catch {
            throw SignalingClientError(reason: .closed)
        }
    }

    /// Leaves the room and closes the connection; ``events`` then finishes.
    public func close() async {
        try? await connection.send(ClientMessage.leave.text)
        await connection.close()
        for task in tasks {
            task.cancel()
            await task.value
        }
    }
}

extension ServerMessage {
    fileprivate var answersJoin: Bool {
        switch self {
        case .welcome, .error: true
        default: false
        }
    }
}
