import DTLS
import NIOConcurrencyHelpers
import Signaling
import SignalingClient
import WebRTC

/// A node of the mesh overlay (docs/mesh.md): enters through a signaling server, then links
/// to other nodes through its neighbours, relays their signaling, and carries broadcasts and
/// direct messages. The server may go away once the node is in.
///
/// One task owns the overlay state (``MeshOverlay``, sans-IO) and feeds it everything in
/// order: texts and link changes from the peer connections, the server's relays, the clock
/// and the application's requests.
public final class MeshNode: Sendable {
    /// What the node looks like now.
    public struct Snapshot: Sendable, Hashable {
        /// The neighbours and which side offered each link.
        public var neighbours: [String: MeshDirection] = [:]
        /// Nodes known besides the neighbours.
        public var knownCount = 0
        /// Links being made.
        public var attempts = 0
        /// How many neighbours the membership rules aim for now (docs/mesh.md, "Membership").
        public var targetDegree = 0
        /// Whether the signaling connection is still open.
        public var signalingOpen = false
        /// The overlay's counters.
        public var counters = MeshCounters()
    }

    /// This node's id (its peer id on the signaling server too).
    public let id: String
    /// Neighbours coming and going, broadcasts and direct messages; finishes after ``close()``.
    public let events: AsyncStream<MeshEvent>

    private let inputs: AsyncStream<Input>.Continuation
    private let state: NIOLockedValueBox<Snapshot>
    private let loop: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    /// Everything the loop acts on, in arrival order.
    fileprivate enum Input: Sendable {
        case server(SignalingClientEvent)
        case link(remote: String, serial: Int, LinkReport)
        case tick
        case broadcast(JSONValue, CheckedContinuation<String, Never>)
        case direct(JSONValue, to: String, CheckedContinuation<String, Never>)
        case leaveSignaling(CheckedContinuation<Void, Never>)
        case disconnect(String, CheckedContinuation<Void, Never>)
        case close(graceful: Bool, CheckedContinuation<Void, Never>)
    }

    private init(id: String, events: AsyncStream<MeshEvent>, inputs: AsyncStream<Input>.Continuation, state: NIOLockedValueBox<Snapshot>) {
        self.id = id
        self.events = events
        self.inputs = inputs
        self.state = state
    }

    /// Joins the overlay whose nodes meet in `room` on the signaling server at `url`
    /// (`ws://HOST:PORT/ws`), and links to up to ``MeshConfiguration/entranceNeighbours`` of them.
    ///
    /// - Parameters:
    ///   - id: this node's id (docs/mesh.md); a random one when `nil`.
    ///   - connection: the settings of every peer connection; one certificate is made for all
    ///     of them when it has none.
    public static func join(
        url: String, room: String, id: String? = nil, token: String? = nil,
        configuration: MeshConfiguration = MeshConfiguration(),
        connection: PeerConnectionConfiguration = PeerConnectionConfiguration()
    ) async throws(MeshError) -> MeshNode {
        let nodeID = id ?? "n-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        guard SignalingHub.isValidName(nodeID) else { throw MeshError(.invalidID(nodeID)) }
        var connection = connection
        if connection.certificate == nil {
            do { connection.certificate = try DTLSCertificate.generate() } catch { throw MeshError(.transport("\(error)")) }
        }
        let client: SignalingClient
        do {
            client = try await SignalingClient.join(url: url, room: room, peer: nodeID, token: token)
        } catch {
            throw MeshError(.signaling(error))
        }
        let (events, eventSink) = AsyncStream.makeStream(of: MeshEvent.self)
        let (inputs, inputSink) = AsyncStream.makeStream(of: Input.self)
        let state = NIOLockedValueBox(Snapshot(signalingOpen: true))
        let node = MeshNode(id: nodeID, events: events, inputs: inputSink, state: state)
        let driver = MeshDriver(
            overlay: MeshOverlay(
                id: nodeID, configuration: configuration, seed: UInt64.random(in: 0...UInt64.max), now: .now),
            connection: connection, client: client, inputs: inputSink, events: eventSink, state: state)
        let task = Task {
            await driver.run(inputs: inputs, entrance: client.peersPresent)
        }
        node.loop.withLockedValue { $0 = task }
        return node
    }

    /// The node's neighbours, counters and signaling state.
    public var snapshot: Snapshot { state.withLockedValue { $0 } }

    /// Sends `data` to every node of the overlay; returns the message id.
    @discardableResult
    public func broadcast(_ data: JSONValue) async -> String {
        await withCheckedContinuation { inputs.yield(.broadcast(data, $0)) }
    }

    /// Sends `data` to node `target` through the overlay; returns the message id.
    @discardableResult
    public func send(_ data: JSONValue, to target: String) async -> String {
        await withCheckedContinuation { inputs.yield(.direct(data, to: target, $0)) }
    }

    /// Closes the link to neighbour `remote` (with a `bye`); the membership rules may link again later.
    public func disconnect(from remote: String) async {
        await withCheckedContinuation { inputs.yield(.disconnect(remote, $0)) }
    }

