// `@testable` for the agent's seeded initializer and generator, so that transaction IDs, the
// tie-breaker and consent jitter are reproducible from the input (a finding must replay), and to
// read what the peer would know (the tie-breaker, whether the peer's current ufrag is known) to
// build requests that are deliberately right or wrong. The invariants use the public API only.
import Glibc
@testable import ICE
import SDP
import STUN

/// Drives the sans-IO ICE agent (RFC 8445, RFC 8838 trickle, RFC 7675 consent) with a hostile
/// network and peer, on a virtual clock.
///
/// The first bytes pick the role, STUN servers, tight or default limits, the initial sockets and
/// the random seed; the rest is a sequence of operations: arbitrary datagrams, Binding requests
/// from the peer built with the right or wrong credentials (so the fuzzer gets past MESSAGE-INTEGRITY
/// and reaches the check logic), responses to the requests the agent actually sent (right or wrong
/// key, address, socket), clock advances that fire timers like a driver would, trickled candidates,
/// credential changes, restarts, end-of-candidates, mDNS answers and new sockets.
///
/// After every operation: no trap; everything queued is drained and well formed (STUN with a good
/// FINGERPRINT, sent from a socket we added); the next timeout is in the future (a timeout at or
/// before `now` would make the driver spin); pairs, candidates and transactions stay within the
/// configured limits; the state the events announced is the agent's state; and a datagram that
/// fails authentication changes nothing but counters.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzICE(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var input = Input(UnsafeRawBufferPointer(start: data, count: size))
    var harness = Harness(config: input.byte(), seed: input.byte())
    var steps = 0
    while !input.isEmpty, steps < 256 {
        steps += 1
        harness.step(&input)
    }
    return 0
}

// MARK: - Fixed world

/// `FUZZ_TRACE` set: print the agent's state after every operation (to read a seed or a finding).
let traceICE = getenv("FUZZ_TRACE") != nil

let localCredentials = ICECredentials(ufrag: "LOCL", password: "localpasswordlocalpassword")
/// The peer's generations: a remote restart moves to the next.
let remotePool = [
    ICECredentials(ufrag: "RMTE", password: "remotepasswordremotepassword"),
    ICECredentials(ufrag: "RMT2", password: "secondremotepasswordsecond"),
]
let wrongKey = STUNIntegrityKey.shortTerm(password: "wrongpasswordwrongpassword")

func address(_ text: String, _ port: UInt16) -> TransportAddress {
    guard let ip = IPAddress(text) else { fatalError("bad fixture address \(text)") }
    return TransportAddress(ip: ip, port: port)
}

/// Our sockets (the last one has port 0: rejected).
let basePool = [address("127.0.0.1", 5000), address("127.0.0.1", 5001), address("::1", 5002), address("127.0.0.1", 0)]
let stunServer = address("127.0.0.9", 3478)
/// Where datagrams come from and candidates point to: the peer's sockets, an attacker, the STUN server.
let peerPool = [
    address("127.0.0.1", 6000), address("127.0.0.1", 6001), address("::1", 6002), address("127.0.0.2", 6003),
    address("10.1.2.3", 7000), stunServer, address("::1", 6004), address("192.168.1.1", 1),
]
let hostnames = ["peer.local", "other.local"]

// MARK: - Input

/// Reads operands from the fuzz input; past the end every read gives zeros.
struct Input {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var isEmpty: Bool { offset >= bytes.count }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> UInt16 {
        UInt16(byte()) << 8 | UInt16(byte())
    }

    mutating func pick<T>(_ pool: [T]) -> T {
        pool[Int(byte()) % pool.count]
    }

    /// A length byte and that many bytes (fewer at the end of the input).
    mutating func blob() -> [UInt8] {
        let count = Int(byte())
        let end = min(bytes.count, offset + count)
        defer { offset = max(offset, end) }
        return offset < end ? Array(bytes[offset..<end]) : []
    }
}

// MARK: - Harness

/// A request the agent sent, so that responses can answer it.
struct SentRequest {
    var id: STUNTransactionID
    var source: TransportAddress
    var destination: TransportAddress
    /// The key the response must carry: the password of the ufrag USERNAME names first
    /// (RFC 8445 §7.2.2); `nil` for a plain request to a STUN server.
    var key: STUNIntegrityKey?
}

/// Everything observable that unauthenticated input must not change (counters aside).
struct Snapshot: Equatable {
    struct Pair: Equatable {
        var local: TransportAddress
        var remote: TransportAddress
        var state: ICEPairState
        var nominated: Bool
        var priority: UInt64
    }

