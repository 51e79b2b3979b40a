import Testing
@testable import STUN
import TestSupport

@Suite struct MalformedInputTests {
    static let key = STUNIntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")

    @Test(arguments: Vector.allCases)
    func everyTruncationIsRejected(vector: Vector) throws {
        let bytes = try vector.bytes()
        for count in 0..<bytes.count {
            let prefix = Array(bytes[0..<count])
            if count < 20 {
                #expect(decodeError(prefix) == .tooShort(count: count))
            } else {
                #expect(decodeError(prefix) == .lengthMismatch(declared: bytes.count - 20, actual: count - 20))
            }
            #expect((try? STUNMessage(decoding: prefix)) == nil)
        }
    }

    @Test(arguments: Vector.allCases)
    func truncationsWithRepairedLengthFailOnlyInsideAttributes(vector: Vector) throws {
        let bytes = try vector.bytes()
        let boundaries = try STUNMessageView.withParsed(bytes) { view in
            Set(view.attributes.map { ($0.valueRange.upperBound + 3) & ~3 } + [20])
        }
        for count in stride(from: 20, to: bytes.count, by: 4) {
            var prefix = Array(bytes[0..<count])
            prefix[2] = UInt8((count - 20) >> 8)
            prefix[3] = UInt8((count - 20) & 0xFF)
            if boundaries.contains(count) {
                #expect(decodeError(prefix) == nil, "cut at \(count)")
            } else {
                guard case .attributeOverflow = decodeError(prefix) else {
                    Issue.record("cut at \(count): \(String(describing: decodeError(prefix)))")
                    continue
                }
            }
        }
    }

    @Test func headerErrors() throws {
        let request = try Vector.request.bytes()
        #expect(decodeError([]) == .tooShort(count: 0))
        #expect(decodeError(Array(request[0..<19])) == .tooShort(count: 19))
        for topBits: UInt8 in [0x40, 0x80, 0xC0] {
            var bytes = request
            bytes[0] |= topBits
            #expect(decodeError(bytes) == .notSTUN)
        }
        var cookie = request
        cookie[7] = 0x43
        #expect(decodeError(cookie) == .badMagicCookie(0x2112_A443))
        var odd = request
        odd[3] = 0x57
        #expect(decodeError(odd) == .lengthNotMultipleOfFour(declared: 0x57))
        for declared in [0x54, 0x5C, 0x00, 0xFFFC] {
            var lying = request
            lying[2] = UInt8(declared >> 8)
            lying[3] = UInt8(declared & 0xFF)
            #expect(decodeError(lying) == .lengthMismatch(declared: declared, actual: 88))
        }
        #expect(decodeError(request + [0, 0, 0, 0]) == .lengthMismatch(declared: 88, actual: 92))
        let huge = rawMessage(attributes: []) + [UInt8](repeating: 0, count: STUNLimits.maximumMessageSize - 19)
        #expect(decodeError(huge) == .messageTooLarge(count: STUNLimits.maximumMessageSize + 1))
        #expect(throws: STUNDecodeError.tooShort(count: 3)) { try STUNMessageView.withParsed([1, 2, 3]) { _ in } }
        #expect(throws: STUNDecodeError.notSTUN) { try STUNMessage(decoding: [0xFF] + request[1...]) }
    }

