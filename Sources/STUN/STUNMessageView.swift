/// One attribute of a ``STUNMessageView``: its type and its value bytes (without padding),
/// pointing into the viewed buffer. Subject to the same lifetime rule as the view.
public struct STUNRawAttribute {
    /// The attribute type.
    public let type: UInt16
    /// The value bytes, excluding padding. Valid only while the viewed buffer is.
    public let value: UnsafeRawBufferPointer
    /// Where the value lies within the message (byte offsets from the start of the header).
    public let valueRange: Range<Int>
}

@available(*, unavailable, message: "points into a caller-owned buffer")
extension STUNRawAttribute: Sendable {}

/// A zero-copy, allocation-free, validated view of a STUN message (RFC 8489 §5, §14).
///
/// - Important: **Lifetime rule.** The view stores the `UnsafeRawBufferPointer` it was created
///   from and never copies the packet. It — and every ``STUNRawAttribute`` or value buffer obtained
///   from it — is valid **only while that buffer is alive and unmodified**. Create it inside
///   `Array.withUnsafeBytes` / `ByteBuffer.withUnsafeReadableBytes`, use it within that closure
///   (typically for the whole of a sans-IO `handle(packet:)` call) and never store or return it.
///   Copy out what must outlive the closure (``STUNMessage/init(_:)``, `String`s, addresses).
///   ``withParsed(_:_:)`` does this scoping for an `[UInt8]`. The view is deliberately not
///   `Sendable`.
///
/// ``init(_:)`` validates the whole structure in one linear pass without allocating. Afterwards:
/// - Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, and
///   attributes after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT, are ignored (RFC 8489
///   §14.5, §14.6): neither ``attributes`` nor any accessor shows them.
/// - Typed accessors find the first visible attribute of their type by rescanning the short TLV
///   list. They return `nil` when it is absent and throw
///   ``STUNDecodeError/invalidAttribute(type:reason:)`` when it is present but malformed.
///   Nothing in the decoder traps on any input.
public struct STUNMessageView {
    /// The magic cookie 0x2112A442 (RFC 8489 §5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// RFC 8489 §14.7: the CRC-32 is XORed with 0x5354554E ("STUN").
    static let fingerprintXOR: UInt32 = 0x5354_554E

    /// The whole message, header included. Valid only while the caller's buffer is.
    public let bytes: UnsafeRawBufferPointer
    /// The message type (method and class).
    public let messageType: STUNMessageType
    /// The transaction ID.
    public let transactionID: STUNTransactionID
    /// Offset of the MESSAGE-INTEGRITY attribute that ends the protected region, if any.
    let messageIntegrityOffset: Int?
    /// Offset of the visible MESSAGE-INTEGRITY-SHA256 attribute, if any.
    let messageIntegritySHA256Offset: Int?
    /// Offset of the FINGERPRINT attribute (always the last one), if any.
    let fingerprintOffset: Int?
    /// Offset of the first integrity attribute (or `bytes.count`); attributes up to it are visible.
    private let firstIntegrityOffset: Int
    /// Whether a visible attribute has a comprehension-required type (0x0000–0x7FFF) this codec
    /// does not know. RFC 8489 §6.3.1: a request then gets a 420 answer listing them
    /// (``unknownComprehensionRequired``); a response is discarded.
    public private(set) var hasUnknownComprehensionRequiredAttributes = false

