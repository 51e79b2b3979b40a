import Testing
@testable import STUN
import TestSupport

@Suite struct MessageTypeTests {
    @Test func bindingClasses() {
        // RFC 8489 §5: Binding request 0x0001, indication 0x0011, success 0x0101, error 0x0111.
        let expected: [(STUNMessageClass, UInt16)] = [(.request, 0x0001), (.indication, 0x0011), (.successResponse, 0x0101), (.errorResponse, 0x0111)]
        for (messageClass, raw) in expected {
            let type = STUNMessageType(method: .binding, messageClass: messageClass)
            #expect(type.rawValue == raw)
            #expect(STUNMessageType(rawValue: raw) == type)
        }
    }

    @Test func everyFourteenBitValueRoundTrips() {
        for raw in UInt16(0)..<0x4000 {
            #expect(STUNMessageType(rawValue: raw)?.rawValue == raw)
        }
        #expect(STUNMessageType(rawValue: 0x4000) == nil)
        #expect(STUNMessageType(rawValue: 0x8001) == nil)
        let maximal = STUNMessageType(method: STUNMethod(rawValue: 0xFFF) ?? .binding, messageClass: .errorResponse)
        #expect(maximal.rawValue == 0x3FFF)
        #expect(STUNMethod(rawValue: 0x1000) == nil)
        #expect(STUNMethod.binding.description == "Binding")
    }

    @Test func transactionID() throws {
        let bytes: [UInt8] = Array(1...12)
        let id = try #require(STUNTransactionID(bytes))
        #expect(id.bytes == bytes)
        #expect(id.high == 0x0102_0304 && id.low == 0x0506_0708_090A_0B0C)
        #expect(id.description == "0102030405060708090a0b0c")
        #expect(STUNTransactionID(Array(1...11)) == nil)
        #expect(STUNTransactionID(Array(1...13)) == nil)
        #expect(STUNTransactionID.random() != STUNTransactionID.random())
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
        #expect(STUNTransactionID.random(using: &a) == STUNTransactionID.random(using: &b))
    }