    @Test func structuralAttributeErrors() {
        // A value declared longer than the message.
        var overflow = rawMessage(attributes: [(0x8022, [1, 2, 3, 4])])
        overflow[23] = 8
        #expect(decodeError(overflow) == .attributeOverflow(type: 0x8022, offset: 20))
        // The padding of the last value must fit too.
        var padding = rawMessage(attributes: [(0x0024, [0, 0, 0, 1]), (0x8022, [1, 2, 3, 4])])
        padding[31] = 5
        #expect(decodeError(padding) == .attributeOverflow(type: 0x8022, offset: 28))

        let limit = STUNLimits.maximumAttributeCount
        #expect(decodeError(rawMessage(attributes: Array(repeating: (0x8888, []), count: limit))) == nil)
        #expect(decodeError(rawMessage(attributes: Array(repeating: (0x8888, []), count: limit + 1))) == .tooManyAttributes(limit: limit))

        #expect(decodeError(rawMessage(attributes: [(0x8028, [0, 0, 0, 0]), (0x8022, [0x61])])) == .fingerprintNotLast(offset: 28))
        #expect(decodeError(rawMessage(attributes: [(0x8028, [0, 0, 0, 0]), (0x8028, [0, 0, 0, 0])])) == .fingerprintNotLast(offset: 28))
        #expect(decodeError(rawMessage(attributes: [(0x0008, Array(repeating: 0, count: 19))])) == .invalidAttribute(type: 0x0008, reason: .wrongLength(19)))
        #expect(decodeError(rawMessage(attributes: [(0x8028, [0, 0, 0])])) == .invalidAttribute(type: 0x8028, reason: .wrongLength(3)))
        for length in [0, 12, 18, 36] {
            #expect(decodeError(rawMessage(attributes: [(0x001C, Array(repeating: 0, count: length))])) == .invalidAttribute(type: 0x001C, reason: .wrongLength(length)))
        }
        for length in [16, 20, 24, 28, 32] {
            #expect(decodeError(rawMessage(attributes: [(0x001C, Array(repeating: 0, count: length))])) == nil)
        }
        // A malformed MESSAGE-INTEGRITY in the ignored region is not examined.
        #expect(decodeError(rawMessage(attributes: [(0x0008, Array(repeating: 0, count: 20)), (0x0008, [1])])) == nil)
    }

    /// Typed accessors and owned decoding report malformed values the same way.
    @Test(arguments: [
        (0x0020 as UInt16, [0, 1, 0, 0, 0, 0, 0] as [UInt8], STUNAttributeProblem.wrongLength(7)),
        (0x0020, [0, 1, 0, 0, 0, 0, 0, 0, 0], .wrongLength(9)),
        (0x0020, [0, 3, 0, 0, 0, 0, 0, 0], .unknownAddressFamily(3)),
        (0x0020, [0, 2, 0, 0, 0, 0, 0, 0], .wrongLength(8)),
        (0x0001, [0, 0, 0, 0, 0, 0, 0, 0], .unknownAddressFamily(0)),
        (0x0001, [0, 1, 0], .wrongLength(3)),
        (0x0001, [], .wrongLength(0)),
        (0x0024, [0, 0, 1], .wrongLength(3)),
        (0x0025, [1], .wrongLength(1)),
        (0x8029, [0, 0, 0, 1], .wrongLength(4)),
        (0x802A, Array(repeating: 0, count: 9), .wrongLength(9)),
        (0x0009, [0, 0, 4], .wrongLength(3)),
        (0x0009, [0, 0, 2, 0], .invalidErrorClass(2)),
        (0x0009, [0, 0, 7, 0], .invalidErrorClass(7)),
        (0x0009, [0, 0, 4, 100], .invalidErrorNumber(100)),
        (0x0009, [0, 0, 4, 0, 0xFF], .invalidUTF8),
        (0x000A, [0, 1, 0], .wrongLength(3)),
        (0x0006, [0x61, 0xC3], .invalidUTF8),
        (0x0006, [0xED, 0xA0, 0x80], .invalidUTF8),  // UTF-16 surrogate
        (0x0006, Array(repeating: 0x61, count: 764), .textTooLong(764)),
        (0x8022, [0xC0, 0x80], .invalidUTF8),  // overlong NUL
        (0x0014, [0xFF], .invalidUTF8),
        (0x0015, Array(repeating: 0x61, count: 800), .textTooLong(800)),
    ])
    func malformedValues(type: UInt16, value: [UInt8], problem: STUNAttributeProblem) throws {
        let bytes = rawMessage(attributes: [(type, value)])
        let expected = STUNDecodeError.invalidAttribute(type: type, reason: problem)
        #expect(decodeError(bytes) == nil, "structure is valid; the value is checked lazily")
        #expect(throws: expected) { try STUNMessage(decoding: bytes) }
        try STUNMessageView.withParsed(bytes) { view in
            switch type {
            case 0x0020: #expect(throws: expected) { try view.xorMappedAddress }
            case 0x0001: #expect(throws: expected) { try view.mappedAddress }
            case 0x0024: #expect(throws: expected) { try view.priority }
            case 0x0025: #expect(throws: expected) { try view.useCandidate }
            case 0x8029: #expect(throws: expected) { try view.iceControlled }
            case 0x802A: #expect(throws: expected) { try view.iceControlling }
            case 0x0009: #expect(throws: expected) { try view.errorCode }
            case 0x000A: #expect(throws: expected) { try view.unknownAttributes }
            case 0x0006: #expect(throws: expected) { try view.username }
            case 0x8022: #expect(throws: expected) { try view.software }
            case 0x0014: #expect(throws: expected) { try view.realm }
            case 0x0015: #expect(throws: expected) { try view.nonce }
            default: Issue.record("unhandled type")
            }
        }
    }