    var connection: ICEConnectionState
    var gathering: ICEGatheringState
    var role: ICERole
    var selected: ICESelectedPair?
    var dataPair: ICESelectedPair?
    var pairs: [Pair]
    var localCandidates: Int
    var remoteCandidates: Int
    var peerReflexiveCandidates: Int
    var outstandingTransactions: Int
    var nextTimeout: ContinuousClock.Instant?
    var credentials: ICECredentials

    init(_ agent: ICEAgent) {
        let statistics = agent.statistics
        connection = agent.connectionState
        gathering = agent.gatheringState
        role = agent.role
        selected = agent.selectedPair
        dataPair = agent.dataPair
        pairs = statistics.pairs.map {
            Pair(local: $0.local, remote: $0.remote, state: $0.state, nominated: $0.nominated, priority: $0.priority)
        }
        localCandidates = statistics.localCandidateCount
        remoteCandidates = statistics.remoteCandidateCount
        peerReflexiveCandidates = statistics.peerReflexiveCandidateCount
        outstandingTransactions = statistics.outstandingTransactions
        nextTimeout = agent.nextTimeout
        credentials = agent.localCredentials
    }
}

struct Harness {
    var agent: ICEAgent
    let limits: ICELimits
    let hasSTUNServer: Bool
    var now: ContinuousClock.Instant
    /// Sockets the agent accepted.
    var bases: [TransportAddress] = []
    /// Sockets datagrams were delivered on (the driver's word; answers go out from them).
    var deliveredOn: Set<TransportAddress> = []
    /// The peer's generation the agent was last told about.
    var remoteIndex: Int?
    /// Local credentials of every generation (the selected pair may keep an old one, RFC 8445 §9).
    var localGenerations: [ICECredentials] = [localCredentials]
    /// The most recent requests the agent sent, newest last.
    var requests: [SentRequest] = []
    /// The states the events announced.
    var announcedConnection = ICEConnectionState.new
    var announcedGathering = ICEGatheringState.new
    var announcedRole: ICERole

    init(config: UInt8, seed: UInt8) {
        let role: ICERole = config & 1 == 0 ? .controlled : .controlling
        hasSTUNServer = config & 2 != 0
        // Tight limits make every bound reachable within a short input.
        limits = config & 4 != 0
            ? ICELimits(
                maximumRemoteCandidates: 3, maximumLocalCandidates: 3, maximumCandidatePairs: 4,
                maximumPeerReflexiveCandidates: 2, maximumQueuedTransmits: 6)
            : .default
        now = ContinuousClock.now
        announcedRole = role
        agent = ICEAgent(
            configuration: ICEConfiguration(role: role, stunServers: hasSTUNServer ? [stunServer] : [], limits: limits),
            credentials: localCredentials, now: now, seed: UInt64(seed))
        addBase(basePool[0])
        if config & 8 != 0 { addBase(basePool[2]) }
        if config & 16 != 0 { agent.finishGathering(now: now) }
        if config & 32 != 0 { setRemote(0) }
        drain()
    }

    mutating func addBase(_ base: TransportAddress) {
        do {
            try agent.addHostCandidate(base: base, now: now)
            if !bases.contains(base) { bases.append(base) }
        } catch {
            if base.port != 0, !bases.contains(base), bases.count < limits.maximumLocalCandidates,
               agent.connectionState != .closed, agent.statistics.localCandidateCount < limits.maximumLocalCandidates {
                fatalError("addHostCandidate(\(base)) failed: \(error)")
            }
        }
    }

    mutating func setRemote(_ index: Int) {
        agent.setRemoteCredentials(remotePool[index], now: now)
        if agent.connectionState != .closed { remoteIndex = index }
    }

    mutating func step(_ input: inout Input) {
        let opcode = input.byte() % 14
        switch opcode {
        case 0: rawDatagram(&input)
        case 1: peerRequest(&input)
        case 2: response(&input)
        case 3: advance(&input)
        case 4: addRemoteCandidate(&input)
        case 5: setRemote(Int(input.byte() % 2))
        case 6:
            let credentials = agent.restart(now: now)
            if !localGenerations.contains(credentials) { localGenerations.append(credentials) }
        case 7: agent.addRemoteEndOfCandidates(now: now)
        case 8: agent.finishGathering(now: now)
        case 9: agent.resolveRemoteHostname(input.pick(hostnames), to: input.pick(peerPool).ip, now: now)
        case 10: addBase(input.pick(basePool))
        case 11: agent.recordApplicationData(sent: Int(input.byte()), received: Int(input.byte()), now: now)
        case 12:
            // Rare: closing ends the interesting part of the run.
            if input.byte() == 0xC1 {
                agent.close(now: now)
                guard agent.nextTimeout == nil, agent.pollTransmit() == nil else { fatalError("closed agent still busy") }
            }
        default:
            let source = input.pick(peerPool), base = input.pick(basePool)
            if agent.acceptsData(from: source, on: base), !bases.contains(base) {
                fatalError("accepts data on \(base), a socket never added")
            }
        }
        drain()
        check()
        if traceICE {
            let pairs = agent.statistics.pairs.map { "\($0.state)" }.joined(separator: ",")
            print("op \(opcode): \(agent.connectionState) \(agent.role) pairs [\(pairs)] selected \(agent.selectedPair?.remote.description ?? "-")")
        }
    }