    /// Leaves the signaling server; the overlay goes on without it.
    public func leaveSignaling() async {
        await withCheckedContinuation { inputs.yield(.leaveSignaling($0)) }
    }

    /// Says `bye` to every neighbour, closes every link and the signaling connection.
    public func close() async {
        await stop(graceful: true)
    }

    /// Drops every link without a word, as a crashed node would (for churn tests and `rtc mesh-sim`).
    package func fail() async {
        await stop(graceful: false)
    }

    private func stop(graceful: Bool) async {
        await withCheckedContinuation { continuation in
            if case .terminated = inputs.yield(.close(graceful: graceful, continuation)) { continuation.resume() }
        }
        await loop.withLockedValue { $0 }?.value
    }
}

/// Why joining the mesh failed.
public struct MeshError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable, Hashable {
        /// A node id outside docs/mesh.md's alphabet or length.
        case invalidID(String)
        /// The signaling server could not be joined.
        case signaling(SignalingClientError)
        /// A certificate or connection could not be made.
        case transport(String)
    }

    /// The cause.
    public var reason: Reason

    init(_ reason: Reason) {
        self.reason = reason
    }

    /// A one-line explanation.
    public var description: String {
        switch reason {
        case .invalidID(let id): "invalid node id \"\(id)\": 1 to 64 characters of A-Z a-z 0-9 . _ -"
        case .signaling(let error): "signaling: \(error)"
        case .transport(let why): "transport: \(why)"
        }
    }
}

/// The loop's state: only the loop task touches it.
private final class MeshDriver: @unchecked Sendable {
    private var overlay: MeshOverlay
    private let connection: PeerConnectionConfiguration
    private var client: SignalingClient?
    private var serverOutbox: AsyncStream<(RelayPayload, String)>.Continuation?
    private let inputs: AsyncStream<MeshNode.Input>.Continuation
    private let events: AsyncStream<MeshEvent>.Continuation
    private let state: NIOLockedValueBox<MeshNode.Snapshot>
    private var links: [String: MeshLink] = [:]
    private var nextSerial = 0

    init(
        overlay: MeshOverlay, connection: PeerConnectionConfiguration, client: SignalingClient,
        inputs: AsyncStream<MeshNode.Input>.Continuation, events: AsyncStream<MeshEvent>.Continuation,
        state: NIOLockedValueBox<MeshNode.Snapshot>
    ) {
        self.overlay = overlay
        self.connection = connection
        self.client = client
        self.inputs = inputs
        self.events = events
        self.state = state
    }

    func run(inputs stream: AsyncStream<MeshNode.Input>, entrance: [String]) async {
        guard let client else { return }
        let sink = inputs
        let serverEvents = Task {
            for await event in client.events { sink.yield(.server(event)) }
        }
        let (outgoing, outbox) = AsyncStream.makeStream(of: (RelayPayload, String).self)
        serverOutbox = outbox
        // The server's relays in order, without holding up the loop.
        let serverWriter = Task {
            for await (payload, remote) in outgoing { try? await client.send(payload, to: remote) }
        }
        let interval = overlay.configuration.maintenanceInterval
        let clock = Task {
            while (try? await Task.sleep(for: interval)) != nil { sink.yield(.tick) }
        }
        perform(overlay.enter(present: entrance, now: .now))
        publish()
        for await input in stream {
            if case .close(let graceful, let done) = input {
                clock.cancel()
                await shutdown(graceful: graceful)
                serverEvents.cancel()
                serverWriter.cancel()
                done.resume()
                break
            }
            await handle(input)
            publish()
        }
        inputs.finish()
        events.finish()
    }

    private func handle(_ input: MeshNode.Input) async {
        switch input {
        case .server(let event):
            await handle(event)
        case .link(let remote, let serial, let report):
            guard let link = links[remote], link.serial == serial else { return }
            handle(report, from: link)
        case .tick:
            perform(overlay.tick(now: .now))
        case .broadcast(let data, let done):
            let (id, actions) = overlay.broadcast(data)
            perform(actions)
            done.resume(returning: id)
        case .direct(let data, let target, let done):
            let (id, actions) = overlay.send(data, to: target, now: .now)
            perform(actions)
            done.resume(returning: id)
        case .disconnect(let remote, let done):
            perform(overlay.disconnect(remote, now: .now))
            done.resume()
        case .leaveSignaling(let done):
            await client?.close()
            client = nil
            done.resume()
        case .close:
            break  // handled by the loop
        }
    }

    private func handle(_ report: LinkReport, from link: MeshLink) {
        switch report {
        case .channelOpen:
            perform(overlay.channelOpened(to: link.remote))
        case .text(let text):
            perform(overlay.receive(text, from: link.remote, now: .now))
        case .down:
            drop(link.remote)
            perform(overlay.linkClosed(link.remote, now: .now))
        case .localDescription(let description):
            let sdp = description.sdp
            switch link.path {
            case .server:
                serverOutbox?.yield((description.type == .offer ? .offer(sdp: sdp) : .answer(sdp: sdp), link.remote))
            case .overlay(let conn):
                let signal: MeshSignal = description.type == .offer ? .offer(sdp: sdp) : .answer(sdp: sdp)
                perform(overlay.signal(signal, to: link.remote, conn: conn, now: .now))
            }
        case .localCandidate(let candidate):
            switch link.path {
            case .server:
                serverOutbox?.yield(
                    (candidate.map { .candidate(candidate: $0.candidate, sdpMid: $0.sdpMid, sdpMLineIndex: $0.sdpMLineIndex) }
                        ?? .endOfCandidates, link.remote))
            case .overlay(let conn):
                let signal: MeshSignal =
                    candidate.map { .candidate($0.candidate, sdpMid: $0.sdpMid, sdpMLineIndex: $0.sdpMLineIndex) }
                    ?? .endOfCandidates
                perform(overlay.signal(signal, to: link.remote, conn: conn, now: .now))
            }
        }
    }

