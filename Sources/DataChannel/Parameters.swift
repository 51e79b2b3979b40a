/// The options of a data channel, like W3C `RTCDataChannelInit` plus the label.
public struct DataChannelParameters: Sendable, Hashable {
    /// The channel label (W3C `label`), at most ``DataChannelLimits/maximumLabelLength`` UTF-8 bytes.
    public var label: String
    /// The sub-protocol (W3C `protocol`), at most ``DataChannelLimits/maximumLabelLength`` UTF-8 bytes.
    public var `protocol`: String
    /// Whether messages are delivered in order.
    public var ordered: Bool
    /// Partial reliability by retransmission count (RFC 8832 §5.1 PARTIAL_RELIABLE_REXMIT).
    /// Exclusive with ``maxPacketLifeTime``. A remote OPEN's 32-bit parameter is clamped to `UInt16.max`.
    public var maxRetransmits: UInt16?
    /// Partial reliability by lifetime in milliseconds (RFC 8832 §5.1 PARTIAL_RELIABLE_TIMED).
    /// Exclusive with ``maxRetransmits``.
    public var maxPacketLifeTime: UInt32?
    /// Whether the channel is negotiated out of band (RFC 8831 §6.5): no DCEP, both sides open it
    /// with the same ``id``.
    public var negotiated: Bool
    /// The SCTP stream id. Required when ``negotiated``; ignored otherwise (as in W3C), the manager
    /// allocates one (RFC 8832 §6). Filled in by ``DataChannelManager/parameters(of:)``.
    public var id: UInt16?
    /// The priority sent in DATA_CHANNEL_OPEN (RFC 8832 §5.1); 256 is W3C's default "low".
    public var priority: UInt16

    /// Parameters with W3C defaults: ordered, reliable, in-band (DCEP), priority 256.
    public init(
        label: String = "", protocol: String = "", ordered: Bool = true, maxRetransmits: UInt16? = nil,
        maxPacketLifeTime: UInt32? = nil, negotiated: Bool = false, id: UInt16? = nil, priority: UInt16 = 256
    ) {
        self.label = label
        self.protocol = `protocol`
        self.ordered = ordered
        self.maxRetransmits = maxRetransmits
        self.maxPacketLifeTime = maxPacketLifeTime
        self.negotiated = negotiated
        self.id = id
        self.priority = priority
    }

    /// The reliability these options select.
    ///
    /// - Throws: ``DataChannelError/Reason/conflictingReliability`` when both limits are set
    ///   (W3C `createDataChannel` throws a TypeError).
    func reliability() throws(DataChannelError) -> DataChannelReliability {
        switch (maxRetransmits, maxPacketLifeTime) {
        case (nil, nil): .reliable
        case (let count?, nil): .partialReliableRexmit(UInt32(count))
        case (nil, let milliseconds?): .partialReliableTimed(milliseconds)
        case (.some, .some): throw DataChannelError(.conflictingReliability)
        }
    }

    /// The parameters of a channel the peer opened on `stream` with `open` (RFC 8832 §6).
    init(remoteOpen open: DataChannelOpen, stream: UInt16) {
        var maxRetransmits: UInt16?, maxPacketLifeTime: UInt32?
        switch open.reliability {
        case .reliable: break
        case .partialReliableRexmit(let count): maxRetransmits = UInt16(clamping: count)
        case .partialReliableTimed(let milliseconds): maxPacketLifeTime = milliseconds
        }
        self.init(
            label: open.label, protocol: open.protocol, ordered: open.ordered, maxRetransmits: maxRetransmits,
            maxPacketLifeTime: maxPacketLifeTime, negotiated: false, id: stream, priority: open.priority)
    }
}

/// A channel's life cycle (W3C `RTCDataChannelState`).
public enum DataChannelState: Sendable, Hashable {
    /// Opened locally, waiting for the transport or the peer's DATA_CHANNEL_ACK.
    case connecting
    /// Messages can be sent and received.
    case open
    /// A stream reset is under way (RFC 8831 §6.7); waiting for both directions to be reset.
    case closing
    /// Both directions are reset. The manager forgets a channel once closed (its id becomes free and
    /// ``DataChannelManager/state(of:)`` returns `nil`); this case is for channel objects built on top.
    case closed
}

/// Bounds and defaults of the data-channel layer.
public enum DataChannelLimits {
    /// Longest label or protocol in UTF-8 bytes: its DCEP length field is 16 bits (RFC 8832 §5.1).
    public static let maximumLabelLength = Int(UInt16.max)
    /// Default number of SCTP streams in each direction, so of channels (matches `SCTPConfiguration`).
    public static let defaultMaximumStreams: UInt16 = 256
    /// The peer's message size limit when its SDP has no `a=max-message-size` (RFC 8841 §6.1).
    public static let defaultRemoteMaximumMessageSize = 65_536
}

