@testable import ICE
import SDP
import STUN
import TestSupport

extension SplitMix64 {
    /// A random duration from zero to `maximum`, in whole milliseconds (jitter, trickle delays).
    mutating func duration(upTo maximum: Duration) -> Duration {
        let ms = Int(maximum.components.seconds * 1000 + maximum.components.attoseconds / 1_000_000_000_000_000)
        return ms > 0 ? .milliseconds(Int(next() % UInt64(ms + 1))) : .zero
    }
}

/// One datagram in flight.
struct Datagram {
    var source: TransportAddress
    var destination: TransportAddress
    var payload: [UInt8]
    var deliverAt: ContinuousClock.Instant
    var sequence: Int

    /// The STUN class, if the payload is a valid STUN message.
    var stunClass: STUNMessageClass? {
        try? STUNMessageView.withParsed(payload) { $0.messageClass }
    }
}

/// Something signalled to a peer (the offer/answer and trickle channel).
enum SignalAction {
    case credentials(ICECredentials)
    case candidate(ICECandidate)
    case endOfCandidates
    /// The peer restarts ICE (RFC 8445 §9) as the answerer would, and signals its new credentials back.
    case restartAndAnswer
}

/// A fake STUN server in the virtual network.
enum STUNServerMode {
    /// Answers with XOR-MAPPED-ADDRESS = `mapped` (or the request's source if `nil`).
    case respond(mapped: TransportAddress?)
    /// Never answers.
    case silent
}

/// An agent with its sockets and everything it emitted.
final class Peer {
    var agent: ICEAgent
    let addresses: [TransportAddress]
    var events: [(time: Duration, event: ICEEvent)] = []

    init(agent: ICEAgent, addresses: [TransportAddress]) {
        self.agent = agent
        self.addresses = addresses
    }

    var connected: Bool { agent.connectionState == .connected || agent.connectionState == .completed }

    func times(of state: ICEConnectionState) -> [Duration] {
        events.compactMap { if case .connectionStateChanged(state) = $0.event { $0.time } else { nil } }
    }

    var emittedEvents: [ICEEvent] { events.map(\.event) }
}

/// A deterministic in-memory network: a virtual clock, datagrams with per-direction loss, delay
/// and jitter, drop rules, fake STUN servers, and a signalling channel. It drives agents exactly
/// like the real driver loop: feed → drain transmits and events → advance to the earliest of the
/// agents' timeouts, deliveries and signals.
final class VirtualNetwork {
    let start = ContinuousClock.now
    private(set) var now: ContinuousClock.Instant
    var peers: [Peer] = []
    var random: SplitMix64
    private var datagrams: [Datagram] = []
    private var signals: [(at: ContinuousClock.Instant, sequence: Int, peer: Int, action: SignalAction)] = []
    private var sequence = 0

