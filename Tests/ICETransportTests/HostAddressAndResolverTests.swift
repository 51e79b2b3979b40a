import ICE
import ICETransport
import SDP
import STUN
import Testing

extension LoopbackSocketTests {
@Suite("Host address policy and mDNS resolution")
struct HostAddressAndResolverTests {
    private func configuration(_ policy: ICEHostAddressPolicy) -> ICETransportConfiguration {
        ICETransportConfiguration(agent: ICEConfiguration(role: .controlling), hostAddresses: policy)
    }

    @Test(".loopback binds the kernel's loopback addresses; .automatic excludes them (RFC 8445 §5.1.1.1)")
    func policies() async throws {
        let transport = try await ICETransport.start(configuration: configuration(.loopback), group: testGroup)
        let sockets = try await transport.statistics().sockets
        await transport.close()
        #expect(sockets.contains { $0.localAddress.ip == loopbackV4().ip })
        #expect(sockets.allSatisfy { $0.localAddress.ip.isLoopback && $0.localAddress.port != 0 })

        // The namespace holds only loopback, so there is nothing left for a host candidate.
        await #expect(throws: ICETransportError.noUsableAddress) {
            _ = try await ICETransport.start(configuration: configuration(.automatic()), group: testGroup)
        }
        let foreign = IPAddress.v4(IPv4Address(192, 0, 2, 1))
        await #expect(throws: ICETransportError.addressNotLocal(foreign)) {
            _ = try await ICETransport.start(configuration: configuration(.addresses([foreign])), group: testGroup)
        }
    }

    @Test("an unresolvable mDNS candidate is looked up once, fails within the timeout and is counted")
    func unresolvableMDNS() async throws {
        let peer = try await TestPeer.start(role: .controlling)
        let forwarding = peer.forwardEvents()
        try await peer.transport.setRemoteCredentials(ICECredentials(ufrag: "remo", password: "remote-password-0123456789"))
        let candidate = ICECandidate(
            foundation: "1", priority: 2_130_706_431, address: "0d4b9b2e-65c4-4b4e-9e43-7d1b0c1f2a3b.local", port: 9, kind: .host)
        try await peer.transport.addRemoteCandidate(candidate)
        let deadline = ContinuousClock.now + .seconds(6)
        var statistics = try await peer.transport.statistics()
        while statistics.driver.hostnameResolutionsFailed == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            statistics = try await peer.transport.statistics()
        }
        #expect(statistics.driver.hostnameResolutionsStarted == 1)
        #expect(statistics.driver.hostnameResolutionsFailed == 1)
        await peer.transport.close()
        await forwarding.value
    }
}
}
