/// STUN attribute type numbers (RFC 8489 §18.3, RFC 8445 §16.1) and their classification.
public enum STUNAttributeType {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    public static let mappedAddress: UInt16 = 0x0001
    /// USERNAME (RFC 8489 §14.3).
    public static let username: UInt16 = 0x0006
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5).
    public static let messageIntegrity: UInt16 = 0x0008
    /// ERROR-CODE (RFC 8489 §14.8).
    public static let errorCode: UInt16 = 0x0009
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    public static let unknownAttributes: UInt16 = 0x000A
    /// REALM (RFC 8489 §14.9).
    public static let realm: UInt16 = 0x0014
    /// NONCE (RFC 8489 §14.10).
    public static let nonce: UInt16 = 0x0015
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    public static let messageIntegritySHA256: UInt16 = 0x001C
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    public static let xorMappedAddress: UInt16 = 0x0020
    /// PRIORITY (RFC 8445 §7.1.1, §16.1).
    public static let priority: UInt16 = 0x0024
    /// USE-CANDIDATE (RFC 8445 §7.1.2, §16.1).
    public static let useCandidate: UInt16 = 0x0025
    /// SOFTWARE (RFC 8489 §14.14).
    public static let software: UInt16 = 0x8022
    /// FINGERPRINT (RFC 8489 §14.7).
    public static let fingerprint: UInt16 = 0x8028
    /// ICE-CONTROLLED (RFC 8445 §7.1.3, §16.1).
    public static let iceControlled: UInt16 = 0x8029
    /// ICE-CONTROLLING (RFC 8445 §7.1.3, §16.1).
    public static let iceControlling: UInt16 = 0x802A

    /// RFC 8489 §14: types 0x0000–0x7FFF are comprehension-required, 0x8000–0xFFFF comprehension-optional.
    public static func isComprehensionRequired(_ type: UInt16) -> Bool {
        type < 0x8000
    }

    /// Whether this codec understands `type` (has a typed ``STUNAttribute`` case for it).
    public static func isKnown(_ type: UInt16) -> Bool {
        switch type {
        case mappedAddress, username, messageIntegrity, errorCode, unknownAttributes, realm, nonce,
             messageIntegritySHA256, xorMappedAddress, priority, useCandidate, software, fingerprint,
             iceControlled, iceControlling:
            true
        default:
            false
        }
    }

    /// RFC 8489 §6.3.1: a comprehension-required type this codec does not know, which a request
    /// answers with 420 (Unknown Attribute).
    static func isUnknownComprehensionRequired(_ type: UInt16) -> Bool {
        isComprehensionRequired(type) && !isKnown(type)
    }

    /// The attributes a writer computes itself instead of copying (MESSAGE-INTEGRITY,
    /// MESSAGE-INTEGRITY-SHA256, FINGERPRINT).
    static func isComputedByWriter(_ type: UInt16) -> Bool {
        type == messageIntegrity || type == messageIntegritySHA256 || type == fingerprint
    }
}

/// An ERROR-CODE value (RFC 8489 §14.8): a code 300...699 and a UTF-8 reason phrase.
public struct STUNErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The numeric code, `class * 100 + number`.
    public var code: UInt16
    /// The reason phrase.
    public var reason: String

    /// Creates an error code value. Encoding validates that `code` is in 300...699.
    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The hundreds digit (3...6 when valid).
    public var errorClass: UInt16 {
        code / 100
    }

    /// The code modulo 100.
    public var number: UInt16 {
        code % 100
    }

    /// 300 Try Alternate (RFC 8489 §14.8).
    public static let tryAlternate: UInt16 = 300
    /// 400 Bad Request (RFC 8489 §14.8).
    public static let badRequest: UInt16 = 400
    /// 401 Unauthenticated (RFC 8489 §14.8).
    public static let unauthenticated: UInt16 = 401
    /// 420 Unknown Attribute (RFC 8489 §14.8).
    public static let unknownAttribute: UInt16 = 420
    /// 438 Stale Nonce (RFC 8489 §14.8).
    public static let staleNonce: UInt16 = 438
    /// 487 Role Conflict (RFC 8445 §7.3.1.1).
    public static let roleConflict: UInt16 = 487
    /// 500 Server Error (RFC 8489 §14.8).
    public static let serverError: UInt16 = 500

    /// For example `"487 Role Conflict"`.
    public var description: String {
        "\(code) \(reason)"
    }
}