    @Test func packetKinds() {
        // RFC 7983 §7 boundaries.
        let expected: [(ClosedRange<UInt8>, PacketKind)] = [
            (0...3, .stun), (4...15, .unknown), (16...19, .zrtp), (20...63, .dtls), (64...79, .turnChannel),
            (80...127, .unknown), (128...191, .rtpOrRTCP), (192...255, .unknown),
        ]
        for (range, kind) in expected {
            for byte in range {
                #expect(PacketKind(firstByte: byte) == kind)
            }
        }
        let empty: [UInt8] = []
        empty.withUnsafeBytes { #expect(PacketKind(classifying: $0) == .unknown) }
        [UInt8(22), 0xFE].withUnsafeBytes { #expect(PacketKind(classifying: $0) == .dtls) }
    }

    @Test func looksLikeSTUN() throws {
        let request = try Vector.request.bytes()
        request.withUnsafeBytes { #expect(STUNMessageView.looksLikeSTUN($0)) }
        var badCookie = request
        badCookie[5] ^= 1
        badCookie.withUnsafeBytes { #expect(!STUNMessageView.looksLikeSTUN($0)) }
        var dtls = request
        dtls[0] = 22
        dtls.withUnsafeBytes { #expect(!STUNMessageView.looksLikeSTUN($0)) }
        Array(request[0..<19]).withUnsafeBytes { #expect(!STUNMessageView.looksLikeSTUN($0)) }
    }
}

@Suite struct AttributeRoundTripTests {
    static let transactionID = STUNTransactionID(high: 0xB7E7_A701, low: 0xBC34_D686_FA87_DFAE)

    static let attributes: [STUNAttribute] = [
        .mappedAddress(TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)),
        .mappedAddress(TransportAddress(ip: .v6(IPv6Address(high: 0x2001_0DB8_0000_0000, low: 0x1)), port: 1)),
        .xorMappedAddress(TransportAddress(ip: .v4(IPv4Address(10, 0, 0, 1)), port: 65535)),
        .xorMappedAddress(TransportAddress(ip: .v6(IPv6Address(high: 0xFE80_0000_0000_0000, low: 0x0123_4567_89AB_CDEF)), port: 0)),
        .username("evtj:h6vY"),
        .username(""),
        .username(String(repeating: "\u{30DE}", count: 254)),  // 762 bytes, within the 763-byte limit
        .errorCode(STUNErrorCode(code: 487, reason: "Role Conflict")),
        .errorCode(STUNErrorCode(code: 300, reason: "")),
        .errorCode(STUNErrorCode(code: 699, reason: "x")),
        .unknownAttributes([0x0001, 0x7777, 0x0024]),
        .unknownAttributes([]),
        .realm("example.org"),
        .nonce("f//499k954d6OL34oL9FSTvy64sA"),
        .software("STUN test client"),
        .priority(0x6E00_01FF),
        .useCandidate,
        .iceControlled(tieBreaker: 0x932F_F9B1_5126_3B36),
        .iceControlling(tieBreaker: .max),
        .other(type: 0x8123, value: [1, 2, 3]),
        .other(type: 0x7F00, value: []),
        .other(type: 0xC0DE, value: Array(0...200)),
    ]

    @Test(arguments: attributes)
    func roundTrip(attribute: STUNAttribute) throws {
        let message = STUNMessage(method: .binding, messageClass: .request, transactionID: Self.transactionID, attributes: [attribute])
        let key = STUNIntegrityKey.shortTerm(password: "secret")
        let encoded = try message.encoded(integrity: key, integritySHA256: key, fingerprint: true)
        #expect(encoded.count % 4 == 0)
        let decoded = try STUNMessage(decoding: encoded)
        #expect(decoded.attributes.first == attribute)
        #expect(withoutComputed(decoded) == message)
        #expect(decoded.attributes.map(\.type) == [attribute.type, 0x0008, 0x001C, 0x8028])
        try STUNMessageView.withParsed(encoded) { view throws in
            #expect(view.verifyMessageIntegrity(key: key))
            #expect(view.verifyMessageIntegritySHA256(key: key))
            #expect(view.verifyFingerprint())
            try checkAccessor(view, attribute)
        }
    }

    /// The view's typed accessor agrees with the owned decoding.
    private func checkAccessor(_ view: STUNMessageView, _ attribute: STUNAttribute) throws {
        switch attribute {
        case .mappedAddress(let address): #expect(try view.mappedAddress == address)
        case .xorMappedAddress(let address): #expect(try view.xorMappedAddress == address)
        case .username(let text):
            #expect(try view.username == text)
            #expect(try view.usernameBytes.map(Array.init) == Array(text.utf8))
        case .errorCode(let error): #expect(try view.errorCode == error)
        case .unknownAttributes(let types): #expect(try view.unknownAttributes == types)
        case .realm(let text): #expect(try view.realm == text)
        case .nonce(let text): #expect(try view.nonce == text)
        case .software(let text): #expect(try view.software == text)
        case .priority(let value): #expect(try view.priority == value)
        case .useCandidate: #expect(try view.useCandidate)
        case .iceControlled(let value): #expect(try view.iceControlled == value)
        case .iceControlling(let value): #expect(try view.iceControlling == value)
        case .other(let type, let value):
            #expect(view.value(ofType: type).map(Array.init) == value)
            #expect(view.hasUnknownComprehensionRequiredAttributes == (type < 0x8000))
        case .messageIntegrity, .messageIntegritySHA256, .fingerprint:
            Issue.record("computed attributes are not round-trip inputs")
        }
    }

    @Test func xorMappedAddressIsObfuscatedOnTheWire() throws {
        // RFC 8489 §14.2: IPv4 XOR cookie; IPv6 XOR cookie ‖ transaction ID; port XOR 0x2112.
        let address = TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)
        let message = STUNMessage(method: .binding, messageClass: .successResponse, transactionID: Self.transactionID, attributes: [.xorMappedAddress(address)])
        let encoded = try message.encoded()
        #expect(Array(encoded[20...]) == hex("0020 0008 0001 a147 e112 a643"))
        let v6 = try #require(IPAddress("2001:db8:1234:5678:11:2233:4455:6677"))
        let encoded6 = try STUNMessage(method: .binding, messageClass: .successResponse, transactionID: Self.transactionID,
                                       attributes: [.xorMappedAddress(TransportAddress(ip: v6, port: 32853))]).encoded()
        #expect(Array(encoded6[20...]) == hex("0020 0014 0002 a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9"))
    }

    @Test func computedAttributesAreNotCopied() throws {
        let message = STUNMessage(method: .binding, messageClass: .request, transactionID: Self.transactionID, attributes: [
            .messageIntegrity([UInt8](repeating: 1, count: 20)), .priority(1), .fingerprint(42),
            .other(type: 0x0008, value: [1]), .messageIntegritySHA256([2]), .other(type: 0x8028, value: [0, 0, 0, 0]),
        ])
        let encoded = try message.encoded()
        #expect(try STUNMessage(decoding: encoded).attributes == [.priority(1)])
    }
}

@Suite struct WriterTests {
    static let key = STUNIntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")

    @Test func bindingSuccessResponseReusesTheBuffer() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(256)
        let storage = buffer.withUnsafeBufferPointer { $0.baseAddress }
        let type = STUNMessageType(method: .binding, messageClass: .successResponse)
        for round in 0..<3 {
            var writer = STUNMessageWriter(type: type, transactionID: STUNTransactionID(high: UInt32(round), low: 7), reusing: &buffer)
            #expect(buffer.isEmpty)
            try writer.append(.xorMappedAddress(TransportAddress(ip: .v4(IPv4Address(192, 0, 2, 1)), port: 32853)))
            buffer = try writer.finish(integrity: Self.key, fingerprint: true)
            // Same storage every round: no reallocation happened.
            #expect(buffer.withUnsafeBufferPointer { $0.baseAddress } == storage)
            #expect(buffer.count == 20 + 12 + 24 + 8)
            try STUNMessageView.withParsed(buffer) { view throws in
                #expect(view.transactionID.high == UInt32(round))
                #expect(view.verifyMessageIntegrity(key: Self.key))
                #expect(view.verifyFingerprint())
            }
        }
    }

    @Test func encodeIntoReusesTheBuffer() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        let storage = buffer.withUnsafeBufferPointer { $0.baseAddress }
        let message = try STUNMessage(decoding: Vector.request.bytes())
        try message.encode(into: &buffer, integrity: Self.key, fingerprint: true)
        #expect(buffer.withUnsafeBufferPointer { $0.baseAddress } == storage)
        #expect(buffer.count == 108)
    }

    @Test func encodeErrors() throws {
        let tooLong = String(repeating: "a", count: STUNLimits.maximumTextLength + 1)
        for attribute: STUNAttribute in [.username(tooLong), .software(tooLong), .realm(tooLong), .nonce(tooLong),
                                         .errorCode(STUNErrorCode(code: 400, reason: tooLong))] {
            var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .request), transactionID: .random())
            #expect(throws: STUNEncodeError.invalidAttribute(type: attribute.type, reason: .textTooLong(STUNLimits.maximumTextLength + 1))) {
                try writer.append(attribute)
            }
        }
        for (code, errorClass) in [(299 as UInt16, 2 as UInt8), (700, 7), (0, 0), (9999, 99)] {
            let message = STUNMessage(method: .binding, messageClass: .errorResponse, attributes: [.errorCode(STUNErrorCode(code: code, reason: ""))])
            #expect(throws: STUNEncodeError.invalidAttribute(type: 0x0009, reason: .invalidErrorClass(errorClass))) {
                try message.encoded()
            }
        }
        // 65532 body bytes is the maximum; one more attribute header overflows.
        var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .request), transactionID: .random())
        try writer.append(.other(type: 0x8001, value: [UInt8](repeating: 0, count: 65528)))
        #expect(throws: STUNEncodeError.messageTooLarge(bodyLength: 65536)) { try writer.append(.useCandidate) }
        do {
            _ = try writer.finish(fingerprint: true)
            Issue.record("FINGERPRINT should not fit")
        } catch {
            #expect(error == .messageTooLarge(bodyLength: 65532 + 8))
        }
        let maximal = STUNMessage(method: .binding, messageClass: .request, attributes: [.other(type: 0x8001, value: [UInt8](repeating: 0, count: 65528))])
        #expect((try? maximal.encoded())?.count == STUNLimits.maximumMessageSize)
    }

    @Test func paddingIsZeroAndLengthsAreExact() throws {
        let encoded = try STUNMessage(method: .binding, messageClass: .request, transactionID: STUNTransactionID(high: 0, low: 0),
                                      attributes: [.username("abcde")]).encoded()
        #expect(Array(encoded[20...]) == hex("0006 0005 6162636465 000000"))
        #expect(encoded[2] == 0 && encoded[3] == 12)
    }
}

