@testable import ICE
import SDP
import STUN
import Testing
import TestSupport

@Suite struct CandidateTests {
    private func host(_ index: Int, priority: UInt32 = 2_130_706_431) -> ICECandidate {
        ICECandidate(foundation: String(index), priority: priority, address: "10.1.\(index / 250).\(index % 250 + 1)", port: 7000, kind: .host)
    }

    @Test("priorities: RFC 8445 §5.1.2.1 candidate formula, §6.1.2.3 pair formula, interleaved families")
    func priorities() {
        #expect(Priority.candidate(kind: .host, localPreference: 65535) == 126 << 24 | 65535 << 8 | 255)
        #expect(Priority.candidate(kind: .serverReflexive, localPreference: 1) >> 24 == 100)
        #expect(Priority.candidate(kind: .peerReflexive, localPreference: 1) >> 24 == 110)
        #expect(Priority.candidate(kind: .relay, localPreference: 1) >> 24 == 0)
        // 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0)
        #expect(Priority.pair(local: 10, remote: 7, role: .controlling) == (7 << 32) + 20 + 1)
        #expect(Priority.pair(local: 10, remote: 7, role: .controlled) == (7 << 32) + 20)
        #expect(Priority.localPreference(isIPv6: true, ordinal: 0) == 65535)
        #expect(Priority.localPreference(isIPv6: false, ordinal: 0) == 65534)
        #expect(Priority.localPreference(isIPv6: true, ordinal: 1) == 65533)
    }

