import ICE
import ICETransport
import NIOCore
import SDP
import STUN

/// Records a transport's events (the stream has one consumer: this) and waits for conditions.
actor EventLog {
    private(set) var events: [ICEEvent] = []

    func append(_ event: ICEEvent) {
        events.append(event)
    }

    /// Waits, polling every 10 ms for at most `seconds`, until `predicate` holds for the events so far.
    func wait(for what: String, within seconds: Double = 10, _ predicate: @Sendable ([ICEEvent]) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !predicate(events) {
            guard ContinuousClock.now < deadline else {
                throw TimedOut(what: "\(what); events so far: \(events)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    var localCandidates: [ICECandidate] {
        events.compactMap { if case .localCandidate(let candidate) = $0 { candidate } else { nil } }
    }

    var selectedPair: ICESelectedPair? {
        events.compactMap { if case .selectedPairChanged(let pair) = $0 { pair } else { nil } }.last
    }
}

extension [ICEEvent] {
    /// Whether a pair has been selected.
    var hasSelectedPair: Bool {
        contains { if case .selectedPairChanged = $0 { true } else { false } }
    }

    /// Whether the connection state reached connected (or completed).
    var isConnected: Bool {
        contains { $0 == .connectionStateChanged(.connected) || $0 == .connectionStateChanged(.completed) }
    }

    var gatheringComplete: Bool {
        contains(.gatheringStateChanged(.complete))
    }
}

/// A transport under test: its events, and the application datagrams its DTLS hook received.
struct TestPeer: Sendable {
    let transport: ICETransport
    let log = EventLog()
    let datagrams: Mailbox<ByteBuffer>

    /// Starts a transport on 127.0.0.1 with `role`.
    static func start(
        role: ICERole, stunServers: [TransportAddress] = [], timing: ICETiming = .default, limits: ICELimits = .default
    ) async throws -> TestPeer {
        let datagrams = Mailbox<ByteBuffer>()
        let configuration = ICETransportConfiguration(
            agent: ICEConfiguration(role: role, stunServers: stunServers, timing: timing, limits: limits),
            hostAddresses: .addresses([.v4(IPv4Address(127, 0, 0, 1))]),
            onApplicationData: { datagrams.put($0) })
        let transport = try await ICETransport.start(configuration: configuration, group: testGroup)
        return TestPeer(transport: transport, datagrams: datagrams)
    }

    /// Consumes the events into ``log`` and hands each to `sink` as well.
    func forwardEvents(_ sink: (@Sendable (ICEEvent) async -> Void)? = nil) -> Task<Void, Never> {
        let transport = transport
        let log = log
        return Task {
            for await event in transport.events {
                await log.append(event)
                await sink?(event)
            }
        }
    }

    /// Consumes the events into ``log`` and trickles candidates and end-of-candidates to `peer`
    /// as they come (RFC 8838).
    func trickle(to peer: ICETransport) -> Task<Void, Never> {
        forwardEvents { event in
            switch event {
            case .localCandidate(let candidate):
                try? await peer.addRemoteCandidate(candidate)
            case .gatheringStateChanged(.complete):
                try? await peer.addRemoteEndOfCandidates()
            default:
                break
            }
        }
    }

    /// The next application datagram, waiting at most `seconds`.
    func nextDatagram(within seconds: Double = 5) async throws -> ByteBuffer {
        try await datagrams.take(within: seconds, "an application datagram")
    }
}

/// A payload whose first byte (23, a DTLS application_data record type) is in the DTLS range
/// 20...63, so the receiving demultiplexer (RFC 7983 §7) hands it to the DTLS hook.
func dtlsLikePayload(_ text: String) -> [UInt8] {
    [23] + Array(text.utf8)
}
