import SDP
import Testing

@testable import DTLS
import TestSupport

@Suite struct TimerTests {
    @Test func firstFlightRetransmitsAfterOneHundredMilliseconds() async throws {
        let link = try Link()
        link.client.start(now: link.now)
        let clientHello = try #require(link.client.pollTransmit())
        #expect(link.client.pollTransmit() == nil)
        let timeout = try #require(link.client.nextTimeout)
        // RFC 9147 §5.8.2: the initial timer is 100 ms (RFC 6347 §4.2.4.1 said 1 s).
        #expect(timeout - link.now > .milliseconds(90) && timeout - link.now <= .milliseconds(100))
        // Firing early retransmits nothing.
        link.client.handleTimeout(now: link.now)
        #expect(link.client.pollTransmit() == nil)
        _ = clientHello
    }

    @Test func droppedFirstFlightIsRetransmitted() async throws {
        let link = try Link(configuration: DTLSConfiguration(initialRetransmissionTimeout: .milliseconds(30)))
        link.followRealTime = true
        var dropped = 0
        link.drop = { sender, _ in
            guard sender == .client, dropped == 0 else { return false }
            dropped += 1
            return true
        }
        try await link.handshake()
        #expect(dropped == 1)
        #expect(link.client.statistics.retransmissions >= 1)
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
        // nextTimeout is measured after the flight left, so a little under 30 ms.
        #expect(link.elapsed >= .milliseconds(20))
    }

    @Test(arguments: [1 as UInt64, 2, 3])
    func handshakeCompletesUnderThirtyPercentLoss(seed: UInt64) async throws {
        let link = try Link(configuration: DTLSConfiguration(initialRetransmissionTimeout: .milliseconds(10)))
        link.followRealTime = true
        var generator = SplitMix64(seed: seed)
        var drops = 0
        link.drop = { _, _ in
            let lost = Double.random(in: 0..<1, using: &generator) < 0.3
            if lost { drops += 1 }
            return lost
        }
        try await link.handshake()
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
        print("30 % loss, seed \(seed): \(drops) dropped, \(link.datagramSizes.count) sent, retransmissions client \(link.client.statistics.retransmissions) server \(link.server.statistics.retransmissions), virtual \(link.elapsed)")
        #expect(link.datagramSizes.allSatisfy { $0 <= 1200 })
    }

    @Test func handshakeTimesOutWhenThePeerNeverAnswers() async throws {
        let link = try Link()
        link.drop = { _, _ in true }
        try await link.handshake(maximumTimerRounds: 1_000)
        #expect(link.clientEvents.compactMap(\.failure) == [.handshakeTimeout])
        #expect(link.serverEvents.compactMap(\.failure) == [.handshakeTimeout])
        #expect(link.elapsed >= .seconds(30) && link.elapsed < .seconds(32))
        #expect(link.client.nextTimeout == nil)
    }
}

@Suite struct LifetimeTests {
    @Test func sessionsAreFreed() async throws {
        weak var weakClient: OpenSSLDTLSSession?
        weak var weakStorage: CertificateStorage?
        for index in 0..<200 {
            let certificate = index % 50 == 0 ? try DTLSCertificate.generate() : Certificates.a
            let link = try Link(clientCertificate: certificate, serverCertificate: Certificates.b)
            if index % 4 == 0 {
                try await link.handshake()
                #expect(link.client.state == .connected)
                try link.send([1, 2, 3], from: .client)
            } else {
                link.client.start(now: link.now)
            }
            weakClient = link.client
            if index % 50 == 0 { weakStorage = certificate.storage }
        }
        #expect(weakClient == nil)
        #expect(weakStorage == nil)
    }
}