/// An owned, typed STUN attribute.
///
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT appear (with their received values)
/// when a message is decoded, but encoding never copies them: ``STUNMessageWriter`` computes them
/// from the key and flag given to ``STUNMessageWriter/finish(integrity:integritySHA256:fingerprint:)``.
public enum STUNAttribute: Sendable, Hashable {
    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    case mappedAddress(TransportAddress)
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), holding the plain (un-XORed) address.
    case xorMappedAddress(TransportAddress)
    /// USERNAME (RFC 8489 §14.3).
    case username(String)
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5): the received 20-byte HMAC-SHA1.
    case messageIntegrity([UInt8])
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): the received 16...32-byte HMAC-SHA256.
    case messageIntegritySHA256([UInt8])
    /// FINGERPRINT (RFC 8489 §14.7): the received value (CRC-32 XOR 0x5354554E).
    case fingerprint(UInt32)
    /// ERROR-CODE (RFC 8489 §14.8).
    case errorCode(STUNErrorCode)
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13): the types the sender did not understand.
    case unknownAttributes([UInt16])
    /// REALM (RFC 8489 §14.9).
    case realm(String)
    /// NONCE (RFC 8489 §14.10).
    case nonce(String)
    /// SOFTWARE (RFC 8489 §14.14).
    case software(String)
    /// PRIORITY (RFC 8445 §7.1.1).
    case priority(UInt32)
    /// USE-CANDIDATE (RFC 8445 §7.1.2), which has no value.
    case useCandidate
    /// ICE-CONTROLLED with its tie-breaker (RFC 8445 §7.1.3).
    case iceControlled(tieBreaker: UInt64)
    /// ICE-CONTROLLING with its tie-breaker (RFC 8445 §7.1.3).
    case iceControlling(tieBreaker: UInt64)
    /// Any other attribute, value without padding. Use it only for types that have no typed case:
    /// a known type encoded through `.other` is written verbatim and decodes as its typed case.
    case other(type: UInt16, value: [UInt8])

    /// The attribute's type number.
    public var type: UInt16 {
        switch self {
        case .mappedAddress: STUNAttributeType.mappedAddress
        case .xorMappedAddress: STUNAttributeType.xorMappedAddress
        case .username: STUNAttributeType.username
        case .messageIntegrity: STUNAttributeType.messageIntegrity
        case .messageIntegritySHA256: STUNAttributeType.messageIntegritySHA256
        case .fingerprint: STUNAttributeType.fingerprint
        case .errorCode: STUNAttributeType.errorCode
        case .unknownAttributes: STUNAttributeType.unknownAttributes
        case .realm: STUNAttributeType.realm
        case .nonce: STUNAttributeType.nonce
        case .software: STUNAttributeType.software
        case .priority: STUNAttributeType.priority
        case .useCandidate: STUNAttributeType.useCandidate
        case .iceControlled: STUNAttributeType.iceControlled
        case .iceControlling: STUNAttributeType.iceControlling
        case .other(let type, _): type
        }
    }

    /// Decodes one raw attribute of a validated message into its typed form.
    init(decoding raw: STUNRawAttribute, transactionID: STUNTransactionID) throws(STUNDecodeError) {
        typealias T = STUNAttributeType
        let value = raw.value
        let type = raw.type
        switch type {
        case T.mappedAddress: self = .mappedAddress(try Self.decodeAddress(value, type: type))
        case T.xorMappedAddress: self = .xorMappedAddress(try Self.decodeAddress(value, type: type).xored(with: transactionID))
        case T.username: self = .username(try Self.decodeText(value, type: type))
        case T.messageIntegrity: self = .messageIntegrity(Array(value))
        case T.messageIntegritySHA256: self = .messageIntegritySHA256(Array(value))
        case T.fingerprint: self = .fingerprint(try Self.decodeInteger(value, type: type))
        case T.errorCode: self = .errorCode(try Self.decodeErrorCode(value))
        case T.unknownAttributes: self = .unknownAttributes(try Self.decodeTypeList(value))
        case T.realm: self = .realm(try Self.decodeText(value, type: type))
        case T.nonce: self = .nonce(try Self.decodeText(value, type: type))
        case T.software: self = .software(try Self.decodeText(value, type: type))
        case T.priority: self = .priority(try Self.decodeInteger(value, type: type))
        case T.useCandidate:
            try Self.requireLength(value, 0, type: type)
            self = .useCandidate
        case T.iceControlled: self = .iceControlled(tieBreaker: try Self.decodeInteger(value, type: type))
        case T.iceControlling: self = .iceControlling(tieBreaker: try Self.decodeInteger(value, type: type))
        default: self = .other(type: type, value: Array(value))
        }
    }
}

// MARK: - Value decoders shared by STUNMessageView's accessors and STUNAttribute(decoding:)