/// Why the manager refused a call. Only caller mistakes and exhausted resources throw; hostile or
/// useless input from the peer is dropped and counted in ``DataChannelDropCounters``.
public struct DataChannelError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Reason: Sendable, Hashable {
        /// Both `maxRetransmits` and `maxPacketLifeTime` are set.
        case conflictingReliability
        /// The label has this many UTF-8 bytes, more than ``DataChannelLimits/maximumLabelLength``.
        case labelTooLong(Int)
        /// The protocol has this many UTF-8 bytes, more than ``DataChannelLimits/maximumLabelLength``.
        case protocolTooLong(Int)
        /// A negotiated channel needs an explicit id (RFC 8831 §6.5).
        case missingNegotiatedID
        /// The negotiated id is not below the manager's `maximumStreams`.
        case streamIDOutOfRange(UInt16)
        /// The negotiated id belongs to a channel that is not yet closed.
        case streamIDInUse(UInt16)
        /// Every stream id of our parity below `maximumStreams` is in use (RFC 8832 §6).
        case streamsExhausted
        /// No channel has this id.
        case unknownChannel(UInt16)
        /// The channel is in this state, not ``DataChannelState/open`` (W3C InvalidStateError).
        case invalidState(DataChannelState)
        /// The message has `size` bytes, more than the peer accepts (`limit`, RFC 8841 §6).
        case messageTooLarge(size: Int, limit: Int)
        /// The transport closed: no channel can be opened any more.
        case transportClosed
    }

    /// Why.
    public var reason: Reason

    /// An error for `reason`.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A human-readable explanation.
    public var description: String {
        switch reason {
        case .conflictingReliability: "DataChannel: maxRetransmits and maxPacketLifeTime are exclusive"
        case .labelTooLong(let count): "DataChannel: label of \(count) bytes exceeds 65535"
        case .protocolTooLong(let count): "DataChannel: protocol of \(count) bytes exceeds 65535"
        case .missingNegotiatedID: "DataChannel: a negotiated channel needs an id"
        case .streamIDOutOfRange(let id): "DataChannel: stream id \(id) is not below maximumStreams"
        case .streamIDInUse(let id): "DataChannel: stream id \(id) is in use"
        case .streamsExhausted: "DataChannel: no free stream id"
        case .unknownChannel(let id): "DataChannel: no channel \(id)"
        case .invalidState(let state): "DataChannel: channel is \(state), not open"
        case .messageTooLarge(let size, let limit): "DataChannel: message of \(size) bytes exceeds \(limit)"
        case .transportClosed: "DataChannel: transport closed"
        }
    }
}

/// Message and byte counters of one channel, or of all channels together.
public struct DataChannelStatistics: Sendable, Hashable {
    /// Messages accepted by `send`.
    public var messagesSent = 0
    /// Payload bytes accepted by `send` (0 for empty messages: the padding byte is not counted).
    public var bytesSent = 0
    /// Messages delivered as ``DataChannelManagerEvent/message(id:_:)``.
    public var messagesReceived = 0
    /// Payload bytes delivered.
    public var bytesReceived = 0

    /// Zero counters.
    public init() {}
}

/// Input the manager discarded, by reason. Every hostile input from the peer lands in one of these.
public struct DataChannelDropCounters: Sendable, Hashable {
    /// PPID 50 payloads that are not valid DCEP (``DCEPParseError``).
    public var malformedDCEP = 0
    /// DATA_CHANNEL_OPENs on a stream of our parity or not below `maximumStreams` (RFC 8832 §6).
    public var openOnInvalidStream = 0
    /// DATA_CHANNEL_OPENs on a stream that already carries a channel (RFC 8832 §6).
    public var openOnStreamInUse = 0
    /// DATA_CHANNEL_ACKs on a stream with no channel of ours waiting for one.
    public var unexpectedAcknowledgements = 0
    /// User messages on a stream without a channel (e.g. before its OPEN, or after close).
    public var unknownStream = 0
    /// User messages on a channel that is not open (W3C: discarded unless open).
    public var channelNotOpen = 0
    /// PPID 51 messages that are not valid UTF-8.
    public var invalidUTF8 = 0
    /// Messages with the deprecated partial PPIDs 52 and 54 (RFC 8831 §8).
    public var deprecatedPPID = 0
    /// Messages with any other PPID.
    public var unknownPPID = 0
    /// Incoming stream resets on streams without a channel (includes the peer's answer to a
    /// rejected OPEN).
    public var resetOnUnknownStream = 0

    /// Zero counters.
    public init() {}
}

/// Counters of a ``DataChannelManager``.
public struct DataChannelManagerStatistics: Sendable, Hashable {
    /// Totals over every channel the manager has had, closed ones included.
    public var total = DataChannelStatistics()
    /// Discarded input.
    public var dropped = DataChannelDropCounters()
    /// Channels opened by the peer with DATA_CHANNEL_OPEN and accepted.
    public var remoteOpens = 0
    /// DATA_CHANNEL_OPENs refused with a stream reset (RFC 8832 §6), any reason.
    public var rejectedOpens = 0

    /// Zero counters.
    public init() {}
}