    // MARK: Datagrams

    /// Delivers `payload`; when it cannot authenticate, nothing but counters may change.
    mutating func deliver(_ payload: [UInt8], from source: TransportAddress, to base: TransportAddress, unauthenticated: Bool) {
        let before = unauthenticated ? Snapshot(agent) : nil
        deliveredOn.insert(base)
        payload.withUnsafeBytes { agent.handleSTUN($0, from: source, to: base, now: now) }
        guard let before else { return }
        let after = Snapshot(agent)
        guard before == after else {
            fatalError("unauthenticated datagram changed the agent:\n\(before)\n→\n\(after)")
        }
    }

    mutating func rawDatagram(_ input: inout Input) {
        let source = input.pick(peerPool), base = input.pick(basePool)
        let payload = input.blob()
        // A STUN server's answer needs no integrity (RFC 8489 §9): arbitrary bytes that happen to
        // answer a gathering request may legitimately add a server-reflexive candidate.
        let answersServer = payload.withUnsafeBytes { raw in
            (try? STUNMessageView(raw)).map { view in
                view.messageClass != .request && requests.contains { $0.id == view.transactionID && $0.key == nil }
            } ?? false
        }
        deliver(payload, from: source, to: base, unauthenticated: !answersServer)
    }

    /// A Binding request from the peer (RFC 8445 §7.2.2), with right or wrong credentials.
    mutating func peerRequest(_ input: inout Input) {
        let source = input.pick(peerPool), base = input.pick(basePool)
        let variant = input.byte()
        let flags = input.byte()
        let tieBreakerByte = input.byte()
        let priority = UInt32(input.uint16()) << 16 | 0xFF
        let current = agent.localCredentials
        let remoteUfrag = remoteIndex.map { remotePool[$0].ufrag } ?? "RMTE"
        var username = current.ufrag + ":" + remoteUfrag
        var key: STUNIntegrityKey? = .shortTerm(password: current.password)
        var rejected = true
        var extra: [STUNAttribute] = []
        var includePriority = true
        switch variant % 8 {
        case 0: rejected = false
        case 1: key = wrongKey
        case 2: username = "XXXX:" + remoteUfrag
        case 3:
            // Wrong only once the agent knows the peer's current ufrag (before that, RFC 8445
            // §7.3.1.3 lets a check precede the answer); an old generation's is still right for a
            // selected pair kept across a restart.
            username = current.ufrag + ":WRNG"
            rejected = agent.remote != nil && !agent.awaitingRemoteRestart
        case 4: key = nil
        case 5:
            // An older local generation: right for the selected pair kept across a restart (§9).
            let old = localGenerations[Int(tieBreakerByte) % localGenerations.count]
            username = old.ufrag + ":" + remoteUfrag
            key = .shortTerm(password: old.password)
            rejected = false
        case 6:
            // RFC 8489 §6.3.1.1: an unknown comprehension-required attribute → 420, nothing else.
            extra.append(.other(type: 0x7F00 | UInt16(flags & 0x7F), value: [1, 2, 3]))
        default:
            // RFC 8445 §7.1.1: no PRIORITY → 400, nothing else.
            includePriority = false
        }
        let tieBreaker: UInt64 = switch tieBreakerByte % 4 {
        case 0: 0
        case 1: .max
        case 2: agent.tieBreaker
        default: UInt64(tieBreakerByte) << 56
        }
        let fingerprint = flags & 0x80 == 0
        if !fingerprint { rejected = true }
        var writer = STUNMessageWriter(
            type: STUNMessageType(method: .binding, messageClass: .request), transactionID: .random(using: &agent.random))
        do {
            try writer.append(.username(username))
            if includePriority { try writer.append(.priority(priority)) }
            switch flags & 3 {
            case 1: try writer.append(.iceControlling(tieBreaker: tieBreaker))
            case 2: try writer.append(.iceControlled(tieBreaker: tieBreaker))
            case 3:
                try writer.append(.iceControlling(tieBreaker: tieBreaker))
                try writer.append(.iceControlled(tieBreaker: tieBreaker))
            default: break
            }
            if flags & 4 != 0 { try writer.append(.useCandidate) }
            for attribute in extra { try writer.append(attribute) }
            let payload = try writer.finish(integrity: key, fingerprint: fingerprint)
            deliver(payload, from: source, to: base, unauthenticated: rejected)
        } catch {
            fatalError("cannot build a request: \(error)")
        }
    }

