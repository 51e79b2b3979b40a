/// How a channel's messages are (re)transmitted: the reliability half of a DCEP channel type
/// (RFC 8832 §5.1); the other half, ordered or unordered delivery, is a separate flag.
///
/// Maps onto SCTP partial reliability (RFC 3758, RFC 7496) in the composition.
public enum DataChannelReliability: Sendable, Hashable {
    /// Fully reliable (DATA_CHANNEL_RELIABLE 0x00 / DATA_CHANNEL_RELIABLE_UNORDERED 0x80); the
    /// reliability parameter is sent as 0 and ignored on receipt.
    case reliable
    /// Retransmitted at most this many times (DATA_CHANNEL_PARTIAL_RELIABLE_REXMIT 0x01 / 0x81).
    case partialReliableRexmit(UInt32)
    /// Retransmitted until this many milliseconds after the first transmission
    /// (DATA_CHANNEL_PARTIAL_RELIABLE_TIMED 0x02 / 0x82).
    case partialReliableTimed(UInt32)

    /// The low bits of the channel type (RFC 8832 §5.1).
    var channelTypeBits: UInt8 {
        switch self {
        case .reliable: 0x00
        case .partialReliableRexmit: 0x01
        case .partialReliableTimed: 0x02
        }
    }

    /// The DCEP reliability parameter (RFC 8832 §5.1): 0 for reliable channels.
    var parameter: UInt32 {
        switch self {
        case .reliable: 0
        case .partialReliableRexmit(let count): count
        case .partialReliableTimed(let milliseconds): milliseconds
        }
    }

    /// The reliability of channel-type low bits `bits` with reliability parameter `parameter`, or
    /// `nil` for a channel type RFC 8832 §5.1 does not define.
    init?(channelTypeBits bits: UInt8, parameter: UInt32) {
        switch bits {
        case 0x00: self = .reliable // RFC 8832 §5.1: the parameter "MUST be ignored" here.
        case 0x01: self = .partialReliableRexmit(parameter)
        case 0x02: self = .partialReliableTimed(parameter)
        default: return nil
        }
    }
}

/// A DATA_CHANNEL_OPEN message (RFC 8832 §5.1).
///
/// ```
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |  Message Type |  Channel Type |            Priority           |
/// |                    Reliability Parameter                      |
/// |         Label Length          |       Protocol Length         |
/// |                             Label                             |
/// |                            Protocol                           |
/// ```
public struct DataChannelOpen: Sendable, Hashable {
    /// Whether messages are delivered in order (channel type bit 0x80 clear).
    public var ordered: Bool
    /// The retransmission policy (channel type low bits and reliability parameter).
    public var reliability: DataChannelReliability
    /// The channel priority (RFC 8832 §5.1, values from RFC 8831 §6.4, e.g. 256 for W3C "low").
    public var priority: UInt16
    /// The channel label, at most ``DataChannelLimits/maximumLabelLength`` UTF-8 bytes.
    public private(set) var label: String
    /// The sub-protocol, at most ``DataChannelLimits/maximumLabelLength`` UTF-8 bytes.
    public private(set) var `protocol`: String

    /// An OPEN message.
    ///
    /// - Throws: ``DataChannelError/Reason/labelTooLong(_:)`` or
    ///   ``DataChannelError/Reason/protocolTooLong(_:)`` when a string does not fit its 16-bit length field.
    public init(
        ordered: Bool, reliability: DataChannelReliability, priority: UInt16, label: String, protocol: String
    ) throws(DataChannelError) {
        guard label.utf8.count <= DataChannelLimits.maximumLabelLength else {
            throw DataChannelError(.labelTooLong(label.utf8.count))
        }
        guard `protocol`.utf8.count <= DataChannelLimits.maximumLabelLength else {
            throw DataChannelError(.protocolTooLong(`protocol`.utf8.count))
        }
        self.ordered = ordered
        self.reliability = reliability
        self.priority = priority
        self.label = label
        self.protocol = `protocol`
    }

    /// The channel type byte (RFC 8832 §5.1): 0x80 marks unordered, the low bits the reliability.
    public var channelType: UInt8 {
        (ordered ? 0 : DCEPMessage.unorderedFlag) | reliability.channelTypeBits
    }

    /// Parses the fields after the message type of an OPEN in `bytes` (the whole message).
    init(parsingOpen bytes: UnsafeRawBufferPointer) throws(DCEPParseError) {
        var reader = ByteReader(bytes)
        guard reader.skip(1),
              let channelType = reader.read(UInt8.self),
              let priority = reader.read(UInt16.self),
              let parameter = reader.read(UInt32.self),
              let labelLength = reader.read(UInt16.self),
              let protocolLength = reader.read(UInt16.self)
        else { throw .truncatedOpen(count: bytes.count) }
        guard let reliability = DataChannelReliability(
            channelTypeBits: channelType & ~DCEPMessage.unorderedFlag, parameter: parameter)
        else { throw .unknownChannelType(channelType) }
        // RFC 8832 §5.1: the message is exactly the header, the label and the protocol.
        let expected = DCEPMessage.openHeaderSize + Int(labelLength) + Int(protocolLength)
        guard bytes.count == expected,
              let labelBytes = reader.take(Int(labelLength)),
              let protocolBytes = reader.take(Int(protocolLength))
        else { throw .lengthMismatch(expected: expected, actual: bytes.count) }
        // RFC 8832 §5.1: label and protocol are UTF-8 strings.
        guard let label = validatedUTF8(labelBytes) else { throw .invalidLabel }
        guard let `protocol` = validatedUTF8(protocolBytes) else { throw .invalidProtocol }
        self.ordered = channelType & DCEPMessage.unorderedFlag == 0
        self.reliability = reliability
        self.priority = priority
        self.label = label
        self.protocol = `protocol`
    }
}

