@testable import ICE
import SDP
import STUN
import Testing

@Suite struct ConnectivityTests {
    private func bothConnected(_ network: VirtualNetwork) -> Bool {
        network.peers.allSatisfy(\.connected)
    }

    private func agree(_ network: VirtualNetwork) -> Bool {
        guard let a = network.peers[0].agent.selectedPair, let b = network.peers[1].agent.selectedPair else { return false }
        return a.local == b.remote && a.remote == b.local
    }

    @Test("both roles connect with every candidate known up front; best pair selected on both sides",
          arguments: [(ICERole.controlling, ICERole.controlled), (.controlled, .controlling)])
    func connectsUpFront(roles: (ICERole, ICERole)) throws {
        let network = try makeTwoPeers(seed: 11, roles: roles, dualStack: true)
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        // IPv6 bases get local preference 65535 (IPv4 65534): the IPv6 host pair has the highest priority.
        #expect(network.peers[0].agent.selectedPair?.local == Addresses.a6)
        #expect(network.peers[0].agent.selectedPair?.remote == Addresses.b6)
        #expect(network.peers[1].agent.selectedPair?.local == Addresses.b6)
        #expect(network.elapsed < .seconds(1))
        // The controlling side's pair is nominated; after end-of-candidates both complete.
        network.run(for: .seconds(1))
        #expect(network.peers.allSatisfy { $0.agent.connectionState == .completed })
        #expect(network.peers.allSatisfy { $0.agent.role == ($0 === network.peers[0] ? roles.0 : roles.1) })
        let states = network.peers[0].emittedEvents.compactMap { if case .connectionStateChanged(let s) = $0 { s } else { nil } }
        #expect(states.first == .checking && states.last == .completed)
        #expect(!states.contains(.failed) && !states.contains(.disconnected))
    }