    /// A response to one of the agent's recent requests (RFC 8445 §7.2.5), right or wrong.
    mutating func response(_ input: inout Input) {
        let which = Int(input.byte())
        let flags = input.byte()
        let codes: [UInt16] = [STUNErrorCode.roleConflict, 400, 401, 500, 420, 300]
        let code = codes[Int(input.byte()) % codes.count]
        let wrongSource = input.pick(peerPool), wrongBase = input.pick(basePool)
        let mappedOther = input.pick(peerPool)
        guard !requests.isEmpty else { return }
        let request = requests[requests.count - 1 - which % requests.count]
        // flags: bits 0-1 key (right, wrong, none), 2 error, 3 other source, 4 other socket,
        // 5 mapped elsewhere (a peer-reflexive local candidate, §7.2.5.3.1), 6 no fingerprint, 7 no mapped.
        let keyChoice = flags & 3
        let key: STUNIntegrityKey? = keyChoice == 0 || keyChoice == 3 ? request.key : keyChoice == 1 ? wrongKey : nil
        let source = flags & 8 != 0 ? wrongSource : request.destination
        let base = flags & 16 != 0 ? wrongBase : request.source
        let fingerprint = flags & 64 == 0
        let isError = flags & 4 != 0
        var writer = STUNMessageWriter(
            type: STUNMessageType(method: .binding, messageClass: isError ? .errorResponse : .successResponse),
            transactionID: request.id)
        do {
            if isError {
                try writer.append(.errorCode(STUNErrorCode(code: code, reason: "fuzz")))
            } else if flags & 128 == 0 {
                try writer.append(.xorMappedAddress(flags & 32 != 0 ? mappedOther : request.source))
            }
            let payload = try writer.finish(integrity: key, fingerprint: fingerprint)
            // Unauthenticated for a check or consent request: a wrong or missing key, no
            // FINGERPRINT, or the wrong socket (RFC 8445 §7.2.5: must match the transaction).
            let authenticates = request.key == nil || (keyChoice == 0 || keyChoice == 3) && fingerprint
            let unauthenticated = base != request.source || !authenticates
            deliver(payload, from: source, to: base, unauthenticated: unauthenticated)
        } catch {
            fatalError("cannot build a response: \(error)")
        }
    }

    // MARK: Time

    /// Advances the clock like a driver: fire every timer that falls due on the way, then land.
    mutating func advance(_ input: inout Input) {
        let value = input.byte()
        let scales: [Int] = [1, 10, 100, 1000]
        let target = now + .milliseconds(Int(value & 0x3F) * scales[Int(value >> 6)])
        var fired = 0
        while fired < 400, let due = agent.nextTimeout, due <= target {
            fired += 1
            now = max(now, due)
            agent.handleTimeout(now: now)
            drain()
            check()
        }
        now = target
        agent.handleTimeout(now: now)
    }

    // MARK: Signalling

    mutating func addRemoteCandidate(_ input: inout Input) {
        let flags = input.byte()
        let peer = input.pick(peerPool)
        let hostnameIndex = Int(input.byte())
        let priority = UInt32(input.uint16()) << 8 | UInt32(input.byte())
        let kinds: [ICECandidate.Kind] = [.host, .serverReflexive, .peerReflexive, .relay]
        let kind = kinds[Int(flags >> 6)]
        let addressText: String = switch flags & 3 {
        case 0, 1: peer.ip.description
        case 2: hostnames[hostnameIndex % hostnames.count]
        default: "not-an-address"
        }
        var extensions: [ICECandidate.Extension] = []
        switch (flags >> 4) & 3 {
        case 1: extensions.append(.init(name: "ufrag", value: remotePool[0].ufrag))
        case 2: extensions.append(.init(name: "ufrag", value: remotePool[1].ufrag))
        case 3: extensions.append(.init(name: "ufrag", value: "OTHR"))
        default: break
        }
        let candidate = ICECandidate(
            foundation: String(flags & 7), componentID: flags & 4 != 0 && flags & 8 != 0 ? 2 : 1,
            transport: flags & 8 != 0 && flags & 4 == 0 ? .tcp : .udp, priority: priority, address: addressText,
            port: hostnameIndex == 0xFF ? 0 : peer.port, kind: kind, extensions: extensions)
        do {
            try agent.addRemoteCandidate(candidate, now: now)
        } catch {
            switch error.reason {
            case .invalidCandidate:
                guard candidate.port == 0 || addressText == "not-an-address" else {
                    fatalError("valid candidate \(candidate) refused as invalid")
                }
            case .tooManyCandidates:
                let statistics = agent.statistics
                guard statistics.remoteCandidateCount - statistics.peerReflexiveCandidateCount >= limits.maximumRemoteCandidates else {
                    fatalError("candidate refused below the limit: \(statistics.remoteCandidateCount)")
                }
            case .closed:
                guard agent.connectionState == .closed else { fatalError("open agent said closed") }
            }
        }
    }