    /// Loss probability by sending peer index.
    var loss: [Int: Double] = [:]
    var delay: Duration = .milliseconds(10)
    var jitter: Duration = .zero
    /// Returns true to drop a datagram (evaluated at send time, with the elapsed time).
    var dropRule: (Datagram, Duration) -> Bool = { _, _ in false }
    /// Forward local candidates and end-of-candidates to the other peer automatically.
    var autoSignal = true
    var signalDelay: Duration = .milliseconds(30)
    var signalJitter: Duration = .zero
    /// Peers that never receive the other's candidates (nor end-of-candidates).
    var blockCandidates: Set<Int> = []
    /// Applied to candidates on their way through signalling (e.g. mDNS obfuscation).
    var transformCandidate: (ICECandidate) -> ICECandidate = { $0 }
    var stunServers: [TransportAddress: STUNServerMode] = [:]
    var sent = 0
    var dropped = 0
    /// Called after every step (invariant checks).
    var observer: (VirtualNetwork) -> Void = { _ in }

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        now = start
    }

    var elapsed: Duration { now - start }

    var allConnected: Bool { peers.allSatisfy(\.connected) }

    @discardableResult
    func addPeer(
        role: ICERole, addresses: [TransportAddress], seed: UInt64, timing: ICETiming = .default, limits: ICELimits = .default,
        stunServers: [TransportAddress] = [], finishGathering: Bool = true
    ) throws -> Int {
        let configuration = ICEConfiguration(role: role, stunServers: stunServers, timing: timing, limits: limits)
        var agent = ICEAgent(configuration: configuration, credentials: .random(), now: now, seed: seed)
        for address in addresses {
            try agent.addHostCandidate(base: address, now: now)
        }
        if finishGathering {
            agent.finishGathering(now: now)
        }
        peers.append(Peer(agent: agent, addresses: addresses))
        return peers.count - 1
    }

    /// Both peers learn each other's credentials now (offer/answer already done).
    func exchangeCredentials() {
        let first = peers[0].agent.localCredentials
        let second = peers[1].agent.localCredentials
        peers[0].agent.setRemoteCredentials(second, now: now)
        peers[1].agent.setRemoteCredentials(first, now: now)
    }

    func signal(_ action: SignalAction, to peer: Int, after delay: Duration) {
        sequence += 1
        signals.append((now + delay, sequence, peer, action))
    }

    /// Runs until `predicate` holds or `limit` of simulated time (from the start) passes.
    @discardableResult
    func run(until predicate: () -> Bool, limit: Duration = .seconds(120), maxIterations: Int = 200_000) -> Bool {
        let deadline = start + limit
        for _ in 0..<maxIterations {
            drainAll()
            observer(self)
            if predicate() { return true }
            guard let next = nextEvent(), next <= deadline else {
                now = max(now, deadline)
                return predicate()
            }
            now = max(now, next)
            deliverDue()
        }
        return predicate()
    }

    /// Runs for `duration` of simulated time from now.
    func run(for duration: Duration) {
        let target = now + duration
        run(until: { now >= target }, limit: target - start)
    }

    private func nextEvent() -> ContinuousClock.Instant? {
        var candidates = peers.compactMap { $0.agent.nextTimeout }
        candidates += datagrams.map(\.deliverAt)
        candidates += signals.map(\.at)
        return candidates.min()
    }

    private func drainAll() {
        for index in peers.indices {
            while let transmit = peers[index].agent.pollTransmit() {
                enqueue(transmit.payload, from: transmit.source, to: transmit.destination, sender: index)
            }
            while let event = peers[index].agent.pollEvent() {
                peers[index].events.append((elapsed, event))
                forward(event, from: index)
            }
        }
    }

    private func forward(_ event: ICEEvent, from index: Int) {
        guard autoSignal, peers.count == 2 else { return }
        let other = 1 - index
        guard !blockCandidates.contains(other) else { return }
        switch event {
        case .localCandidate(let candidate):
            signal(.candidate(transformCandidate(candidate)), to: other, after: signalDelay + random.duration(upTo: signalJitter))
        case .gatheringStateChanged(.complete):
            signal(.endOfCandidates, to: other, after: signalDelay + signalJitter)
        default:
            break
        }
    }

    /// Puts a datagram on the wire (or loses it).
    func enqueue(_ payload: [UInt8], from source: TransportAddress, to destination: TransportAddress, sender: Int?) {
        sent += 1
        sequence += 1
        let datagram = Datagram(
            source: source, destination: destination, payload: payload, deliverAt: now + delay + random.duration(upTo: jitter),
            sequence: sequence)
        if let sender, random.chance(loss[sender] ?? 0) || dropRule(datagram, elapsed) {
            dropped += 1
            return
        }
        datagrams.append(datagram)
    }

    private func deliverDue() {
        let due = datagrams.filter { $0.deliverAt <= now }.sorted { ($0.deliverAt, $0.sequence) < ($1.deliverAt, $1.sequence) }
        datagrams.removeAll { $0.deliverAt <= now }
        for datagram in due {
            deliver(datagram)
        }
        let dueSignals = signals.filter { $0.at <= now }.sorted { ($0.at, $0.sequence) < ($1.at, $1.sequence) }
        signals.removeAll { $0.at <= now }
        for signal in dueSignals {
            apply(signal.action, to: signal.peer)
        }
        for index in peers.indices {
            if let timeout = peers[index].agent.nextTimeout, timeout <= now {
                peers[index].agent.handleTimeout(now: now)
            }
        }
    }

    private func deliver(_ datagram: Datagram) {
        if let mode = stunServers[datagram.destination] {
            serve(datagram, mode: mode)
            return
        }
        guard let index = peers.firstIndex(where: { $0.addresses.contains(datagram.destination) }) else { return }
        datagram.payload.withUnsafeBytes {
            peers[index].agent.handleSTUN($0, from: datagram.source, to: datagram.destination, now: now)
        }
    }

    private func serve(_ datagram: Datagram, mode: STUNServerMode) {
        guard case .respond(let mapped) = mode,
              let id = try? STUNMessageView.withParsed(datagram.payload, { $0.transactionID }) else { return }
        var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .successResponse), transactionID: id)
        guard (try? writer.append(.xorMappedAddress(mapped ?? datagram.source))) != nil,
              let response = try? writer.finish(fingerprint: true) else { return }
        enqueue(response, from: datagram.destination, to: datagram.source, sender: nil)
    }

    func apply(_ action: SignalAction, to index: Int) {
        switch action {
        case .credentials(let credentials):
            peers[index].agent.setRemoteCredentials(credentials, now: now)
        case .candidate(let candidate):
            try? peers[index].agent.addRemoteCandidate(candidate, now: now)
        case .endOfCandidates:
            peers[index].agent.addRemoteEndOfCandidates(now: now)
        case .restartAndAnswer:
            let credentials = peers[index].agent.restart(now: now)
            signal(.credentials(credentials), to: 1 - index, after: signalDelay)
        }
    }
}

