import ICETransport
import STUN
import Testing
import TestSupport

@Suite("STUN binding server (sans-IO)")
struct STUNBindingServerTests {
    private let client = TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 7)), port: 40_000)
    private let clientV6 = TransportAddress(ip: .v6(IPv6Address("2001:db8::5")!), port: 5)

    @Test("answers a Binding request with XOR-MAPPED-ADDRESS, SOFTWARE and FINGERPRINT", arguments: [false, true])
    func answersBinding(ipv6: Bool) throws {
        var server = STUNBindingServer(software: "test server")
        let source = ipv6 ? clientV6 : client
        let request = STUNMessage(method: .binding, messageClass: .request)
        let bytes = try request.encoded(fingerprint: true)
        let response = try #require(bytes.withUnsafeBytes { server.respond(to: $0, from: source) })
        let decoded = try STUNMessage(decoding: response)
        #expect(decoded.messageClass == .successResponse)
        #expect(decoded.method == .binding)
        #expect(decoded.transactionID == request.transactionID)
        #expect(decoded.attributes.contains(.xorMappedAddress(source)))
        #expect(decoded.attributes.contains(.software("test server")))
        let fingerprintValid = try STUNMessageView.withParsed(response) { $0.verifyFingerprint() }
        #expect(fingerprintValid)
        #expect(server.statistics.bindingRequestsAnswered == 1)
        #expect(server.statistics.ignored == 0)
    }

    @Test("answers 420 listing unknown comprehension-required attributes (RFC 8489 §6.3.1)")
    func unknownAttribute() throws {
        var server = STUNBindingServer(software: nil)
        let request = STUNMessage(method: .binding, messageClass: .request, attributes: [.other(type: 0x7F01, value: [1, 2, 3])])
        let bytes = try request.encoded()
        let response = try #require(bytes.withUnsafeBytes { server.respond(to: $0, from: client) })
        let decoded = try STUNMessage(decoding: response)
        #expect(decoded.messageClass == .errorResponse)
        #expect(decoded.attributes.contains(.unknownAttributes([0x7F01])))
        #expect(decoded.attributes.contains { if case .errorCode(let error) = $0 { error.code == 420 } else { false } })
        #expect(!decoded.attributes.contains { $0.type == STUNAttributeType.software })
        #expect(server.statistics.unknownAttributeErrorsSent == 1)
    }

    @Test("ignores and counts indications, responses, other methods, bad fingerprints and garbage")
    func ignoresOthers() throws {
        var server = STUNBindingServer()
        let indication = try STUNMessage(method: .binding, messageClass: .indication).encoded(fingerprint: true)
        let response = try STUNMessage(method: .binding, messageClass: .successResponse).encoded()
        let otherMethod = try STUNMessage(method: try #require(STUNMethod(rawValue: 0x003)), messageClass: .request).encoded()
        var badFingerprint = try STUNMessage(method: .binding, messageClass: .request).encoded(fingerprint: true)
        badFingerprint[badFingerprint.count - 1] ^= 0xFF
        let garbage: [UInt8] = [0x17, 0xFE, 0xFD, 0, 1, 2]
        for packet in [indication, response, otherMethod, badFingerprint, garbage, []] {
            let answer = packet.withUnsafeBytes { server.respond(to: $0, from: client) }
            #expect(answer == nil)
        }
        let statistics = server.statistics
        #expect(statistics.ignoredNonRequests == 2)
        #expect(statistics.ignoredOtherMethods == 1)
        #expect(statistics.ignoredBadFingerprint == 1)
        #expect(statistics.ignoredMalformed == 2)
        #expect(statistics.bindingRequestsAnswered == 0)
    }

    @Test("never traps on random or mutated input; every packet is counted")
    func randomInput() throws {
        var server = STUNBindingServer()
        var generator = SplitMix64(seed: 0x5EED)
        let valid = try STUNMessage(method: .binding, messageClass: .request, attributes: [.username("a:b"), .priority(7)])
            .encoded(fingerprint: true)
        let rounds = 20_000
        for round in 0..<rounds {
            var packet: [UInt8]
            if round.isMultiple(of: 2) {
                packet = (0..<Int.random(in: 0...96, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            } else {
                packet = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    packet[Int.random(in: 0..<packet.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
                packet = Array(packet.prefix(Int.random(in: 0...packet.count, using: &generator)))
            }
            _ = packet.withUnsafeBytes { server.respond(to: $0, from: client) }
        }
        let statistics = server.statistics
        #expect(statistics.ignored + statistics.bindingRequestsAnswered + statistics.unknownAttributeErrorsSent == rounds)
        #expect(statistics.ignored > 0)
    }

    @Test("SOFTWARE is cut to the RFC 8489 §14.14 sender limits")
    func softwareLimit() {
        let server = STUNBindingServer(software: String(repeating: "é", count: 400))
        #expect(server.software?.count == 127)
        let long = STUNBindingServer(software: String(repeating: "👩‍👩‍👧‍👦", count: 100))
        #expect((long.software?.utf8.count ?? 0) <= 508)
    }
}

