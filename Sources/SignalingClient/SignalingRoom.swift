import NIOConcurrencyHelpers
import Signaling
import WebRTC

/// One remote peer of a ``SignalingRoom``: a ``PeerConnection`` negotiated with it over
/// the signaling server.
public final class RoomPeer: Sendable {
    /// The remote peer's id in the room.
    public let id: String
    /// The connection to it.
    public let connection: PeerConnection
    /// Whether we sent the offer (we were the newcomer).
    public let isOfferer: Bool
    /// The connection's events; candidates are signaled to the peer before they appear here.
    public let events: AsyncStream<PeerConnectionEvent>

    private let eventSink: AsyncStream<PeerConnectionEvent>.Continuation
    private let forwarding: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    init(id: String, connection: PeerConnection, isOfferer: Bool) {
        self.id = id
        self.connection = connection
        self.isOfferer = isOfferer
        (events, eventSink) = AsyncStream.makeStream(of: PeerConnectionEvent.self)
    }

    /// Starts passing the connection's events on: candidates to the signaling server,
    /// everything to ``events``. Called once our description has been sent, so that the
    /// peer never receives a candidate before the description it belongs to.
    func startForwarding(through client: SignalingClient) {
        let source = connection.events
        let sink = eventSink
        let remote = id
        let task = Task {
            for await event in source {
                switch event {
                case .iceCandidate(let candidate):
                    try? await client.send(
                        .candidate(
                            candidate: candidate.candidate, sdpMid: candidate.sdpMid,
                            sdpMLineIndex: candidate.sdpMLineIndex), to: remote)
                case .endOfCandidates:
                    try? await client.send(.endOfCandidates, to: remote)
                default:
                    break
                }
                sink.yield(event)
            }
            sink.finish()
        }
        forwarding.withLockedValue { $0 = task }
    }

    /// Closes the connection and ends ``events``.
    func close() async {
        await connection.close()
        let task = forwarding.withLockedValue { $0 }
        if let task {
            await task.value
        } else {
            eventSink.finish()
        }
    }
}

/// What a ``SignalingRoom`` reports.
public enum RoomEvent: Sendable {
    /// A connection to a peer was created (negotiation follows; watch ``RoomPeer/events``).
    case peerAdded(RoomPeer)
    /// A peer left, said bye, or its negotiation failed; its connection is closed.
    case peerRemoved(String)
    /// An application payload from a peer, through the server.
    case message(from: String, JSONValue)
    /// Negotiating with a peer failed.
    case negotiationFailed(peer: String, PeerConnectionError)
    /// The server reported an error about something we sent.
    case serverError(SignalingErrorCode, String)
    /// The signaling connection closed; the peer connections stay up. The last event.
    case signalingClosed(code: UInt16?)
}

/// A room of docs/signaling.md with a ``PeerConnection`` to every other peer, negotiated
/// by the newcomer-offers rule with trickled candidates.
///
/// `prepare` runs on each new connection before any offer or answer, which is where the
/// offerer creates its channels (the room application's `chat`, say).
public final class SignalingRoom: Sendable {
    /// The signaling connection.
    public let client: SignalingClient
    /// Peers coming and going, payloads, errors; finishes after ``RoomEvent/signalingClosed(code:)``.
    public let events: AsyncStream<RoomEvent>

    private let peers: NIOLockedValueBox<[String: RoomPeer]>
    private let coordinator: Task<Void, Never>

    private init(
        client: SignalingClient, events: AsyncStream<RoomEvent>, peers: NIOLockedValueBox<[String: RoomPeer]>,
        coordinator: Task<Void, Never>
    ) {
        self.client = client
        self.events = events
        self.peers = peers
        self.coordinator = coordinator
    }

    /// Joins `room` on the server at `url` and connects to every peer there and every peer that joins later.
    public static func join(
        url: String, room: String, peer: String? = nil, token: String? = nil,
        configuration: PeerConnectionConfiguration = PeerConnectionConfiguration(),
        prepare: @escaping @Sendable (_ connection: PeerConnection, _ remote: String, _ isOfferer: Bool) async throws ->
            Void = { _, _, _ in }
    ) async throws(SignalingClientError) -> SignalingRoom {
        let client = try await SignalingClient.join(url: url, room: room, peer: peer, token: token)
        let peers = NIOLockedValueBox<[String: RoomPeer]>([:])
        let (events, sink) = AsyncStream.makeStream(of: RoomEvent.self)
        let negotiator = Negotiator(
            client: client, configuration: configuration, prepare: prepare, peers: peers, sink: sink)
        let coordinator = Task {
            // The newcomer offers to everyone present (docs/signaling.md, "Onboarding").
            for remote in client.peersPresent {
                await negotiator.add(remote, offering: true)
            }
            for await event in client.events {
                await negotiator.handle(event)
            }
            sink.finish()
        }
        return SignalingRoom(client: client, events: events, peers: peers, coordinator: coordinator)
    }

