import Testing
@testable import STUN

/// RFC 5769 test vectors: every field, MESSAGE-INTEGRITY and FINGERPRINT.
@Suite struct VectorTests {
    static let rfcTransactionID = STUNTransactionID(hex("b7e7a701 bc34d686 fa87dfae"))
    static let wrongKey = STUNIntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBT")

    @Test func sampleRequest() throws {
        // RFC 5769 §2.1.
        let bytes = try Vector.request.bytes()
        #expect(bytes.count == 108)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.messageType.rawValue == 0x0001)
            #expect(view.method == .binding)
            #expect(view.messageClass == .request)
            #expect(view.transactionID == Self.rfcTransactionID)
            #expect(try view.software == "STUN test client")
            #expect(try view.priority == 0x6E00_01FF)
            #expect(try view.iceControlled == 0x932F_F9B1_5126_3B36)
            #expect(try view.iceControlling == nil)
            #expect(try view.useCandidate == false)
            #expect(try view.username == "evtj:h6vY")
            #expect(try view.usernameBytes.map(Array.init) == Array("evtj:h6vY".utf8))
            #expect(try view.xorMappedAddress == nil)
            #expect(try view.mappedAddress == nil)
            #expect(try view.errorCode == nil)
            #expect(try view.realm == nil)
            #expect(try view.nonce == nil)
            #expect(try view.unknownAttributes == nil)
            #expect(view.messageIntegrity.map(Array.init) == hex("9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2"))
            #expect(view.messageIntegritySHA256 == nil)
            #expect(view.fingerprint == 0xE57A_3BCF)
            #expect(view.attributes.map(\.type) == [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028])
            #expect(!view.hasUnknownComprehensionRequiredAttributes)
            #expect(view.unknownComprehensionRequired.isEmpty)
            #expect(view.verifyMessageIntegrity(key: Vector.request.key))
            #expect(!view.verifyMessageIntegrity(key: Self.wrongKey))
            #expect(!view.verifyMessageIntegritySHA256(key: Vector.request.key))
            #expect(view.verifyFingerprint())
        }
    }

    @Test func sampleIPv4Response() throws {
        // RFC 5769 §2.2.
        let bytes = try Vector.responseIPv4.bytes()
        #expect(bytes.count == 80)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.messageType.rawValue == 0x0101)
            #expect(view.method == .binding)
            #expect(view.messageClass == .successResponse)
            #expect(view.transactionID == Self.rfcTransactionID)
            #expect(try view.software == "test vector")
            let expected = TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)
            #expect(try view.xorMappedAddress == expected)
            #expect(try view.xorMappedAddress?.description == "192.0.2.1:32853")
            #expect(view.messageIntegrity.map(Array.init) == hex("2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7"))
            #expect(view.fingerprint == 0xC07D_4C96)
            #expect(view.attributes.map(\.type) == [0x8022, 0x0020, 0x0008, 0x8028])
            #expect(view.verifyMessageIntegrity(key: Vector.responseIPv4.key))
            #expect(!view.verifyMessageIntegrity(key: Self.wrongKey))
            #expect(view.verifyFingerprint())
        }
    }

    @Test func sampleIPv6Response() throws {
        // RFC 5769 §2.3.
        let bytes = try Vector.responseIPv6.bytes()
        #expect(bytes.count == 92)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.messageType.rawValue == 0x0101)
            #expect(view.messageClass == .successResponse)
            #expect(view.transactionID == Self.rfcTransactionID)
            #expect(try view.software == "test vector")
            let address = try view.xorMappedAddress
            #expect(address == TransportAddress(ip: try #require(IPAddress("2001:db8:1234:5678:11:2233:4455:6677")), port: 32853))
            #expect(address?.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
            #expect(view.messageIntegrity.map(Array.init) == hex("a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41"))
            #expect(view.fingerprint == 0xC8FB_0B4C)
            #expect(view.attributes.map(\.type) == [0x8022, 0x0020, 0x0008, 0x8028])
            #expect(view.verifyMessageIntegrity(key: Vector.responseIPv6.key))
            #expect(!view.verifyMessageIntegrity(key: Self.wrongKey))
            #expect(view.verifyFingerprint())
        }
    }

    @Test func sampleLongTermRequest() throws {
        // RFC 5769 §2.4: MESSAGE-INTEGRITY under MD5("マトリックス:example.org:TheMatrIX"), no FINGERPRINT.
        let bytes = try Vector.requestLongTerm.bytes()
        #expect(bytes.count == 116)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.messageType.rawValue == 0x0001)
            #expect(view.messageClass == .request)
            #expect(view.transactionID == STUNTransactionID(hex("78ad3433 c6ad72c0 29da412e")))
            #expect(try view.username == "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}")
            #expect(try view.usernameBytes?.count == 18)
            #expect(try view.nonce == "f//499k954d6OL34oL9FSTvy64sA")
            #expect(try view.realm == "example.org")
            #expect(view.messageIntegrity.map(Array.init) == hex("f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666"))
            #expect(view.fingerprint == nil)
            #expect(!view.hasFingerprint)
            #expect(view.attributes.map(\.type) == [0x0006, 0x0015, 0x0014, 0x0008])
            #expect(view.verifyMessageIntegrity(key: Vector.requestLongTerm.key))
            #expect(!view.verifyMessageIntegrity(key: .longTerm(username: "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}", realm: "example.org", password: "thematrix")))
            #expect(!view.verifyFingerprint())
        }
        // The key is MD5 of the prepared string; check the derivation against OpenSSL.
        let keyInput = Array("\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}:example.org:TheMatrIX".utf8)
        let keyBytes = openSSLDigest(.md5, keyInput)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.verifyMessageIntegrity(key: STUNIntegrityKey(keyBytes: keyBytes)))
        }
    }

    @Test func ownedDecodingOfEveryVector() throws {
        let request = try STUNMessage(decoding: Vector.request.bytes())
        #expect(request.method == .binding && request.messageClass == .request)
        #expect(request.transactionID == Self.rfcTransactionID)
        #expect(request.attributes == [
            .software("STUN test client"),
            .priority(0x6E00_01FF),
            .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36),
            .username("evtj:h6vY"),
            .messageIntegrity(hex("9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2")),
            .fingerprint(0xE57A_3BCF),
        ])
        let ipv4 = try STUNMessage(decoding: Vector.responseIPv4.bytes())
        #expect(ipv4.messageClass == .successResponse)
        #expect(ipv4.attributes == [
            .software("test vector"),
            .xorMappedAddress(TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)),
            .messageIntegrity(hex("2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7")),
            .fingerprint(0xC07D_4C96),
        ])
        let ipv6 = try STUNMessage(decoding: Vector.responseIPv6.bytes())
        #expect(ipv6.attributes[1] == .xorMappedAddress(TransportAddress(ip: try #require(IPAddress("2001:db8:1234:5678:11:2233:4455:6677")), port: 32853)))
        let longTerm = try STUNMessage(decoding: Vector.requestLongTerm.bytes())
        #expect(longTerm.attributes == [
            .username("\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"),
            .nonce("f//499k954d6OL34oL9FSTvy64sA"),
            .realm("example.org"),
            .messageIntegrity(hex("f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666")),
        ])
    }

    @Test func longTermVectorReencodesByteForByte() throws {
        // Its padding is zero, which is what the writer emits, so re-signing reproduces the RFC bytes.
        let bytes = try Vector.requestLongTerm.bytes()
        let message = try STUNMessage(decoding: bytes)
        #expect(try message.encoded(integrity: Vector.requestLongTerm.key) == bytes)
    }

    @Test(arguments: Vector.allCases)
    func reencodingVerifiesAndRoundTrips(vector: Vector) throws {
        // RFC 5769 §2.1–2.3 pad with spaces; the writer pads with zeros, so compare models, not bytes.
        let message = try STUNMessage(decoding: vector.bytes())
        let fingerprint = message.attributes.contains { $0.type == STUNAttributeType.fingerprint }
        let encoded = try message.encoded(integrity: vector.key, fingerprint: fingerprint)
        #expect(encoded.count == (try vector.bytes()).count)
        try STUNMessageView.withParsed(encoded) { view throws in
            #expect(view.verifyMessageIntegrity(key: vector.key))
            #expect(view.verifyFingerprint() == fingerprint)
        }
        #expect(withoutComputed(try STUNMessage(decoding: encoded)) == withoutComputed(message))
    }
}
