/// Encodes one STUN message by appending attributes straight into a byte buffer.
///
/// With a reused buffer of sufficient capacity, encoding allocates nothing — including
/// MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT, which ``finish(integrity:integritySHA256:fingerprint:)``
/// computes in place:
///
/// ```swift
/// var writer = STUNMessageWriter(type: STUNMessageType(method: .binding, messageClass: .successResponse),
///                                transactionID: request.transactionID, reusing: &buffer)
/// try writer.append(.xorMappedAddress(source))
/// buffer = try writer.finish(integrity: key, fingerprint: true)
/// ```
///
/// Appending ``STUNAttribute/messageIntegrity(_:)``, ``STUNAttribute/messageIntegritySHA256(_:)``,
/// ``STUNAttribute/fingerprint(_:)`` (or `.other` with their types) does nothing: those are only
/// ever produced by `finish`. Padding bytes are zero.
///
/// The writer is non-copyable so that `finish` truly moves the buffer out: a copy would share the
/// storage and force a reallocation on the next write, and a finished writer cannot be reused.
public struct STUNMessageWriter: ~Copyable, Sendable {
    private var bytes: [UInt8]
    private let transactionID: STUNTransactionID

    /// Starts a message, taking over `buffer`'s storage (its contents are discarded, its capacity
    /// kept; `buffer` is left empty). Hand the result of `finish` back to `buffer` to reuse it.
    public init(type: STUNMessageType, transactionID: STUNTransactionID, reusing buffer: inout [UInt8]) {
        var storage: [UInt8] = []
        swap(&storage, &buffer)
        storage.removeAll(keepingCapacity: true)
        // RFC 8489 §5: type, length (patched by `finish`), magic cookie, transaction ID.
        storage.appendBigEndian(type.rawValue)
        storage.appendBigEndian(UInt16(0))
        storage.appendBigEndian(STUNMessageView.magicCookie)
        transactionID.append(to: &storage)
        bytes = storage
        self.transactionID = transactionID
    }

    /// Starts a message in a fresh buffer.
    public init(type: STUNMessageType, transactionID: STUNTransactionID) {
        var buffer: [UInt8] = []
        self.init(type: type, transactionID: transactionID, reusing: &buffer)
    }

    /// Appends one attribute. On error nothing is appended.
    public mutating func append(_ attribute: STUNAttribute) throws(STUNEncodeError) {
        typealias T = STUNAttributeType
        switch attribute {
        case .mappedAddress(let address):
            try appendAddress(address, type: T.mappedAddress)
        case .xorMappedAddress(let address):
            try appendAddress(address.xored(with: transactionID), type: T.xorMappedAddress)
        case .username(let text):
            try appendText(text, type: T.username)
        case .realm(let text):
            try appendText(text, type: T.realm)
        case .nonce(let text):
            try appendText(text, type: T.nonce)
        case .software(let text):
            try appendText(text, type: T.software)
        case .messageIntegrity, .messageIntegritySHA256, .fingerprint:
            return
        case .errorCode(let error):
            // RFC 8489 §14.8: 21 zero bits, class (3 bits), number (8 bits), reason phrase.
            let errorClass = error.code / 100
            guard (3...6).contains(errorClass) else {
                throw .invalidAttribute(type: T.errorCode, reason: .invalidErrorClass(UInt8(clamping: errorClass)))
            }
            let reasonLength = try Self.checkedTextLength(error.reason, type: T.errorCode)
            try appendAttribute(T.errorCode, length: 4 + reasonLength) { out in
                out.appendBigEndian(UInt16(0))
                out.append(UInt8(truncatingIfNeeded: errorClass))
                out.append(UInt8(truncatingIfNeeded: error.code % 100))
                out.append(contentsOf: error.reason.utf8)
            }
        case .unknownAttributes(let types):
            // RFC 8489 §14.13: a list of 16-bit types, padded like any value.
            try appendAttribute(T.unknownAttributes, length: 2 * types.count) { out in
                for type in types {
                    out.appendBigEndian(type)
                }
            }
        case .priority(let priority):
            try appendAttribute(T.priority, length: 4) { $0.appendBigEndian(priority) }
        case .useCandidate:
            try appendAttribute(T.useCandidate, length: 0) { _ in }
        case .iceControlled(let tieBreaker):
            try appendAttribute(T.iceControlled, length: 8) { $0.appendBigEndian(tieBreaker) }
        case .iceControlling(let tieBreaker):
            try appendAttribute(T.iceControlling, length: 8) { $0.appendBigEndian(tieBreaker) }
        case .other(let type, let value):
            guard !T.isComputedByWriter(type) else { return }
            try appendAttribute(type, length: value.count) { $0.append(contentsOf: value) }
        }
    }