    // MARK: Output and invariants

    /// Drains and checks every datagram and event.
    mutating func drain() {
        while let transmit = agent.pollTransmit() {
            guard bases.contains(transmit.source) || deliveredOn.contains(transmit.source) else {
                fatalError("datagram from \(transmit.source), not a socket of ours")
            }
            transmit.payload.withUnsafeBytes { raw in
                guard let view = try? STUNMessageView(raw), view.method == .binding, view.verifyFingerprint() else {
                    fatalError("the agent sent a malformed STUN message")
                }
                guard view.messageClass == .request else { return }
                var key: STUNIntegrityKey?
                if let username = (try? view.username) ?? nil {
                    // RFC 8445 §7.2.2: USERNAME = remote ufrag ":" local ufrag; the request is
                    // signed with the remote password, and so is the answer.
                    let ufrag = username.split(separator: ":", maxSplits: 1).first.map(String.init)
                    guard let credentials = remotePool.first(where: { $0.ufrag == ufrag }),
                          view.verifyMessageIntegrity(key: .shortTerm(password: credentials.password)) else {
                        fatalError("check with USERNAME \(username) not signed with that peer's password")
                    }
                    key = .shortTerm(password: credentials.password)
                } else if transmit.destination != stunServer {
                    fatalError("unsigned request to \(transmit.destination), not the STUN server")
                }
                requests.append(SentRequest(id: view.transactionID, source: transmit.source, destination: transmit.destination, key: key))
            }
        }
        if requests.count > 32 { requests.removeFirst(requests.count - 32) }
        while let event = agent.pollEvent() {
            switch event {
            case .connectionStateChanged(let state): announcedConnection = state
            case .gatheringStateChanged(let state): announcedGathering = state
            case .roleChanged(let role): announcedRole = role
            case .selectedPairChanged(let pair):
                guard bases.contains(pair.local) else { fatalError("selected pair on \(pair.local), not a socket of ours") }
            case .localCandidate, .resolveHostname: break
            }
        }
    }

    func check() {
        guard announcedConnection == agent.connectionState, announcedGathering == agent.gatheringState,
              announcedRole == agent.role
        else {
            fatalError("""
                events announced \(announcedConnection)/\(announcedGathering)/\(announcedRole), \
                agent is \(agent.connectionState)/\(agent.gatheringState)/\(agent.role)
                """)
        }
        // A timeout at or before now would make the driver call handleTimeout in a loop.
        if let next = agent.nextTimeout, next <= now {
            fatalError("next timeout \(now - next) in the past")
        }
        let statistics = agent.statistics
        guard statistics.pairs.count <= limits.maximumCandidatePairs,
              statistics.outstandingTransactions <= ICEAgent.maximumOutstandingTransactions,
              statistics.localCandidateCount <= limits.maximumLocalCandidates,
              statistics.peerReflexiveCandidateCount <= limits.maximumPeerReflexiveCandidates,
              statistics.remoteCandidateCount - statistics.peerReflexiveCandidateCount <= limits.maximumRemoteCandidates
        else { fatalError("limits exceeded: \(statistics)") }
        for pair in statistics.pairs where !bases.contains(pair.local) {
            fatalError("pair on \(pair.local), not a socket of ours")
        }
        if let selected = agent.selectedPair, !bases.contains(selected.local) {
            fatalError("selected pair on \(selected.local), not a socket of ours")
        }
        switch agent.connectionState {
        case .connected, .completed:
            // W3C "connected": a usable pair exists (RFC 8445 §12.1).
            guard agent.dataPair != nil else { fatalError("\(agent.connectionState) without a pair to send on") }
            if agent.connectionState == .completed, agent.selectedPair == nil {
                fatalError("completed without a selected pair")
            }
        default: break
        }
    }
}