    /// Validates `bytes` as one STUN message without copying or allocating.
    ///
    /// Checks, in order (RFC 8489 §5, §6.3, §14): at least 20 bytes; at most
    /// ``STUNLimits/maximumMessageSize``; top two bits zero; magic cookie; length a multiple of 4
    /// and equal to `bytes.count - 20`; at most ``STUNLimits/maximumAttributeCount`` attributes, each
    /// fitting with its padding; MESSAGE-INTEGRITY exactly 20 bytes, MESSAGE-INTEGRITY-SHA256 16...32
    /// bytes in steps of 4, FINGERPRINT 4 bytes and last. Other attribute values are checked lazily
    /// by the accessors.
    ///
    /// The view keeps `bytes`: see the lifetime rule in the type documentation.
    public init(_ bytes: UnsafeRawBufferPointer) throws(STUNDecodeError) {
        typealias T = STUNAttributeType
        let count = bytes.count
        guard count >= STUNLimits.headerSize else { throw .tooShort(count: count) }
        guard count <= STUNLimits.maximumMessageSize else { throw .messageTooLarge(count: count) }
        // RFC 8489 §5: the most significant two bits of every STUN message are zero.
        guard bytes[0] & 0xC0 == 0 else { throw .notSTUN }
        let cookie = bytes.stunUInt32(at: 4)
        guard cookie == Self.magicCookie else { throw .badMagicCookie(cookie) }
        // RFC 8489 §5: the length excludes the header and is a multiple of 4 (attributes are padded).
        let declared = Int(bytes.stunUInt16(at: 2))
        guard declared % 4 == 0 else { throw .lengthNotMultipleOfFour(declared: declared) }
        guard declared == count - STUNLimits.headerSize else {
            throw .lengthMismatch(declared: declared, actual: count - STUNLimits.headerSize)
        }

        var integrity: Int?
        var integritySHA256: Int?
        var fingerprint: Int?
        var attributeCount = 0
        var offset = STUNLimits.headerSize
        while offset < count {
            // RFC 8489 §14.7: FINGERPRINT, when present, is the last attribute.
            guard fingerprint == nil else { throw .fingerprintNotLast(offset: offset) }
            attributeCount += 1
            guard attributeCount <= STUNLimits.maximumAttributeCount else {
                throw .tooManyAttributes(limit: STUNLimits.maximumAttributeCount)
            }
            let attribute = Self.tlv(in: bytes, at: offset)
            guard attribute.end <= count else { throw .attributeOverflow(type: attribute.type, offset: offset) }
            let length = attribute.valueRange.count
            switch attribute.type {
            // RFC 8489 §14.5: the first MESSAGE-INTEGRITY ends the protected region; one after
            // MESSAGE-INTEGRITY-SHA256 is ignored (§14.6), as are duplicates.
            case T.messageIntegrity where integrity == nil && integritySHA256 == nil:
                guard length == 20 else { throw .invalidAttribute(type: attribute.type, reason: .wrongLength(length)) }
                integrity = offset
            // RFC 8489 §14.6: 16 to 32 bytes, a multiple of 4; it may follow MESSAGE-INTEGRITY.
            case T.messageIntegritySHA256 where integritySHA256 == nil:
                guard (16...32).contains(length), length % 4 == 0 else {
                    throw .invalidAttribute(type: attribute.type, reason: .wrongLength(length))
                }
                integritySHA256 = offset
            // RFC 8489 §14.7: a 32-bit CRC.
            case T.fingerprint:
                guard length == 4 else { throw .invalidAttribute(type: attribute.type, reason: .wrongLength(length)) }
                fingerprint = offset
            default:
                break
            }
            offset = attribute.end
        }

        self.bytes = bytes
        messageType = STUNMessageType(fourteenBits: bytes.stunUInt16(at: 0))
        transactionID = STUNTransactionID(reading: bytes, at: 8)
        messageIntegrityOffset = integrity
        messageIntegritySHA256Offset = integritySHA256
        fingerprintOffset = fingerprint
        firstIntegrityOffset = min(integrity ?? count, integritySHA256 ?? count)
        hasUnknownComprehensionRequiredAttributes = attributes.contains { STUNAttributeType.isUnknownComprehensionRequired($0.type) }
    }

    /// Type, value range and padded end of the attribute whose header starts at `offset`.
    private struct TLV {
        let type: UInt16
        let valueRange: Range<Int>
        /// Offset just past the value's padding (RFC 8489 §14: values are padded to 4 bytes).
        let end: Int
    }

    /// Reads the attribute header at `offset`. `offset + 4 <= bytes.count` always holds here:
    /// offsets are multiples of 4 below a total length that is itself a multiple of 4. The value
    /// range is only known to fit once ``init(_:)`` has checked `end`.
    private static func tlv(in bytes: UnsafeRawBufferPointer, at offset: Int) -> TLV {
        let start = offset + 4
        let length = Int(bytes.stunUInt16(at: offset + 2))
        return TLV(type: bytes.stunUInt16(at: offset), valueRange: start..<(start + length), end: start + (length + 3) & ~3)
    }