@Suite struct ViewSemanticsTests {
    static let key = STUNIntegrityKey.shortTerm(password: "pass")

    /// SOFTWARE, MESSAGE-INTEGRITY, then extras, then FINGERPRINT — built with the writer and OpenSSL.
    private func signedMessage(after extras: [(UInt16, [UInt8])]) -> [UInt8] {
        var bytes = rawMessage(attributes: [(0x8022, Array("before".utf8))])
        appendMAC(&bytes, type: 0x0008, length: 20, digest: .sha1)
        for (type, value) in extras {
            bytes += rawMessage(attributes: [(type, value)])[20...]
        }
        setLength(&bytes, bytes.count - 20)
        return bytes
    }

    private func setLength(_ bytes: inout [UInt8], _ length: Int) {
        bytes[2] = UInt8(length >> 8)
        bytes[3] = UInt8(length & 0xFF)
    }

    /// Appends an independently computed (OpenSSL) HMAC attribute, truncated to `length`.
    private func appendMAC(_ bytes: inout [UInt8], type: UInt16, length: Int, digest: OpenSSLDigest) {
        setLength(&bytes, bytes.count + 4 + length - 20)
        let mac = openSSLHMAC(digest, key: Array("pass".utf8), bytes)
        bytes += [UInt8(type >> 8), UInt8(type & 0xFF), 0, UInt8(length)] + mac[0..<length]
        setLength(&bytes, bytes.count - 20)
    }

