import SDP
import Testing

@testable import DTLS
import TestSupport

@Suite struct DataTests {
    /// Sessions on one thread share one plaintext buffer; a read nested inside another session's
    /// callback must not overwrite the plaintext lent out further up.
    @Test func recordBufferIsSharedPerThreadButNeverWhileLent() {
        let first = RecordBuffer.withBuffer { $0.baseAddress }
        let second = RecordBuffer.withBuffer { $0.baseAddress }
        #expect(first == second)
        RecordBuffer.withBuffer { outer in
            RecordBuffer.withBuffer { inner in
                #expect(inner.baseAddress != outer.baseAddress)
                #expect(inner.count == RecordBuffer.size)
            }
        }
    }

    @Test func applicationDataFlowsBothWays() async throws {
        let link = try Link()
        try await link.handshake()
        let maximum = try #require(link.client.maximumPlaintextSize)
        let sizes = [1, 100, 1000, maximum]
        for size in sizes {
            try link.send((0..<size).map { UInt8(truncatingIfNeeded: $0) }, from: .client)
            try link.send((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 3) }, from: .server)
        }
        link.pump()
        #expect(link.serverReceived == sizes.map { size in (0..<size).map { UInt8(truncatingIfNeeded: $0) } })
        #expect(link.clientReceived == sizes.map { size in (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 3) } })
        #expect(link.client.statistics.recordsSent == sizes.count)
        #expect(link.server.statistics.recordsReceived == sizes.count)
        #expect(link.datagramSizes.allSatisfy { $0 <= 1200 })
        #expect(throws: DTLSError(.messageTooLarge)) { try link.send(Array(repeating: 0, count: maximum + 1), from: .client) }
        #expect(throws: DTLSError(.messageTooLarge)) { try link.send(Array(repeating: 0, count: maximum + 1), from: .server) }
    }

    @Test func sendBeforeConnectingThrows() throws {
        let link = try Link()
        #expect(throws: DTLSError(.notConnected)) { try link.send([1], from: .client) }
        link.client.start(now: link.now)
        #expect(throws: DTLSError(.notConnected)) { try link.send([1], from: .client) }
    }

    @Test(arguments: [DTLSRole.client, .server])
    func closeNotifyClosesThePeer(closer: DTLSRole) async throws {
        let link = try Link()
        try await link.handshake()
        link.session(closer).close(now: link.now)
        link.pump()
        #expect(link.client.state == .closed)
        #expect(link.server.state == .closed)
        #expect(link.clientEvents.last == .closed)
        #expect(link.serverEvents.last == .closed)
        #expect(throws: DTLSError(.closed)) { try link.send([1], from: .client) }
        #expect(link.client.nextTimeout == nil)
    }
}

@Suite struct HostileInputTests {
    @Test func garbageIsCountedAndTheSessionKeepsWorking() async throws {
        let link = try Link()
        try await link.handshake()
        // Capture a genuine application-data datagram to mangle.
        try link.send(Array(repeating: 5, count: 300), from: .client)
        let genuine = try #require(link.client.pollTransmit())
        var generator = SplitMix64(seed: 42)
        var delivered = 0
        func feed(_ bytes: [UInt8]) {
            bytes.withUnsafeBytes { buffer in
                link.server.handleDatagram(buffer, now: link.now) { _ in delivered += 1 }
            }
        }
        // A flood of random datagrams.
        for _ in 0..<2_000 {
            let length = Int.random(in: 0...1500, using: &generator)
            feed((0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        // Truncated records at every length, and records with a lying length.
        for length in 0..<genuine.count { feed(Array(genuine.prefix(length))) }
        var lying = genuine
        lying[11] = 0xFF
        feed(lying)
        // Well-formed headers with forged contents: OpenSSL drops them.
        var forged = genuine
        forged[forged.count - 1] ^= 0xFF
        feed(forged)
        feed(Array(genuine[0..<13]) + Array(repeating: 0, count: genuine.count - 13))
        #expect(delivered == 0)
        #expect(link.server.state == .connected)
        #expect(link.server.statistics.malformedDatagrams >= genuine.count + 1)
        // The genuine datagram still gets through, and data flows both ways.
        feed(genuine)
        #expect(delivered == 1)
        try link.send([9, 9], from: .server)
        try link.send([8], from: .client)
        link.pump()
        #expect(link.clientReceived == [[9, 9]])
        #expect(link.serverReceived == [[8]])
    }

    @Test func datagramsAfterCloseAreIgnored() async throws {
        let link = try Link()
        try await link.handshake()
        try link.send([1, 2, 3], from: .client)
        let late = try #require(link.client.pollTransmit())
        link.server.close(now: link.now)
        late.withUnsafeBytes { bytes in
            link.server.handleDatagram(bytes, now: link.now) { _ in Issue.record("data after close") }
        }
        #expect(link.server.statistics.ignoredDatagrams == 1)
    }

    @Test func garbageDuringTheHandshakeDoesNotCrash() async throws {
        var generator = SplitMix64(seed: 7)
        let server = try OpenSSLDTLSSession(role: .server, certificate: Certificates.b, remoteFingerprints: [Certificates.a.fingerprint()], now: .now)
        for _ in 0..<500 {
            // Plausible headers (handshake type, DTLS version) with random bodies.
            let body = (0..<Int.random(in: 0...200, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let header: [UInt8] = [22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 1, UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
            (header + body).withUnsafeBytes { bytes in server.handleDatagram(bytes, now: .now) { _ in } }
        }
        #expect(server.state != .connected)
        while server.pollTransmit() != nil {}
    }

    @Test func malformedClientHelloFailsWithOpenSSLText() throws {
        let server = try OpenSSLDTLSSession(role: .server, certificate: Certificates.b, remoteFingerprints: [Certificates.a.fingerprint()], now: .now)
        // A ClientHello (type 1) whose 10-byte body is all zeros: not decodable.
        let handshake: [UInt8] = [1, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 10] + Array(repeating: 0, count: 10)
        let record: [UInt8] = [22, 0xFE, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(handshake.count)] + handshake
        record.withUnsafeBytes { bytes in server.handleDatagram(bytes, now: .now) { _ in } }
        #expect(server.state == .failed)
        guard case .failed(let error) = server.pollEvent(), case .openSSL(let text) = error.reason else {
            Issue.record("expected an OpenSSL failure")
            return
        }
        #expect(text.contains("SSL routines"))
        print("OpenSSL failure text: \(text)")
    }
}