    @Test func usernameBytesChecksOnlyLength() throws {
        try STUNMessageView.withParsed(rawMessage(attributes: [(0x0006, [0xFF, 0xFE])])) { view throws in
            #expect(try view.usernameBytes.map(Array.init) == [0xFF, 0xFE])
        }
        let long = rawMessage(attributes: [(0x0006, Array(repeating: 0x61, count: 764))])
        try STUNMessageView.withParsed(long) { view in
            _ = #expect(throws: STUNDecodeError.invalidAttribute(type: 0x0006, reason: .textTooLong(764))) { try view.usernameBytes }
        }
    }

    @Test func errorDescriptions() {
        let errors: [STUNDecodeError] = [
            .tooShort(count: 1), .messageTooLarge(count: 70000), .notSTUN, .badMagicCookie(1), .lengthNotMultipleOfFour(declared: 3),
            .lengthMismatch(declared: 4, actual: 8), .attributeOverflow(type: 0x20, offset: 20), .tooManyAttributes(limit: 128),
            .fingerprintNotLast(offset: 28), .invalidAttribute(type: 0x20, reason: .unknownAddressFamily(3)),
        ]
        #expect(Set(errors.map(\.description)).count == errors.count)
        #expect(STUNEncodeError.messageTooLarge(bodyLength: 70000).description.contains("70000"))
        #expect(STUNDecodeError.invalidAttribute(type: 6, reason: .textTooLong(900)).description.contains("900"))
    }

    @Test(arguments: Vector.allCases)
    func everySingleBitFlipIsDetected(vector: Vector) throws {
        let bytes = try vector.bytes()
        // Like an ICE agent (RFC 8445 §7: connectivity checks use FINGERPRINT), require FINGERPRINT when the sender uses it: a flip in
        // its type turns it into an ignored attribute after MESSAGE-INTEGRITY (RFC 8489 §14.5).
        let requiresFingerprint = vector != .requestLongTerm
        for bit in 0..<(bytes.count * 8) {
            var flipped = bytes
            flipped[bit / 8] ^= 1 << (bit % 8)
            let accepted = flipped.withUnsafeBytes { raw in
                guard let view = try? STUNMessageView(raw) else { return false }
                return view.verifyMessageIntegrity(key: vector.key) && (!requiresFingerprint || view.verifyFingerprint())
            }
            #expect(!accepted, "bit \(bit)")
        }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SplitMix64(seed: 5)
        for round in 0..<6000 {
            var bytes = rng.bytes(Int.random(in: 0...120, using: &rng))
            if round % 2 == 0, bytes.count >= 20 {
                // A plausible header so the attribute walk is exercised.
                bytes.removeLast(bytes.count % 4)
                bytes[0] &= 0x01
                bytes.replaceSubrange(2..<8, with: [UInt8((bytes.count - 20) >> 8), UInt8((bytes.count - 20) & 0xFF), 0x21, 0x12, 0xA4, 0x42])
            }
            exercise(bytes)
        }
    }

