/// Why a typed attribute value is malformed.
public enum STUNAttributeProblem: Sendable, Hashable, CustomStringConvertible {
    /// The value has a length the attribute's definition does not allow.
    case wrongLength(Int)
    /// An address attribute carries a family other than 0x01 (IPv4) or 0x02 (IPv6) (RFC 8489 §14.1).
    case unknownAddressFamily(UInt8)
    /// A text attribute is not valid UTF-8.
    case invalidUTF8
    /// A text attribute is longer than ``STUNLimits/maximumTextLength`` bytes.
    case textTooLong(Int)
    /// ERROR-CODE class outside 3...6 (RFC 8489 §14.8).
    case invalidErrorClass(UInt8)
    /// ERROR-CODE number outside 0...99 (RFC 8489 §14.8).
    case invalidErrorNumber(UInt8)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .wrongLength(let length): "wrong value length \(length)"
        case .unknownAddressFamily(let family): "unknown address family \(family)"
        case .invalidUTF8: "text is not valid UTF-8"
        case .textTooLong(let length): "text of \(length) bytes exceeds \(STUNLimits.maximumTextLength)"
        case .invalidErrorClass(let errorClass): "error class \(errorClass) outside 3...6"
        case .invalidErrorNumber(let number): "error number \(number) outside 0...99"
        }
    }
}

/// Why bytes could not be decoded as a STUN message.
///
/// Structural errors come from ``STUNMessageView/init(_:)``; ``invalidAttribute(type:reason:)``
/// also comes from typed accessors and from ``STUNMessage/init(decoding:)``.
public enum STUNDecodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Fewer than the 20 header bytes (RFC 8489 §5).
    case tooShort(count: Int)
    /// More than ``STUNLimits/maximumMessageSize`` bytes.
    case messageTooLarge(count: Int)
    /// One of the two most significant bits of the message is set (RFC 8489 §5), so this is not STUN.
    case notSTUN
    /// The magic cookie is not 0x2112A442 (RFC 8489 §5).
    case badMagicCookie(UInt32)
    /// The header's message length is not a multiple of 4 (RFC 8489 §5).
    case lengthNotMultipleOfFour(declared: Int)
    /// The header's message length differs from the number of bytes after the header.
    case lengthMismatch(declared: Int, actual: Int)
    /// The attribute at `offset` (its header) declares a value that, padded to 4 bytes, runs past the end.
    case attributeOverflow(type: UInt16, offset: Int)
    /// The message has more than ``STUNLimits/maximumAttributeCount`` attributes.
    case tooManyAttributes(limit: Int)
    /// An attribute (at `offset`) follows FINGERPRINT, which must be last (RFC 8489 §14.7).
    case fingerprintNotLast(offset: Int)
    /// An attribute value is malformed for its type.
    case invalidAttribute(type: UInt16, reason: STUNAttributeProblem)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .tooShort(let count): "STUN message too short: \(count) bytes"
        case .messageTooLarge(let count): "STUN message too large: \(count) bytes"
        case .notSTUN: "not a STUN message: top two bits set"
        case .badMagicCookie(let cookie): "bad magic cookie 0x\(String(cookie, radix: 16))"
        case .lengthNotMultipleOfFour(let declared): "message length \(declared) not a multiple of 4"
        case .lengthMismatch(let declared, let actual): "message length \(declared) but \(actual) bytes follow the header"
        case .attributeOverflow(let type, let offset): "attribute 0x\(String(type, radix: 16)) at offset \(offset) overflows the message"
        case .tooManyAttributes(let limit): "more than \(limit) attributes"
        case .fingerprintNotLast(let offset): "attribute at offset \(offset) follows FINGERPRINT"
        case .invalidAttribute(let type, let reason): "invalid attribute 0x\(String(type, radix: 16)): \(reason)"
        }
    }
}

/// Why a STUN message could not be encoded.
public enum STUNEncodeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The message body would exceed ``STUNLimits/maximumMessageSize`` minus the header.
    case messageTooLarge(bodyLength: Int)
    /// An attribute value cannot be represented (e.g. ERROR-CODE outside 300...699, text too long).
    case invalidAttribute(type: UInt16, reason: STUNAttributeProblem)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .messageTooLarge(let bodyLength): "STUN message body of \(bodyLength) bytes is too large"
        case .invalidAttribute(let type, let reason): "cannot encode attribute 0x\(String(type, radix: 16)): \(reason)"
        }
    }
}