    @Test("trickle: random order, delays, late remote credentials, end-of-candidates", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func trickle(seed: UInt64) throws {
        let network = try makeTwoPeers(seed: seed, dualStack: true, exchangeCredentials: false) {
            $0.signalDelay = .milliseconds(20)
            $0.signalJitter = .milliseconds(400)
            $0.jitter = .milliseconds(15)
        }
        // A learns B's credentials at once and starts checking; B only after A's checks arrived.
        network.peers[0].agent.setRemoteCredentials(network.peers[1].agent.localCredentials, now: network.now)
        network.signal(.credentials(network.peers[0].agent.localCredentials), to: 1, after: .milliseconds(700))
        var firstValidPairAt: Duration?
        network.observer = { network in
            if firstValidPairAt == nil, network.peers[0].agent.statistics.pairs.contains(where: { $0.state == .succeeded }) {
                firstValidPairAt = network.elapsed
            }
        }
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        // B answered A's checks before it had A's credentials (RFC 8445 §7.3.1.3).
        #expect(try #require(firstValidPairAt) < .milliseconds(700))
        #expect(network.elapsed < .seconds(3))
        network.run(for: .seconds(2))
        #expect(network.peers.allSatisfy { $0.agent.connectionState == .completed })
        #expect(agree(network))
    }

    @Test("peer-reflexive: one side never receives the other's candidates, connects promptly",
          arguments: [(ICERole.controlling, ICERole.controlled), (.controlled, .controlling)])
    func peerReflexive(roles: (ICERole, ICERole)) throws {
        let network = try makeTwoPeers(seed: 7, roles: roles) { $0.blockCandidates = [1] }
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        // No fixed one-second stall anywhere.
        #expect(network.elapsed < .seconds(1))
        #expect(network.peers[1].agent.selectedPair?.remoteCandidate.kind == .peerReflexive)
        #expect(network.peers[1].agent.selectedPair?.remote == Addresses.a4)
    }

    @Test("role conflict resolved: exactly one side ends up controlling", arguments: [ICERole.controlling, .controlled], [21, 22, 23] as [UInt64])
    func roleConflict(role: ICERole, seed: UInt64) throws {
        let network = try makeTwoPeers(seed: seed, roles: (role, role))
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        let controlling = network.peers.filter { $0.agent.role == .controlling }
        #expect(controlling.count == 1)
        let switched = network.peers.filter { $0.emittedEvents.contains { if case .roleChanged = $0 { true } else { false } } }
        #expect(switched.count == 1)
    }

    @Test("a valid pair carries data before the nomination (RFC 8445 §12.1), then the selected pair does")
    func dataPairBeforeSelection() throws {
        var timing = ICETiming.default
        timing.pacing = .milliseconds(50)  // the nomination check waits one Ta after the first check
        let network = try makeTwoPeers(seed: 12, timing: timing)
        var connectedUnselected: [Int: ICESelectedPair] = [:]
        network.observer = { network in
            for (index, peer) in network.peers.enumerated() where connectedUnselected[index] == nil {
                if peer.agent.connectionState == .connected, peer.agent.selectedPair == nil, let pair = peer.agent.dataPair {
                    connectedUnselected[index] = pair
                }
            }
        }
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        // Both were connected with a data pair before either had a selected pair.
        #expect(connectedUnselected[0]?.local == Addresses.a4 && connectedUnselected[0]?.remote == Addresses.b4)
        #expect(connectedUnselected[1]?.local == Addresses.b4 && connectedUnselected[1]?.remote == Addresses.a4)
        #expect(network.peers.allSatisfy { $0.agent.dataPair == $0.agent.selectedPair })
        let states = network.peers[1].emittedEvents.compactMap { if case .connectionStateChanged(let s) = $0 { s } else { nil } }
        #expect(states.prefix(2) == [.checking, .connected])
    }

    @Test("a restart before the nomination keeps the valid pair data flows on (RFC 8445 §9, §12.1)")
    func restartBeforeNomination() throws {
        var timing = ICETiming.default
        timing.pacing = .milliseconds(50)  // the nomination check waits one Ta after the first check
        let network = try makeTwoPeers(seed: 14, timing: timing)
        let a = network.peers[0]
        #expect(network.run(until: { a.agent.connectionState == .connected && a.agent.selectedPair == nil }, limit: .seconds(10)))
        let inUse = try #require(a.agent.dataPair)
        _ = a.agent.restart(now: network.now)
        #expect(a.agent.selectedPair == inUse)
        #expect(a.agent.dataPair == inUse)
        #expect(a.agent.connectionState == .connected)
    }

    @Test("data is accepted from the peer's candidates on our sockets only (RFC 8445 §12.2)")
    func acceptsDataFromCandidates() throws {
        let network = try makeTwoPeers(seed: 13)
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(10)))
        let agent = network.peers[0].agent
        #expect(agent.acceptsData(from: Addresses.b4, on: Addresses.a4))
        #expect(!agent.acceptsData(from: Addresses.at("10.0.0.9", 6000), on: Addresses.a4))
        #expect(!agent.acceptsData(from: Addresses.at("10.0.0.2", 6001), on: Addresses.a4))
        #expect(!agent.acceptsData(from: Addresses.b4, on: Addresses.at("10.0.0.1", 5001)))
    }

    @Test("30 % loss in both directions still connects", arguments: [31, 32, 33, 34] as [UInt64])
    func lossyNetwork(seed: UInt64) throws {
        let network = try makeTwoPeers(seed: seed, dualStack: true) { $0.loss = [0: 0.3, 1: 0.3] }
        #expect(network.run(until: { bothConnected(network) && agree(network) }, limit: .seconds(60)))
        #expect(network.dropped > 0)
    }

    @Test("every response dropped: the checklist fails after end-of-candidates")
    func allResponsesDropped() throws {
        let network = try makeTwoPeers(seed: 41, timing: fastFailureTiming) {
            $0.dropRule = { datagram, _ in datagram.stunClass == .successResponse || datagram.stunClass == .errorResponse }
        }
        #expect(network.run(until: { network.peers.allSatisfy { $0.agent.connectionState == .failed } }, limit: .seconds(60)))
        #expect(network.peers.allSatisfy { $0.agent.selectedPair == nil })
        #expect(network.peers.allSatisfy { $0.agent.statistics.pairs.allSatisfy { $0.state == .failed } })
    }

    @Test("with trickle, all pairs failed is not failure until end-of-candidates")
    func noFailureWithoutEndOfCandidates() throws {
        let network = VirtualNetwork(seed: 42)
        try network.addPeer(role: .controlling, addresses: [Addresses.a4], seed: 43, timing: fastFailureTiming)
        network.peers[0].agent.setRemoteCredentials(.random(), now: network.now)
        // Nobody lives at 10.0.0.9: the only pair fails.
        network.apply(.candidate(ICECandidate(foundation: "1", priority: 2_130_706_431, address: "10.0.0.9", port: 9, kind: .host)), to: 0)
        network.run(for: .seconds(30))
        #expect(network.peers[0].agent.statistics.pairs.map(\.state) == [.failed])
        #expect(network.peers[0].agent.connectionState == .checking)
        network.apply(.endOfCandidates, to: 0)
        network.run(for: .milliseconds(10))
        #expect(network.peers[0].agent.connectionState == .failed)
    }
}