    /// Appends MESSAGE-INTEGRITY (if `integrity`), then MESSAGE-INTEGRITY-SHA256 with the full 32
    /// bytes (if `integritySHA256`), then FINGERPRINT (if `fingerprint`) — the order RFC 8489
    /// §14.5–§14.7 requires — sets the header length and returns the message.
    public consuming func finish(
        integrity: STUNIntegrityKey? = nil,
        integritySHA256: STUNIntegrityKey? = nil,
        fingerprint: Bool = false
    ) throws(STUNEncodeError) -> [UInt8] {
        if let integrity {
            try appendMAC(integrity.sha1, type: STUNAttributeType.messageIntegrity, length: 20)
        }
        if let integritySHA256 {
            try appendMAC(integritySHA256.sha256, type: STUNAttributeType.messageIntegritySHA256, length: 32)
        }
        if fingerprint {
            // RFC 8489 §14.7: CRC-32 over the message up to FINGERPRINT, length field including it.
            setBodyLength(bytes.count + 8 - STUNLimits.headerSize)
            var crc = CRC32()
            bytes.withUnsafeBytes { crc.update($0) }
            let value = crc.value ^ STUNMessageView.fingerprintXOR
            try appendAttribute(STUNAttributeType.fingerprint, length: 4) { $0.appendBigEndian(value) }
        }
        setBodyLength(bytes.count - STUNLimits.headerSize)
        return bytes
    }

    /// RFC 8489 §14.5/§14.6: the HMAC input is the message up to the attribute before this one,
    /// with the length field already covering this attribute.
    private mutating func appendMAC<Core>(_ hmac: HMACState<Core>, type: UInt16, length: Int) throws(STUNEncodeError) {
        setBodyLength(bytes.count + 4 + length - STUNLimits.headerSize)
        let mac = bytes.withUnsafeBytes { hmac.authenticationCode($0) }
        try appendAttribute(type, length: length) { out in
            mac.withUnsafeBytes { out.append(contentsOf: $0.stunSlice(0..<length)) }
        }
    }

    /// RFC 8489 §14.1: reserved zero byte, family, port, address.
    private mutating func appendAddress(_ address: TransportAddress, type: UInt16) throws(STUNEncodeError) {
        switch address.ip {
        case .v4(let ip):
            try appendAttribute(type, length: 8) { out in
                out.append(0)
                out.append(STUNAttribute.ipv4Family)
                out.appendBigEndian(address.port)
                out.appendBigEndian(ip.rawValue)
            }
        case .v6(let ip):
            try appendAttribute(type, length: 20) { out in
                out.append(0)
                out.append(STUNAttribute.ipv6Family)
                out.appendBigEndian(address.port)
                out.appendBigEndian(ip.high)
                out.appendBigEndian(ip.low)
            }
        }
    }

    private mutating func appendText(_ text: String, type: UInt16) throws(STUNEncodeError) {
        let length = try Self.checkedTextLength(text, type: type)
        try appendAttribute(type, length: length) { $0.append(contentsOf: text.utf8) }
    }

    /// The UTF-8 length of `text`, which must not exceed ``STUNLimits/maximumTextLength``.
    private static func checkedTextLength(_ text: String, type: UInt16) throws(STUNEncodeError) -> Int {
        let length = text.utf8.count
        guard length <= STUNLimits.maximumTextLength else {
            throw .invalidAttribute(type: type, reason: .textTooLong(length))
        }
        return length
    }

    /// Appends a TLV whose value `writeValue` writes (exactly `length` bytes), then zero padding
    /// to a multiple of 4 (RFC 8489 §14). Checks the size limit before writing anything.
    private mutating func appendAttribute(_ type: UInt16, length: Int, _ writeValue: (inout [UInt8]) -> Void) throws(STUNEncodeError) {
        let paddedLength = (length + 3) & ~3
        let bodyLength = bytes.count - STUNLimits.headerSize + 4 + paddedLength
        guard bodyLength <= STUNLimits.maximumMessageSize - STUNLimits.headerSize else {
            throw .messageTooLarge(bodyLength: bodyLength)
        }
        bytes.appendBigEndian(type)
        bytes.appendBigEndian(UInt16(truncatingIfNeeded: length))
        writeValue(&bytes)
        for _ in length..<paddedLength {
            bytes.append(0)
        }
    }

    /// Writes the header's message length field (RFC 8489 §5).
    private mutating func setBodyLength(_ length: Int) {
        bytes[2] = UInt8(truncatingIfNeeded: length &>> 8)
        bytes[3] = UInt8(truncatingIfNeeded: length)
    }
}