    /// Deterministic mutation fuzzing of the RFC 5769 vectors.
    @Test func mutatedVectorsNeverTrapAndReencodeConsistently() throws {
        let vectors = try Vector.allCases.map { try $0.bytes() }
        let interestingTypes: [UInt16] = [0x0001, 0x0006, 0x0008, 0x0009, 0x000A, 0x0014, 0x0015, 0x001C, 0x0020, 0x0024, 0x0025,
                                          0x8022, 0x8028, 0x8029, 0x802A, 0x7777, 0x8888]
        var rng = SplitMix64(seed: 6)
        var decodedCount = 0
        for _ in 0..<4000 {
            var bytes = vectors[Int.random(in: 0..<vectors.count, using: &rng)]
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let alignedOffset = 20 + 4 * Int.random(in: 0...max(0, (bytes.count - 24) / 4), using: &rng)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0 where !bytes.isEmpty:
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                case 1 where !bytes.isEmpty:
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 2:
                    bytes.removeLast(Int.random(in: 0...min(12, bytes.count), using: &rng))
                case 3 where alignedOffset + 4 <= bytes.count:
                    // Rewrite an attribute length field.
                    bytes[alignedOffset + 2] = 0
                    bytes[alignedOffset + 3] = UInt8.random(in: 0...40, using: &rng)
                case 4 where alignedOffset <= bytes.count:
                    // Insert a whole random TLV of an interesting type.
                    let type = interestingTypes[Int.random(in: 0..<interestingTypes.count, using: &rng)]
                    let value = rng.bytes(Int.random(in: 0...24, using: &rng))
                    bytes.insert(contentsOf: rawMessage(attributes: [(type, value)])[20...], at: alignedOffset)
                default:
                    bytes += rng.bytes(Int.random(in: 1...8, using: &rng))
                }
            }
            if Int.random(in: 0..<4, using: &rng) != 0, bytes.count >= 20 {
                bytes[2] = UInt8(truncatingIfNeeded: (bytes.count - 20) >> 8)
                bytes[3] = UInt8(truncatingIfNeeded: bytes.count - 20)
            }
            if exercise(bytes) {
                decodedCount += 1
            }
        }
        // The mutations must not be so destructive that nothing decodes.
        #expect(decodedCount > 500)
    }

    /// Drives every decoder entry point over `bytes`; when the owned decode succeeds, re-encodes
    /// and checks decode→encode→decode consistency. Returns whether the owned decode succeeded.
    @discardableResult
    private func exercise(_ bytes: [UInt8]) -> Bool {
        let viewDecoded = bytes.withUnsafeBytes { raw -> Bool in
            let looksLikeSTUN = STUNMessageView.looksLikeSTUN(raw)
            _ = PacketKind(classifying: raw)
            guard let view = try? STUNMessageView(raw) else { return false }
            #expect(looksLikeSTUN || bytes[0] > 3)
            _ = try? view.mappedAddress
            _ = try? view.xorMappedAddress
            _ = try? view.username
            _ = try? view.usernameBytes
            _ = try? view.software
            _ = try? view.realm
            _ = try? view.nonce
            _ = try? view.priority
            _ = try? view.useCandidate
            _ = try? view.iceControlling
            _ = try? view.iceControlled
            _ = try? view.errorCode
            _ = try? view.unknownAttributes
            _ = view.fingerprint
            _ = view.messageIntegrity
            _ = view.messageIntegritySHA256
            _ = view.verifyMessageIntegrity(key: Self.key)
            _ = view.verifyMessageIntegritySHA256(key: Self.key)
            _ = view.verifyFingerprint()
            #expect(view.hasUnknownComprehensionRequiredAttributes == !view.unknownComprehensionRequired.isEmpty)
            for attribute in view.attributes {
                #expect(attribute.valueRange.upperBound <= bytes.count)
                #expect(attribute.value.count == attribute.valueRange.count)
            }
            return true
        }
        guard let message = try? STUNMessage(decoding: bytes) else { return false }
        #expect(viewDecoded)
        do {
            let reencoded = try message.encoded(integrity: Self.key, fingerprint: true)
            let again = try STUNMessage(decoding: reencoded)
            #expect(withoutComputed(again) == withoutComputed(message))
            try STUNMessageView.withParsed(reencoded) { view in
                #expect(view.verifyMessageIntegrity(key: Self.key))
                #expect(view.verifyFingerprint())
            }
        } catch {
            Issue.record("re-encoding a decoded message failed: \(error)")
        }
        return true
    }
}