    /// The entrance: offers, answers and candidates through the server (docs/signaling.md).
    private func handle(_ event: SignalingClientEvent) async {
        switch event {
        case .relayed(let remote, let payload):
            let link = links[remote].flatMap { $0.path == .server ? $0 : nil }
            switch payload {
            case .offer(let sdp):
                if overlay.admitServerOffer(from: remote, now: .now) {
                    open(remote, path: .server, first: .answer(offer: sdp))
                } else {
                    serverOutbox?.yield((.bye, remote))
                }
            case .answer(let sdp):
                link?.perform(.remoteAnswer(sdp))
            case .candidate(let candidate, let sdpMid, let sdpMLineIndex):
                link?.perform(
                    .remoteCandidate(
                        candidate.isEmpty
                            ? nil : RTCIceCandidate(candidate: candidate, sdpMid: sdpMid, sdpMLineIndex: sdpMLineIndex)))
            case .endOfCandidates:
                link?.perform(.remoteCandidate(nil))
            case .bye:
                if link != nil {
                    drop(remote)
                    perform(overlay.linkClosed(remote, now: .now))
                }
            case .message:
                break
            }
        case .closed:
            client = nil
            serverOutbox?.finish()
            serverOutbox = nil
        case .peerJoined, .peerLeft, .error:
            break
        }
    }

    private func perform(_ actions: [MeshOverlay.Action]) {
        for action in actions {
            switch action {
            case .send(let text, let remote):
                if links[remote]?.send(text) == false { overlay.counters.sendQueueOverflows += 1 }
            case .connect(let remote, let conn):
                open(remote, path: .overlay(conn: conn), first: .offer)
            case .connectThroughServer(let remote):
                open(remote, path: .server, first: .offer)
            case .accept(let remote, let conn, let offer):
                open(remote, path: .overlay(conn: conn), first: .answer(offer: offer))
            case .signal(let remote, let conn, let signal):
                guard let link = links[remote], link.path == .overlay(conn: conn) else { continue }
                switch signal {
                case .answer(let sdp): link.perform(.remoteAnswer(sdp))
                case .candidate(let candidate, let sdpMid, let sdpMLineIndex):
                    link.perform(
                        .remoteCandidate(
                            candidate.isEmpty
                                ? nil : RTCIceCandidate(candidate: candidate, sdpMid: sdpMid, sdpMLineIndex: sdpMLineIndex)))
                case .endOfCandidates: link.perform(.remoteCandidate(nil))
                case .offer, .refuse: break  // the overlay turns these into accept and drop
                }
            case .drop(let remote):
                drop(remote)
            case .event(let event):
                events.yield(event)
            }
        }
    }

    /// Makes a link to `remote` and starts its negotiation with `first`.
    private func open(_ remote: String, path: SignalPath, first: MeshLink.Step) {
        drop(remote)
        let peerConnection: PeerConnection
        do {
            peerConnection = try PeerConnection(configuration: connection)
        } catch {
            perform(overlay.linkClosed(remote, now: .now))
            return
        }
        nextSerial += 1
        let serial = nextSerial
        let sink = inputs
        let link = MeshLink(remote: remote, serial: serial, path: path, connection: peerConnection) { report in
            sink.yield(.link(remote: remote, serial: serial, report))
        }
        links[remote] = link
        link.perform(first)
    }

    /// Forgets the link to `remote` and closes it in the background.
    private func drop(_ remote: String) {
        guard let link = links.removeValue(forKey: remote) else { return }
        Task { await link.close() }
    }

    private func shutdown(graceful: Bool) async {
        if graceful {
            // Courtesy only: a neighbour treats the channel's close the same way.
            let bye = MeshMessage.bye.text
            for link in links.values { _ = link.send(bye) }
        }
        let closing = links.values
        links = [:]
        await withTaskGroup(of: Void.self) { group in
            for link in closing { group.addTask { await link.close() } }
        }
        await client?.close()
        client = nil
        serverOutbox?.finish()
        state.withLockedValue {
            $0.neighbours = [:]
            $0.signalingOpen = false
        }
    }

    private func publish() {
        let snapshot = MeshNode.Snapshot(
            neighbours: overlay.view, knownCount: overlay.knownCount, attempts: overlay.attemptCount,
            targetDegree: overlay.targetDegree,
            signalingOpen: client != nil, counters: overlay.counters)
        state.withLockedValue { $0 = snapshot }
    }
}
