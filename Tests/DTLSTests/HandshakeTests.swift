import SDP
import Testing

@testable import DTLS

@Suite struct HandshakeTests {
    @Test(arguments: [false, true])
    func handshakeWithFingerprintsKnownUpFront(swapCertificates: Bool) async throws {
        let (clientCertificate, serverCertificate) = swapCertificates ? (Certificates.b, Certificates.a) : (Certificates.a, Certificates.b)
        let link = try Link(clientCertificate: clientCertificate, serverCertificate: serverCertificate)
        let clock = ContinuousClock()
        let elapsed = try await clock.measure { try await link.handshake() }
        print("in-process DTLS 1.2 handshake: \(elapsed), \(link.datagramSizes.count) datagrams, sizes \(link.datagramSizes)")
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
        #expect(link.clientEvents.count == 1 && link.clientEvents.allSatisfy(\.isConnected))
        #expect(link.serverEvents.count == 1 && link.serverEvents.allSatisfy(\.isConnected))
        for (session, peer) in [(link.client, serverCertificate), (link.server, clientCertificate)] {
            let info = try #require(session.connectionInfo)
            #expect(info.protocolVersion == "DTLSv1.2")
            #expect(info.cipherSuite == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
            #expect(info.remoteFingerprint == peer.fingerprint())
            #expect(session.maximumPlaintextSize == 1200 - 13 - 8 - 16)
            #expect(link.events(session.role) == [.connected(info)])
        }
        #expect(link.datagramSizes.allSatisfy { $0 <= 1200 })
        #expect(link.client.nextTimeout == nil)
        #expect(link.server.nextTimeout == nil)
        #expect(link.client.statistics.retransmissions == 0 && link.server.statistics.retransmissions == 0)
    }

    @Test(arguments: [DTLSRole.client, .server])
    func fingerprintsSetLate(lateSide: DTLSRole) async throws {
        let link = try Link(
            clientRemote: lateSide == .client ? [] : nil,
            serverRemote: lateSide == .server ? [] : nil)
        try await link.handshake(maximumTimerRounds: 0)
        #expect(link.client.state == .connecting)
        #expect(link.server.state == .connecting)
        let late = link.session(lateSide)
        late.setRemoteFingerprints([(lateSide == .client ? Certificates.b : Certificates.a).fingerprint()])
        link.pump()
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
        #expect(late.statistics.retransmissions == 0)
        #expect(late.connectionInfo?.remoteFingerprint == (lateSide == .client ? Certificates.b : Certificates.a).fingerprint())
    }

    @Test(arguments: [HashFunction.sha1, .sha224, .sha384, .sha512])
    func otherHashFunctionsAreAccepted(function: HashFunction) async throws {
        let link = try Link(
            clientRemote: [Fingerprint(algorithm: .md5, bytes: Array(repeating: 0, count: 16)), Certificates.b.fingerprint(function)],
            serverRemote: [Certificates.a.fingerprint(function)])
        try await link.handshake()
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
        #expect(link.client.connectionInfo?.remoteFingerprint.algorithm == function)
    }