/// A Data Channel Establishment Protocol message (RFC 8832 §5), carried with PPID 50.
public enum DCEPMessage: Sendable, Hashable {
    /// DATA_CHANNEL_OPEN (message type 0x03, RFC 8832 §5.1).
    case open(DataChannelOpen)
    /// DATA_CHANNEL_ACK (message type 0x02, RFC 8832 §5.2): the message type byte alone.
    case ack

    /// Message type of DATA_CHANNEL_ACK (RFC 8832 §8.2.1).
    static let ackType: UInt8 = 0x02
    /// Message type of DATA_CHANNEL_OPEN (RFC 8832 §8.2.1).
    static let openType: UInt8 = 0x03
    /// Channel type bit for unordered delivery (RFC 8832 §5.1).
    static let unorderedFlag: UInt8 = 0x80
    /// Bytes of an OPEN before the label (RFC 8832 §5.1).
    static let openHeaderSize = 12

    /// Parses one DCEP message; the length must match exactly (no trailing bytes). Never traps.
    ///
    /// - Throws: ``DCEPParseError`` describing the first problem found.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(DCEPParseError) {
        guard let type = bytes.first else { throw .empty }
        switch type {
        case Self.ackType:
            guard bytes.count == 1 else { throw .lengthMismatch(expected: 1, actual: bytes.count) }
            self = .ack
        case Self.openType:
            self = .open(try DataChannelOpen(parsingOpen: bytes))
        default:
            throw .unknownMessageType(type)
        }
    }

    /// The message's wire encoding (RFC 8832 §5), big-endian fields.
    public func serialized() -> [UInt8] {
        switch self {
        case .ack:
            return [Self.ackType]
        case .open(let open):
            let label = open.label.utf8, subprotocol = open.protocol.utf8
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Self.openHeaderSize + label.count + subprotocol.count)
            bytes.append(Self.openType)
            bytes.append(open.channelType)
            bytes.appendBigEndian(open.priority)
            bytes.appendBigEndian(open.reliability.parameter)
            // Both counts fit: DataChannelOpen's initializer enforces maximumLabelLength.
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: label.count))
            bytes.appendBigEndian(UInt16(truncatingIfNeeded: subprotocol.count))
            bytes.append(contentsOf: label)
            bytes.append(contentsOf: subprotocol)
            return bytes
        }
    }
}

/// Why bytes received with PPID 50 are not a valid DCEP message.
public enum DCEPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No bytes at all.
    case empty
    /// The first byte is neither DATA_CHANNEL_OPEN (0x03) nor DATA_CHANNEL_ACK (0x02) (RFC 8832 §8.2.1).
    case unknownMessageType(UInt8)
    /// An OPEN shorter than its 12-byte fixed header (RFC 8832 §5.1).
    case truncatedOpen(count: Int)
    /// An OPEN channel type not defined by RFC 8832 §5.1.
    case unknownChannelType(UInt8)
    /// The message size differs from what its fields declare: an OPEN whose label and protocol lengths
    /// run past the end or leave trailing bytes, or an ACK longer than one byte.
    case lengthMismatch(expected: Int, actual: Int)
    /// The OPEN label is not valid UTF-8 (RFC 8832 §5.1).
    case invalidLabel
    /// The OPEN protocol is not valid UTF-8 (RFC 8832 §5.1).
    case invalidProtocol

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .empty: "DCEP: empty message"
        case .unknownMessageType(let type): "DCEP: unknown message type 0x\(String(type, radix: 16))"
        case .truncatedOpen(let count): "DCEP: OPEN of \(count) bytes is shorter than its 12-byte header"
        case .unknownChannelType(let type): "DCEP: unknown channel type 0x\(String(type, radix: 16))"
        case .lengthMismatch(let expected, let actual): "DCEP: message declares \(expected) bytes but has \(actual)"
        case .invalidLabel: "DCEP: label is not valid UTF-8"
        case .invalidProtocol: "DCEP: protocol is not valid UTF-8"
        }
    }
}

/// A bounds-checked big-endian reader over untrusted bytes: every read returns `nil` rather than trap.
struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The next `count` bytes, or `nil` (consuming nothing) if fewer remain.
    mutating func take(_ count: Int) -> Slice<UnsafeRawBufferPointer>? {
        guard count >= 0, count <= bytes.count - offset else { return nil }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    /// Skips `count` bytes; `false` if fewer remain.
    mutating func skip(_ count: Int) -> Bool {
        take(count) != nil
    }

    /// The next big-endian unsigned integer, or `nil` if too few bytes remain.
    mutating func read<Value: FixedWidthInteger & UnsignedInteger>(_: Value.Type) -> Value? {
        take(MemoryLayout<Value>.size).map { $0.reduce(Value.zero) { $0 << 8 | Value($1) } }
    }
}

extension [UInt8] {
    /// Appends `value` most significant byte first (network order).
    mutating func appendBigEndian<Value: FixedWidthInteger>(_ value: Value) {
        for shift in stride(from: Value.bitWidth - 8, through: 0, by: -8) {
            append(UInt8(truncatingIfNeeded: value >> shift))
        }
    }
}
