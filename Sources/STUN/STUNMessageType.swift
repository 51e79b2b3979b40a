/// A STUN method: a 12-bit value (RFC 8489 §5, §18.2).
public struct STUNMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 12-bit method number.
    public let rawValue: UInt16

    /// Creates a method; `nil` if `rawValue` does not fit in 12 bits.
    public init?(rawValue: UInt16) {
        guard rawValue <= 0x0FFF else { return nil }
        self.rawValue = rawValue
    }

    /// Keeps the low 12 bits of `bits`.
    init(masking bits: UInt16) {
        rawValue = bits & 0x0FFF
    }

    /// Binding (0x001, RFC 8489 §18.2), the only method ICE uses.
    public static let binding = STUNMethod(masking: 0x001)

    /// `"Binding"` for Binding, otherwise the hexadecimal method number.
    public var description: String {
        self == .binding ? "Binding" : "0x" + String(rawValue, radix: 16)
    }
}

/// The class of a STUN message (RFC 8489 §5): the C1 and C0 bits.
public enum STUNMessageClass: UInt8, Sendable, Hashable, CaseIterable {
    /// 0b00: request.
    case request = 0b00
    /// 0b01: indication.
    case indication = 0b01
    /// 0b10: success response.
    case successResponse = 0b10
    /// 0b11: error response.
    case errorResponse = 0b11
}

/// A STUN message type: method and class interleaved into 14 bits (RFC 8489 §5, Figure 3).
public struct STUNMessageType: Hashable, Sendable, CustomStringConvertible {
    /// The method.
    public var method: STUNMethod
    /// The class.
    public var messageClass: STUNMessageClass

    /// Creates a message type from its parts.
    public init(method: STUNMethod, messageClass: STUNMessageClass) {
        self.method = method
        self.messageClass = messageClass
    }

    /// Decodes the 16-bit type field; `nil` if either of the two top bits is set.
    public init?(rawValue: UInt16) {
        guard rawValue & 0xC000 == 0 else { return nil }
        self.init(fourteenBits: rawValue)
    }

    // RFC 8489 §5: bit layout M11..M7 C1 M6..M4 C0 M3..M0 (top two bits zero).
    init(fourteenBits bits: UInt16) {
        method = STUNMethod(masking: (bits & 0x000F) | ((bits &>> 1) & 0x0070) | ((bits &>> 2) & 0x0F80))
        switch ((bits &>> 4) & 0b01) | ((bits &>> 7) & 0b10) {
        case 0b00: messageClass = .request
        case 0b01: messageClass = .indication
        case 0b10: messageClass = .successResponse
        default: messageClass = .errorResponse
        }
    }

    /// The 16-bit type field (RFC 8489 §5).
    public var rawValue: UInt16 {
        let m = method.rawValue
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) &<< 1) | ((m & 0x0F80) &<< 2) | ((c & 0b01) &<< 4) | ((c & 0b10) &<< 7)
    }

    /// For example `"Binding request"`.
    public var description: String {
        "\(method) \(messageClass)"
    }
}