    /// The connection to `peer`, if there is one.
    public func peer(_ id: String) -> RoomPeer? {
        peers.withLockedValue { $0[id] }
    }

    /// Every current connection, by remote id.
    public var currentPeers: [String: RoomPeer] {
        peers.withLockedValue { $0 }
    }

    /// Closes every peer connection and leaves the room.
    public func close() async {
        await client.close()
        await coordinator.value
        for peer in peers.withLockedValue({ state in defer { state = [:] }; return Array(state.values) }) {
            await peer.close()
        }
    }
}

/// The coordinator's side of a room: turns signaling events into offer/answer steps.
/// Only the coordinator task calls it, one event at a time.
private struct Negotiator: Sendable {
    let client: SignalingClient
    let configuration: PeerConnectionConfiguration
    let prepare: @Sendable (PeerConnection, String, Bool) async throws -> Void
    let peers: NIOLockedValueBox<[String: RoomPeer]>
    let sink: AsyncStream<RoomEvent>.Continuation

    func handle(_ event: SignalingClientEvent) async {
        switch event {
        case .peerJoined(let remote):
            await add(remote, offering: false)
        case .peerLeft(let remote):
            await remove(remote)
        case .relayed(let from, let payload):
            await handle(payload, from: from)
        case .error(let code, let message):
            sink.yield(.serverError(code, message))
        case .closed(let code):
            sink.yield(.signalingClosed(code: code))
        }
    }

    /// A connection to `remote`; as the offerer, the offer goes out at once.
    func add(_ remote: String, offering: Bool) async {
        await remove(remote)
        let peer: RoomPeer
        do throws(PeerConnectionError) {
            let connection = try PeerConnection(configuration: configuration)
            peer = RoomPeer(id: remote, connection: connection, isOfferer: offering)
        } catch {
            sink.yield(.negotiationFailed(peer: remote, error))
            return
        }
        peers.withLockedValue { $0[remote] = peer }
        do {
            try await prepare(peer.connection, remote, offering)
        } catch {
            await fail(peer, PeerConnectionError(.invalidParameters("preparing the connection failed: \(error)")))
            return
        }
        sink.yield(.peerAdded(peer))
        guard offering else { return }
        do throws(PeerConnectionError) {
            let offer = try await peer.connection.createOffer()
            try await peer.connection.setLocalDescription(offer)
            try? await client.send(.offer(sdp: offer.sdp), to: remote)
            peer.startForwarding(through: client)
        } catch {
            await fail(peer, error)
        }
    }

    func handle(_ payload: RelayPayload, from remote: String) async {
        if case .message(let data) = payload {
            sink.yield(.message(from: remote, data))
            return
        }
        guard let peer = peers.withLockedValue({ $0[remote] }) else { return }
        do throws(PeerConnectionError) {
            switch payload {
            case .offer(let sdp):
                try await peer.connection.setRemoteDescription(RTCSessionDescription(type: .offer, sdp: sdp))
                let answer = try await peer.connection.createAnswer()
                try await peer.connection.setLocalDescription(answer)
                try? await client.send(.answer(sdp: answer.sdp), to: remote)
                peer.startForwarding(through: client)
            case .answer(let sdp):
                try await peer.connection.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: sdp))
            case .candidate(let candidate, let sdpMid, let sdpMLineIndex):
                // A candidate we cannot use is not fatal (RFC 8838 §4: it is simply not paired).
                try? await peer.connection.addIceCandidate(
                    candidate.isEmpty
                        ? nil
                        : RTCIceCandidate(candidate: candidate, sdpMid: sdpMid ?? "0", sdpMLineIndex: sdpMLineIndex))
            case .endOfCandidates:
                try? await peer.connection.addIceCandidate(nil)
            case .bye:
                await remove(remote)
            case .message:
                break
            }
        } catch {
            await fail(peer, error)
        }
    }

    private func fail(_ peer: RoomPeer, _ error: PeerConnectionError) async {
        sink.yield(.negotiationFailed(peer: peer.id, error))
        await remove(peer.id)
    }

    private func remove(_ remote: String) async {
        guard let peer = peers.withLockedValue({ $0.removeValue(forKey: remote) }) else { return }
        await peer.close()
        sink.yield(.peerRemoved(remote))
    }
}
