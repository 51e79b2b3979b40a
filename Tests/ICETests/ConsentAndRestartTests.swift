@testable import ICE
import SDP
import STUN
import Testing

@Suite struct ConsentAndRestartTests {
    private func connectedNetwork(seed: UInt64) throws -> VirtualNetwork {
        let network = try makeTwoPeers(seed: seed)
        try #require(network.run(until: { network.allConnected }, limit: .seconds(10)))
        network.run(for: .seconds(1))
        return network
    }

    @Test("blackout: disconnected after consentDisconnectedAfter, connected again when traffic returns")
    func blackoutAndRecovery() throws {
        let network = try connectedNetwork(seed: 61)
        let blackoutStart = network.elapsed
        let blackoutEnd = blackoutStart + .seconds(14)
        network.dropRule = { _, time in time >= blackoutStart && time < blackoutEnd }
        let a = network.peers[0]
        #expect(network.run(until: { a.agent.connectionState == .disconnected }, limit: blackoutEnd))
        let disconnectedAt = network.elapsed
        // Liveness was last refreshed at most one consent interval (≤ 6 s) before the blackout.
        #expect(disconnectedAt - blackoutStart <= ICETiming.default.consentDisconnectedAfter + .milliseconds(50))
        #expect(disconnectedAt - blackoutStart >= ICETiming.default.consentDisconnectedAfter - .seconds(6))
        // A stale pair is probed every 0.8–1.2 s: connected again within about a second.
        #expect(network.run(until: { network.allConnected }, limit: blackoutEnd + .milliseconds(1_300)))
        #expect(network.elapsed >= blackoutEnd)
        #expect(network.peers.allSatisfy { $0.times(of: .failed).isEmpty })
        #expect(a.agent.selectedPair != nil)
    }

    @Test("permanent blackout: failed at consentFailedAfter, then nothing more is sent")
    func permanentBlackout() throws {
        let network = try connectedNetwork(seed: 62)
        let blackoutStart = network.elapsed
        network.dropRule = { _, time in time >= blackoutStart }
        #expect(network.run(until: { network.peers.allSatisfy { $0.agent.connectionState == .failed } }, limit: blackoutStart + .seconds(40)))
        let failedAt = network.peers[0].times(of: .failed).first ?? .zero
        #expect(failedAt - blackoutStart <= ICETiming.default.consentFailedAfter + .milliseconds(50))
        #expect(failedAt - blackoutStart >= ICETiming.default.consentFailedAfter - .seconds(6))
        #expect(network.peers[0].times(of: .disconnected).first.map { $0 < failedAt } == true)
        let sentBefore = network.sent
        network.run(for: .seconds(20))
        #expect(network.sent == sentBefore, "RFC 7675 §5.1: no more sending on an expired pair")
    }

    @Test("inbound authenticated requests alone keep consent alive")
    func requestsKeepConsent() throws {
        let network = try connectedNetwork(seed: 63)
        // B's responses never reach A, but B's own consent requests do.
        network.dropRule = { datagram, _ in datagram.source == Addresses.b4 && datagram.stunClass == .successResponse }
        let responsesBefore = network.peers[0].agent.statistics.selectedPair?.responsesReceived
        network.run(for: .seconds(60))
        #expect(network.peers[0].agent.statistics.selectedPair?.responsesReceived == responsesBefore)
        #expect((network.peers[0].agent.statistics.selectedPair?.requestsReceived ?? 0) >= 8)
        #expect(network.allConnected)
        #expect(network.peers[0].times(of: .disconnected).isEmpty)
    }

    @Test("ICE restart: new-generation pair selected, old pair kept meanwhile", arguments: [0, 1])
    func restart(restarter: Int) throws {
        let network = try connectedNetwork(seed: 71)
        var lostSelection = false
        network.observer = { network in
            if network.peers.contains(where: { $0.agent.selectedPair == nil }) { lostSelection = true }
        }
        let eventsBefore = network.peers.map(\.events.count)
        let oldCredentials = network.peers[restarter].agent.localCredentials
        let credentials = network.peers[restarter].agent.restart(now: network.now)
        #expect(credentials != oldCredentials && credentials == network.peers[restarter].agent.localCredentials)
        network.signal(.credentials(credentials), to: 1 - restarter, after: .milliseconds(50))
        network.signal(.restartAndAnswer, to: 1 - restarter, after: .milliseconds(60))
        func newGenerationSelected(_ peer: Peer, since index: Int) -> Bool {
            peer.events.dropFirst(index).contains {
                if case .selectedPairChanged(let pair) = $0.event { pair.localCandidate.generation == 1 } else { false }
            }
        }
        #expect(network.run(until: {
            zip(network.peers, eventsBefore).allSatisfy { newGenerationSelected($0, since: $1) }
        }, limit: network.elapsed + .seconds(10)))
        #expect(!lostSelection)
        // The restarter re-emitted its host candidate with the new generation and ufrag.
        let reemitted = network.peers[restarter].events.dropFirst(eventsBefore[restarter]).compactMap {
            if case .localCandidate(let candidate) = $0.event { candidate } else { nil }
        }
        #expect(reemitted.map(\.generation) == [1])
        #expect(reemitted.first?.ufrag == credentials.ufrag)
        network.run(for: .seconds(40))
        #expect(network.allConnected)
        #expect(network.peers.allSatisfy { $0.times(of: .failed).isEmpty && $0.times(of: .disconnected).isEmpty })
    }
}