    @Test("too many remote candidates: typed error; TCP and foreign components ignored and counted")
    func remoteCandidateLimit() throws {
        let now = ContinuousClock.now
        var agent = ICEAgent(configuration: ICEConfiguration(role: .controlling), now: now)
        try agent.addHostCandidate(base: Addresses.a4, now: now)
        for index in 0..<ICELimits.default.maximumRemoteCandidates {
            try agent.addRemoteCandidate(host(index), now: now)
        }
        #expect(throws: ICEError(.tooManyCandidates)) { try agent.addRemoteCandidate(host(999), now: now) }
        var tcp = host(1000)
        tcp.transport = .tcp
        try agent.addRemoteCandidate(tcp, now: now)
        var rtcp = host(1001)
        rtcp.componentID = 2
        try agent.addRemoteCandidate(rtcp, now: now)
        #expect(agent.statistics.dropped.ignoredCandidates == 2)
        #expect(throws: ICEError(.invalidCandidate)) {
            try agent.addRemoteCandidate(ICECandidate(foundation: "x", priority: 1, address: "not-an-ip", port: 1, kind: .host), now: now)
        }
        #expect(agent.statistics.remoteCandidateCount == ICELimits.default.maximumRemoteCandidates)
    }

    @Test("pair limit: only the highest-priority pairs are kept")
    func pairLimit() throws {
        let now = ContinuousClock.now
        var limits = ICELimits.default
        limits.maximumCandidatePairs = 10
        var agent = ICEAgent(configuration: ICEConfiguration(role: .controlling, limits: limits), now: now)
        try agent.addHostCandidate(base: Addresses.a4, now: now)
        var random = SplitMix64(seed: 3)
        var priorities: [UInt32] = []
        for index in 0..<25 {
            let priority = UInt32(truncatingIfNeeded: random.next() % 2_000_000_000) + 1
            priorities.append(priority)
            try agent.addRemoteCandidate(host(index, priority: priority), now: now)
        }
        let pairs = agent.statistics.pairs
        #expect(pairs.count == 10)
        #expect(Set(pairs.map(\.remoteCandidate.priority)) == Set(priorities.sorted(by: >).prefix(10)))
        #expect(agent.statistics.dropped.pairLimit == 15)
    }

    @Test("server-reflexive gathering against a fake STUN server; duplicates of host candidates dropped")
    func serverReflexive() throws {
        let server = Addresses.at("198.51.100.1", 3478)
        let mirror = Addresses.at("198.51.100.2", 3478)
        let network = VirtualNetwork(seed: 101)
        network.stunServers = [server: .respond(mapped: Addresses.at("203.0.113.7", 40000)), mirror: .respond(mapped: nil)]
        try network.addPeer(role: .controlling, addresses: [Addresses.a4], seed: 102, stunServers: [server, mirror])
        #expect(network.run(until: { network.peers[0].agent.gatheringState == .complete }, limit: .seconds(5)))
        #expect(network.elapsed < .milliseconds(100))
        let candidates = network.peers[0].emittedEvents.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(candidates.map(\.kind) == [.host, .serverReflexive])
        let reflexive = try #require(candidates.last)
        #expect(reflexive.address == "203.0.113.7" && reflexive.port == 40000)
        #expect(reflexive.relatedAddress == "10.0.0.1" && reflexive.relatedPort == 5000)
        #expect(reflexive.priority >> 24 == 100)
        #expect(reflexive.foundation != candidates[0].foundation)
    }

    @Test("a STUN server that never answers: gathering completes at the gathering timeout")
    func silentServer() throws {
        let server = Addresses.at("198.51.100.1", 3478)
        let network = VirtualNetwork(seed: 103)
        network.stunServers = [server: .silent]
        try network.addPeer(role: .controlling, addresses: [Addresses.a4], seed: 104, stunServers: [server])
        #expect(network.run(until: { network.peers[0].agent.gatheringState == .complete }, limit: .seconds(30)))
        #expect(network.elapsed == ICETiming.default.gatheringTimeout)
        #expect(network.sent > 1, "retransmitted before giving up")
    }

    private func mdnsNetwork(seed: UInt64) throws -> VirtualNetwork {
        try makeTwoPeers(seed: seed) { network in
            network.transformCandidate = { candidate in
                var candidate = candidate
                if candidate.address == "10.0.0.1" { candidate.address = "4f1c5e0a-3b2d.local" }
                return candidate
            }
        }
    }

    private func resolveRequests(_ peer: Peer) -> [String] {
        peer.emittedEvents.compactMap { if case .resolveHostname(let name) = $0 { name } else { nil } }
    }

    @Test("mDNS: one resolveHostname per name; resolving forms a pair with the signalled candidate")
    func mdnsResolved() throws {
        let network = try mdnsNetwork(seed: 111)
        let b = network.peers[1]
        #expect(network.run(until: { !resolveRequests(b).isEmpty }, limit: .seconds(5)))
        // The same candidate signalled twice still asks once.
        let signalled = try #require(network.peers[0].emittedEvents.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }.first)
        try b.agent.addRemoteCandidate(network.transformCandidate(signalled), now: network.now)
        b.agent.resolveRemoteHostname("4f1c5e0a-3b2d.local", to: Addresses.a4.ip, now: network.now)
        let pair = b.agent.statistics.pairs.first { $0.remote == Addresses.a4 }
        #expect(pair?.remoteCandidate.address == "4f1c5e0a-3b2d.local")
        #expect(pair?.remoteCandidate.kind == .host)
        // `connected` comes with the first valid pair; the selection follows the nomination.
        #expect(network.run(until: { network.allConnected && b.agent.selectedPair != nil }, limit: .seconds(10)))
        #expect(resolveRequests(b) == ["4f1c5e0a-3b2d.local"])
        #expect(b.agent.selectedPair?.remote == Addresses.a4)
    }

    @Test("mDNS never resolved: still connects through the peer-reflexive candidate, without delay")
    func mdnsUnresolved() throws {
        let network = try mdnsNetwork(seed: 112)
        #expect(network.run(until: { network.allConnected && network.peers[1].agent.selectedPair != nil }, limit: .seconds(10)))
        #expect(network.elapsed < .seconds(1))
        #expect(resolveRequests(network.peers[1]) == ["4f1c5e0a-3b2d.local"])
        #expect(network.peers[1].agent.selectedPair?.remoteCandidate.kind == .peerReflexive)
    }
}