    private func appendFingerprint(_ bytes: inout [UInt8]) {
        setLength(&bytes, bytes.count + 8 - 20)
        let crc = referenceCRC32(bytes) ^ 0x5354_554E
        bytes += [0x80, 0x28, 0, 4, UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
    }

    @Test func attributesAfterMessageIntegrityAreIgnored() throws {
        var bytes = signedMessage(after: [(0x8022, Array("after".utf8)), (0x0024, [0, 0, 0, 1]), (0x7777, [])])
        appendFingerprint(&bytes)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(try view.software == "before")
            #expect(try view.priority == nil)
            #expect(view.attributes.map(\.type) == [0x8022, 0x0008, 0x8028])
            #expect(!view.hasUnknownComprehensionRequiredAttributes)
            #expect(view.verifyMessageIntegrity(key: Self.key))
            #expect(view.verifyFingerprint())
        }
        #expect(try STUNMessage(decoding: bytes).attributes.map(\.type) == [0x8022, 0x0008, 0x8028])
    }

    @Test func sha256AfterSHA1IsVisibleAndTruncationVerifies() throws {
        for length in stride(from: 16, through: 32, by: 4) {
            var bytes = signedMessage(after: [])
            appendMAC(&bytes, type: 0x001C, length: length, digest: .sha256)
            bytes += rawMessage(attributes: [(0x8022, Array("ignored".utf8))])[20...]
            setLength(&bytes, bytes.count - 20)
            appendFingerprint(&bytes)
            try STUNMessageView.withParsed(bytes) { view throws in
                #expect(view.attributes.map(\.type) == [0x8022, 0x0008, 0x001C, 0x8028])
                #expect(view.messageIntegritySHA256?.count == length)
                #expect(view.verifyMessageIntegrity(key: Self.key))
                #expect(view.verifyMessageIntegritySHA256(key: Self.key))
                #expect(!view.verifyMessageIntegritySHA256(key: .shortTerm(password: "Pass")))
                #expect(view.verifyFingerprint())
            }
        }
    }

    @Test func messageIntegrityAfterSHA256IsIgnored() throws {
        var bytes = rawMessage(attributes: [(0x0024, [0, 0, 0, 5])])
        appendMAC(&bytes, type: 0x001C, length: 32, digest: .sha256)
        appendMAC(&bytes, type: 0x0008, length: 20, digest: .sha1)
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.attributes.map(\.type) == [0x0024, 0x001C])
            #expect(!view.hasMessageIntegrity)
            #expect(!view.verifyMessageIntegrity(key: Self.key))
            #expect(view.verifyMessageIntegritySHA256(key: Self.key))
        }
    }

    @Test func unknownComprehensionRequiredAttributesAreReported() throws {
        let bytes = rawMessage(attributes: [(0x7777, [1]), (0x0024, [0, 0, 0, 1]), (0x8888, [2]), (0x0003, []), (0x0FFF, [3, 4])])
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(view.hasUnknownComprehensionRequiredAttributes)
            #expect(view.unknownComprehensionRequired == [0x7777, 0x0003, 0x0FFF])
            #expect(try view.priority == 1)
        }
        let message = try STUNMessage(decoding: bytes)
        #expect(message.attributes[0] == .other(type: 0x7777, value: [1]))
        #expect(message.attributes[2] == .other(type: 0x8888, value: [2]))
        // A 420 answer carrying them round-trips.
        let answer = STUNMessage(method: .binding, messageClass: .errorResponse, transactionID: message.transactionID, attributes: [
            .errorCode(STUNErrorCode(code: STUNErrorCode.unknownAttribute, reason: "Unknown Attribute")),
            .unknownAttributes([0x7777, 0x0003, 0x0FFF]),
        ])
        try STUNMessageView.withParsed(try answer.encoded()) { view throws in
            #expect(try view.errorCode?.code == 420)
            #expect(try view.errorCode?.errorClass == 4 && view.errorCode?.number == 20)
            #expect(try view.unknownAttributes == [0x7777, 0x0003, 0x0FFF])
        }
        try STUNMessageView.withParsed(rawMessage(attributes: [(0x8888, [])])) { view throws in
            #expect(!view.hasUnknownComprehensionRequiredAttributes)
        }
    }

    @Test func firstOfDuplicateAttributesWins() throws {
        let bytes = rawMessage(attributes: [(0x0024, [0, 0, 0, 1]), (0x0024, [0, 0, 0, 2])])
        try STUNMessageView.withParsed(bytes) { view throws in
            #expect(try view.priority == 1)
            #expect(view.attributes.map(\.valueRange) == [24..<28, 32..<36])
        }
    }
}