    /// The attribute at a validated offset.
    func attribute(at offset: Int) -> STUNRawAttribute {
        attribute(Self.tlv(in: bytes, at: offset))
    }

    private func attribute(_ tlv: TLV) -> STUNRawAttribute {
        STUNRawAttribute(type: tlv.type, value: bytes.stunSlice(tlv.valueRange), valueRange: tlv.valueRange)
    }

    /// Cheap demultiplexing test (RFC 7983 §7, RFC 8489 §5): at least 20 bytes, first byte 0...3,
    /// and the magic cookie. Does not validate the rest; use ``init(_:)`` for that.
    public static func looksLikeSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.count >= STUNLimits.headerSize && bytes[0] <= 3 && bytes.stunUInt32(at: 4) == magicCookie
    }

    /// Validates `bytes` and runs `body` with a view that must not escape it. The scoped,
    /// safe entry point for callers holding an `[UInt8]`.
    public static func withParsed<R>(_ bytes: [UInt8], _ body: (STUNMessageView) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { try body(STUNMessageView($0)) }
    }

    /// The method.
    public var method: STUNMethod {
        messageType.method
    }

    /// The class.
    public var messageClass: STUNMessageClass {
        messageType.messageClass
    }

    // MARK: Attributes

    /// The visible attributes in order, without allocating (see the type documentation for which
    /// attributes are ignored).
    public var attributes: Attributes {
        Attributes(view: self)
    }

    /// Iterates the visible attributes of a view. Valid only while the viewed buffer is.
    public struct Attributes: Sequence, IteratorProtocol {
        private let view: STUNMessageView
        private var offset = STUNLimits.headerSize

        init(view: STUNMessageView) {
            self.view = view
        }

        /// The next visible attribute, or `nil` at the end.
        public mutating func next() -> STUNRawAttribute? {
            while offset < view.bytes.count {
                let tlv = STUNMessageView.tlv(in: view.bytes, at: offset)
                defer { offset = tlv.end }
                if view.isVisible(offset: offset) {
                    return view.attribute(tlv)
                }
            }
            return nil
        }
    }

    /// RFC 8489 §14.5, §14.6: everything up to the first integrity attribute is visible; after
    /// it, only the recorded MESSAGE-INTEGRITY-SHA256 and FINGERPRINT.
    private func isVisible(offset: Int) -> Bool {
        offset <= firstIntegrityOffset || offset == messageIntegritySHA256Offset || offset == fingerprintOffset
    }

    /// The value of the first visible attribute of `type`, without copying.
    public func value(ofType type: UInt16) -> UnsafeRawBufferPointer? {
        attributes.first { $0.type == type }?.value
    }

    /// The visible comprehension-required attribute types this codec does not know, in order,
    /// for a 420 response's UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1). Allocates; check
    /// ``hasUnknownComprehensionRequiredAttributes`` first on hot paths.
    public var unknownComprehensionRequired: [UInt16] {
        attributes.compactMap { STUNAttributeType.isUnknownComprehensionRequired($0.type) ? $0.type : nil }
    }

    /// Whether a visible MESSAGE-INTEGRITY is present.
    public var hasMessageIntegrity: Bool {
        messageIntegrityOffset != nil
    }

    /// Whether a visible MESSAGE-INTEGRITY-SHA256 is present.
    public var hasMessageIntegritySHA256: Bool {
        messageIntegritySHA256Offset != nil
    }

    /// Whether FINGERPRINT is present.
    public var hasFingerprint: Bool {
        fingerprintOffset != nil
    }
}

@available(*, unavailable, message: "points into a caller-owned buffer")
extension STUNMessageView: Sendable {}

@available(*, unavailable, message: "points into a caller-owned buffer")
extension STUNMessageView.Attributes: Sendable {}

// MARK: - Typed accessors

extension STUNMessageView {
    private typealias T = STUNAttributeType