extension STUNAttribute {
    /// RFC 8489 §14.1 address family values.
    static let ipv4Family: UInt8 = 0x01
    /// RFC 8489 §14.1 address family values.
    static let ipv6Family: UInt8 = 0x02

    static func requireLength(_ value: UnsafeRawBufferPointer, _ length: Int, type: UInt16) throws(STUNDecodeError) {
        guard value.count == length else {
            throw .invalidAttribute(type: type, reason: .wrongLength(value.count))
        }
    }

    /// RFC 8489 §14.1: reserved byte, family, port, then 4 (IPv4) or 16 (IPv6) address bytes.
    /// The reserved byte is ignored on receipt. Does not undo XOR-MAPPED-ADDRESS's XOR.
    static func decodeAddress(_ value: UnsafeRawBufferPointer, type: UInt16) throws(STUNDecodeError) -> TransportAddress {
        guard value.count >= 4 else { throw .invalidAttribute(type: type, reason: .wrongLength(value.count)) }
        let family = value[1]
        let port = value.stunUInt16(at: 2)
        switch family {
        case ipv4Family:
            try requireLength(value, 8, type: type)
            return TransportAddress(ip: .v4(IPv4Address(rawValue: value.stunUInt32(at: 4))), port: port)
        case ipv6Family:
            try requireLength(value, 20, type: type)
            let address = IPv6Address(high: value.stunUInt64(at: 4), low: value.stunUInt64(at: 12))
            return TransportAddress(ip: .v6(address), port: port)
        default:
            throw .invalidAttribute(type: type, reason: .unknownAddressFamily(family))
        }
    }

    /// A big-endian unsigned integer filling the whole value (PRIORITY, ICE-CONTROLLED/-CONTROLLING, FINGERPRINT).
    static func decodeInteger<Value: FixedWidthInteger & UnsignedInteger>(
        _ value: UnsafeRawBufferPointer, type: UInt16
    ) throws(STUNDecodeError) -> Value {
        try requireLength(value, MemoryLayout<Value>.size, type: type)
        return value.reduce(0) { $0 &<< 8 | Value($1) }
    }

    /// A text value's bytes after the RFC 8489 length limit check (no copy).
    static func checkTextLength(_ value: UnsafeRawBufferPointer, type: UInt16) throws(STUNDecodeError) -> UnsafeRawBufferPointer {
        guard value.count <= STUNLimits.maximumTextLength else {
            throw .invalidAttribute(type: type, reason: .textTooLong(value.count))
        }
        return value
    }

    /// A UTF-8 text value (USERNAME, REALM, NONCE, SOFTWARE, reason phrase). Invalid UTF-8 is an
    /// error rather than being repaired, so decode→encode reproduces the bytes.
    static func decodeText(_ value: UnsafeRawBufferPointer, type: UInt16) throws(STUNDecodeError) -> String {
        let bytes = try checkTextLength(value, type: type)
        let text = String(decoding: bytes, as: UTF8.self)
        // Decoding repairs invalid sequences with U+FFFD, so any repair changes the bytes.
        guard text.utf8.elementsEqual(bytes) else { throw .invalidAttribute(type: type, reason: .invalidUTF8) }
        return text
    }

    /// RFC 8489 §14.8: 21 reserved bits (ignored), 3-bit class 3...6, 8-bit number 0...99, reason phrase.
    static func decodeErrorCode(_ value: UnsafeRawBufferPointer) throws(STUNDecodeError) -> STUNErrorCode {
        let type = STUNAttributeType.errorCode
        guard value.count >= 4 else { throw .invalidAttribute(type: type, reason: .wrongLength(value.count)) }
        let errorClass = value[2] & 0x07
        let number = value[3]
        guard (3...6).contains(errorClass) else { throw .invalidAttribute(type: type, reason: .invalidErrorClass(errorClass)) }
        guard number < 100 else { throw .invalidAttribute(type: type, reason: .invalidErrorNumber(number)) }
        let reason = try decodeText(value.stunSlice(4..<value.count), type: type)
        return STUNErrorCode(code: UInt16(errorClass) * 100 + UInt16(number), reason: reason)
    }

    /// RFC 8489 §14.13: a list of 16-bit attribute types.
    static func decodeTypeList(_ value: UnsafeRawBufferPointer) throws(STUNDecodeError) -> [UInt16] {
        guard value.count % 2 == 0 else {
            throw .invalidAttribute(type: STUNAttributeType.unknownAttributes, reason: .wrongLength(value.count))
        }
        return stride(from: 0, to: value.count, by: 2).map { value.stunUInt16(at: $0) }
    }
}