    @Test(arguments: [576, 1200])
    func everyDatagramFitsTheConfiguredSize(size: Int) async throws {
        let link = try Link(configuration: DTLSConfiguration(maximumDatagramSize: size))
        try await link.handshake()
        #expect(link.client.state == .connected)
        let maximum = try #require(link.client.maximumPlaintextSize)
        #expect(maximum == size - 37)
        try link.send(Array(repeating: 7, count: maximum), from: .client)
        try link.send(Array(repeating: 8, count: maximum), from: .server)
        link.pump()
        print("datagram sizes at MTU \(size): \(link.datagramSizes)")
        #expect(link.datagramSizes.allSatisfy { $0 <= size })
        #expect(link.datagramSizes.suffix(2) == [size, size])
        if size == 576 { #expect(link.datagramSizes.count > 6) }
    }

    @Test func serverRoleStartsImplicitlyOnFirstDatagram() async throws {
        let link = try Link()
        link.client.start(now: link.now)
        link.pump()
        #expect(link.client.state == .connected)
        #expect(link.server.state == .connected)
    }

    @Test func certificateIsReusableAcrossSessions() async throws {
        let first = try Link(clientCertificate: Certificates.a, serverCertificate: Certificates.b)
        let second = try Link(clientCertificate: Certificates.a, serverCertificate: Certificates.c)
        try await first.handshake()
        try await second.handshake()
        #expect([first.client.state, first.server.state, second.client.state, second.server.state].allSatisfy { $0 == .connected })
        #expect(second.server.connectionInfo?.remoteFingerprint == Certificates.a.fingerprint())
    }

    @Test func invalidConfigurationThrows() {
        for configuration in [
            DTLSConfiguration(maximumDatagramSize: 100), DTLSConfiguration(handshakeTimeout: .zero),
            DTLSConfiguration(initialRetransmissionTimeout: .seconds(61)),
        ] {
            #expect(throws: DTLSError.self) {
                try OpenSSLDTLSSession(role: .client, certificate: Certificates.a, remoteFingerprints: [], configuration: configuration, now: .now)
            }
        }
    }
}

@Suite struct FingerprintMismatchTests {
    /// The side holding the wrong fingerprint fails with a typed error and a
    /// bad_certificate alert reaches the other side.
    @Test(arguments: [DTLSRole.client, .server], [false, true])
    func mismatchFailsClosed(checkingSide: DTLSRole, late: Bool) async throws {
        let wrong = [Certificates.c.fingerprint()]
        let link = try Link(
            clientRemote: checkingSide == .client ? (late ? [] : wrong) : nil,
            serverRemote: checkingSide == .server ? (late ? [] : wrong) : nil)
        try await link.handshake(maximumTimerRounds: late ? 0 : 200)
        if late {
            #expect(link.session(checkingSide).state == .connecting)
            link.session(checkingSide).setRemoteFingerprints(wrong)
            link.pump()
        }
        let checker = link.session(checkingSide)
        let other = checkingSide == .client ? DTLSRole.server : .client
        #expect(checker.state == .failed)
        #expect(link.events(checkingSide).compactMap(\.failure) == [.fingerprintMismatch])
        #expect(link.session(other).state == .failed)
        #expect(link.events(other).compactMap(\.failure) == [.alertReceived(description: "bad certificate", fatal: true)])
        #expect(!link.events(checkingSide).contains { $0.isConnected })
        #expect(checker.connectionInfo == nil)
        #expect(throws: DTLSError(.closed)) { try link.send([1, 2, 3], from: checkingSide) }
        // Anything arriving afterwards is ignored.
        let ignoredBefore = checker.statistics.ignoredDatagrams
        [UInt8](repeating: 23, count: 40).withUnsafeBytes { bytes in
            checker.handleDatagram(bytes, now: link.now) { _ in Issue.record("data accepted after failure") }
        }
        #expect(checker.statistics.ignoredDatagrams == ignoredBefore + 1)
        #expect(checker.nextTimeout == nil)
    }

    @Test func fingerprintsWithoutUsableHashFailClosed() async throws {
        let link = try Link(clientRemote: [])
        try await link.handshake(maximumTimerRounds: 0)
        link.client.setRemoteFingerprints([Fingerprint(algorithm: .md5, bytes: Array(repeating: 1, count: 16))])
        link.pump()
        #expect(link.clientEvents.compactMap(\.failure) == [.noRemoteFingerprint])
        #expect(link.server.state == .failed)
    }

    @Test func changedFingerprintsAfterConnectingFailClosed() async throws {
        let link = try Link()
        try await link.handshake()
        link.client.setRemoteFingerprints([Certificates.b.fingerprint(.sha512)])
        #expect(link.client.state == .connected)
        link.client.setRemoteFingerprints([Certificates.c.fingerprint()])
        link.pump()
        #expect(link.client.state == .failed)
        #expect(link.clientEvents.compactMap(\.failure) == [.fingerprintMismatch])
        #expect(link.server.state == .closed)
    }
}