    /// MAPPED-ADDRESS (RFC 8489 §14.1); `nil` if absent.
    public var mappedAddress: TransportAddress? {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.mappedAddress) else { return nil }
            return try STUNAttribute.decodeAddress(value, type: T.mappedAddress)
        }
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), un-XORed; `nil` if absent.
    public var xorMappedAddress: TransportAddress? {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.xorMappedAddress) else { return nil }
            return try STUNAttribute.decodeAddress(value, type: T.xorMappedAddress).xored(with: transactionID)
        }
    }

    /// USERNAME bytes (RFC 8489 §14.3) without copying — compare them against the expected
    /// `"local:remote"` ICE username without allocating; `nil` if absent. Length-checked, not UTF-8-checked.
    public var usernameBytes: UnsafeRawBufferPointer? {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.username) else { return nil }
            return try STUNAttribute.checkTextLength(value, type: T.username)
        }
    }

    /// USERNAME (RFC 8489 §14.3) as a `String`; `nil` if absent.
    public var username: String? {
        get throws(STUNDecodeError) { try text(T.username) }
    }

    /// SOFTWARE (RFC 8489 §14.14); `nil` if absent.
    public var software: String? {
        get throws(STUNDecodeError) { try text(T.software) }
    }

    /// REALM (RFC 8489 §14.9); `nil` if absent.
    public var realm: String? {
        get throws(STUNDecodeError) { try text(T.realm) }
    }

    /// NONCE (RFC 8489 §14.10); `nil` if absent.
    public var nonce: String? {
        get throws(STUNDecodeError) { try text(T.nonce) }
    }

    private func text(_ type: UInt16) throws(STUNDecodeError) -> String? {
        guard let value = value(ofType: type) else { return nil }
        return try STUNAttribute.decodeText(value, type: type)
    }

    /// PRIORITY (RFC 8445 §7.1.1); `nil` if absent.
    public var priority: UInt32? {
        get throws(STUNDecodeError) { try integer(T.priority) }
    }

    /// ICE-CONTROLLING's tie-breaker (RFC 8445 §7.1.3); `nil` if absent.
    public var iceControlling: UInt64? {
        get throws(STUNDecodeError) { try integer(T.iceControlling) }
    }

    /// ICE-CONTROLLED's tie-breaker (RFC 8445 §7.1.3); `nil` if absent.
    public var iceControlled: UInt64? {
        get throws(STUNDecodeError) { try integer(T.iceControlled) }
    }

    private func integer<Value: FixedWidthInteger & UnsignedInteger>(_ type: UInt16) throws(STUNDecodeError) -> Value? {
        guard let value = value(ofType: type) else { return nil }
        return try STUNAttribute.decodeInteger(value, type: type)
    }

    /// Whether USE-CANDIDATE (RFC 8445 §7.1.2) is present; throws if it has a value.
    public var useCandidate: Bool {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.useCandidate) else { return false }
            try STUNAttribute.requireLength(value, 0, type: T.useCandidate)
            return true
        }
    }

    /// ERROR-CODE (RFC 8489 §14.8); `nil` if absent.
    public var errorCode: STUNErrorCode? {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.errorCode) else { return nil }
            return try STUNAttribute.decodeErrorCode(value)
        }
    }

    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13) as received; `nil` if absent. Allocates.
    public var unknownAttributes: [UInt16]? {
        get throws(STUNDecodeError) {
            guard let value = value(ofType: T.unknownAttributes) else { return nil }
            return try STUNAttribute.decodeTypeList(value)
        }
    }

    /// The received FINGERPRINT value (RFC 8489 §14.7); `nil` if absent. See ``verifyFingerprint()``.
    public var fingerprint: UInt32? {
        guard let fingerprintOffset else { return nil }
        return attribute(at: fingerprintOffset).value.stunUInt32(at: 0)
    }

    /// The received 20-byte MESSAGE-INTEGRITY value, without copying; `nil` if absent.
    public var messageIntegrity: UnsafeRawBufferPointer? {
        messageIntegrityOffset.map { attribute(at: $0).value }
    }

    /// The received MESSAGE-INTEGRITY-SHA256 value (16...32 bytes), without copying; `nil` if absent.
    public var messageIntegritySHA256: UnsafeRawBufferPointer? {
        messageIntegritySHA256Offset.map { attribute(at: $0).value }
    }
}