/// Addresses used across the tests.
enum Addresses {
    static func at(_ text: String, _ port: UInt16) -> TransportAddress {
        TransportAddress(ip: IPAddress(text) ?? .v4(IPv4Address(0, 0, 0, 0)), port: port)
    }

    static let a4 = at("10.0.0.1", 5000)
    static let b4 = at("10.0.0.2", 6000)
    static let a6 = at("fd00::1", 5002)
    static let b6 = at("fd00::2", 6002)
}

/// Timing that fails fast (for tests where checks must give up).
let fastFailureTiming = ICETiming(
    pacing: .milliseconds(20), initialRetransmissionTimeout: .milliseconds(100), maximumRetransmissions: 4,
    nominationDelay: .milliseconds(50), consentInterval: .seconds(5), consentDisconnectedAfter: .seconds(8),
    consentFailedAfter: .seconds(30), gatheringTimeout: .seconds(2))

/// Two peers (A index 0, B index 1) on IPv4, credentials exchanged up front.
func makeTwoPeers(
    seed: UInt64, roles: (ICERole, ICERole) = (.controlling, .controlled), dualStack: Bool = false, timing: ICETiming = .default,
    exchangeCredentials: Bool = true, configure: (VirtualNetwork) -> Void = { _ in }
) throws -> VirtualNetwork {
    let network = VirtualNetwork(seed: seed)
    configure(network)
    try network.addPeer(role: roles.0, addresses: dualStack ? [Addresses.a4, Addresses.a6] : [Addresses.a4], seed: seed &+ 1, timing: timing)
    try network.addPeer(role: roles.1, addresses: dualStack ? [Addresses.b4, Addresses.b6] : [Addresses.b4], seed: seed &+ 2, timing: timing)
    if exchangeCredentials {
        network.exchangeCredentials()
    }
    return network
}
