/// Configuration of one ``SCTPAssociation``.
///
/// Every value is per association (applied with socket options before `connect`); the process-wide usrsctp
/// tunables are fixed in `USRSCTPStack` and documented there.
public struct SCTPConfiguration: Sendable, Hashable {
    /// Our SCTP port (`a=sctp-port`, RFC 8841 §5). WebRTC uses 5000 on both sides.
    public var localPort: UInt16 = 5000
    /// The peer's SCTP port (`a=sctp-port` of the remote description).
    public var remotePort: UInt16 = 5000
    /// The path MTU given to usrsctp (`spp_pathmtu`, path-MTU discovery off). usrsctp does not count the
    /// 12-byte SCTP common header in it, so 1188 produces 1200-byte packets, the DTLS datagram budget.
    public var pathMTU: UInt32 = 1188
    /// `SO_SNDBUF`: bytes usrsctp accepts before `send` throws ``SCTPError/Reason/wouldBlock``.
    /// At least 1 MiB is needed to keep a 1200-byte-packet path busy at tens of MB/s.
    public var sendBufferSize: Int = 4 << 20
    /// `SO_RCVBUF`: our advertised receive window. Must exceed ``maximumMessageSize`` (usrsctp delivers
    /// partially once a message reaches half of it).
    public var receiveBufferSize: Int = 4 << 20
    /// Streams requested in each direction (`SCTP_INITMSG`); the association uses min(ours, peer's).
    /// usrsctp allocates and initialises per-stream state for all of them when the association is
    /// set up (about 100 bytes per stream for both directions), so 1024 cost about 100 KiB per
    /// connection. 256 streams hold 128 channels opened by each side at once (RFC 8832 §6 ids by
    /// parity, the lowest free one first), far beyond what applications open; RFC 8831 §6.2's
    /// 65535 would cost 6.5 MiB per connection in usrsctp.
    public var maximumStreams: UInt16 = 256
    /// The largest message we send or accept (what SDP `a=max-message-size` advertises, RFC 8841 §6).
    /// Also the partial-delivery point, so every message up to this size is delivered in one piece.
    public var maximumMessageSize: Int = 262_144
    /// While the association is alive, ``SCTPAssociation/nextTimeout`` is `now + timerTick`: usrsctp exposes
    /// no next-timer deadline, so its process-wide timer wheel is advanced at this granularity.
    public var timerTick: Duration = .milliseconds(10)

    /// Creates a configuration; every parameter defaults to the documented value.
    public init(
        localPort: UInt16 = 5000,
        remotePort: UInt16 = 5000,
        pathMTU: UInt32 = 1188,
        sendBufferSize: Int = 4 << 20,
        receiveBufferSize: Int = 4 << 20,
        maximumStreams: UInt16 = 256,
        maximumMessageSize: Int = 262_144,
        timerTick: Duration = .milliseconds(10)
    ) {
        self.localPort = localPort
        self.remotePort = remotePort
        self.pathMTU = pathMTU
        self.sendBufferSize = sendBufferSize
        self.receiveBufferSize = receiveBufferSize
        self.maximumStreams = maximumStreams
        self.maximumMessageSize = maximumMessageSize
        self.timerTick = timerTick
    }

    /// Smallest accepted ``pathMTU`` (usrsctp's `SCTP_SMALLEST_PMTU`).
    public static let minimumPathMTU: UInt32 = 512
    /// Largest accepted ``pathMTU``: an SCTP packet must fit one DTLS record (RFC 6347 §4.1: 2^14 bytes).
    public static let maximumPathMTU: UInt32 = 16_384 - 12
    /// Smallest accepted send or receive buffer.
    public static let minimumBufferSize = 64 * 1024
    /// Largest accepted send or receive buffer (usrsctp stores them as `int`/`uint32_t`).
    public static let maximumBufferSize = 1 << 30
    /// Smallest accepted ``timerTick``.
    public static let minimumTimerTick: Duration = .milliseconds(1)
}

/// RFC 3758 partial reliability of one message (RFC 8831 §6.1 channel types).
public enum SCTPReliability: Sendable, Hashable {
    /// Retransmitted until acknowledged.
    case reliable
    /// `SCTP_PR_SCTP_RTX`: abandoned after this many retransmissions (0: sent once).
    case maxRetransmits(UInt16)
    /// `SCTP_PR_SCTP_TTL`: abandoned when not acknowledged within this lifetime.
    case maxPacketLifeTime(milliseconds: UInt32)
}

/// One whole message received on a stream.
public struct SCTPReceivedMessage: Sendable, Hashable {
    /// The stream identifier (RFC 4960 §3.3.1).
    public var stream: UInt16
    /// The payload protocol identifier in host byte order (RFC 8831 §8: 50 DCEP, 51 string, 53 binary, …).
    public var ppid: UInt32
    /// The whole message (reassembled until `MSG_EOR`).
    public var data: [UInt8]

    /// Creates a message value.
    public init(stream: UInt16, ppid: UInt32, data: [UInt8]) {
        self.stream = stream
        self.ppid = ppid
        self.data = data
    }
}

/// What the association reports through ``SCTPAssociation/pollEvent()``.
public enum SCTPEvent: Sendable, Hashable {
    /// The association is established (`SCTP_COMM_UP`).
    case connected
    /// A whole message (reassembled until `MSG_EOR`).
    case message(SCTPReceivedMessage)
    /// RFC 6525: the peer reset these streams. The association has already answered by resetting our outgoing
    /// side of each of them (unless we had requested that ourselves), so a channel never hangs half-closed.
    case incomingStreamsReset([UInt16])
    /// Our reset of these outgoing streams completed (RFC 6525 §5.2.2 response "success performed").
    case outgoingStreamsReset([UInt16])
    /// The send buffer has room again after a ``SCTPError/Reason/wouldBlock``.
    case writable
    /// The association is gone: SHUTDOWN complete, ABORT received, peer lost, or never established.
    case closed
}

/// An error from ``SCTPAssociation``.
public struct SCTPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Why the operation failed.
    public enum Reason: Sendable, Hashable {
        /// The send buffer is full (or a partially accepted message is still being pushed): retry on
        /// ``SCTPEvent/writable``.
        case wouldBlock
        /// The message exceeds ``SCTPConfiguration/maximumMessageSize``.
        case messageTooLarge
        /// The stream is not below the negotiated number of outgoing streams.
        case invalidStream
        /// The association is not established yet.
        case notConnected
        /// The association is closing or closed.
        case closed
        /// usrsctp refused a call.
        case usrsctp(errno: Int32, call: String)
        /// Addition: an empty message (RFC 4960 §3.3.1 DATA needs at least one byte; RFC 8831 §6.6 sends
        /// empty messages as one zero byte with PPID 56/57).
        case emptyMessage
        /// Addition: a configuration value is outside its documented bounds.
        case invalidConfiguration(String)
    }

    /// Why the operation failed.
    public var reason: Reason

    /// Creates an error.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A human-readable description.
    public var description: String {
        switch reason {
        case .wouldBlock: "SCTP send buffer full (retry on .writable)"
        case .messageTooLarge: "SCTP message too large"
        case .invalidStream: "SCTP stream out of range"
        case .notConnected: "SCTP association not connected"
        case .closed: "SCTP association closed"
        case .usrsctp(let errno, let call): "usrsctp \(call) failed: errno \(errno)"
        case .emptyMessage: "SCTP cannot send an empty message"
        case .invalidConfiguration(let what): "invalid SCTP configuration: \(what)"
        }
    }
}

/// Counters of one association.
public struct SCTPStatistics: Sendable, Hashable {
    /// SCTP packets handed out by ``SCTPAssociation/pollTransmit()`` (queued for it).
    public var packetsSent = 0
    /// Bytes of those packets.
    public var bytesSent = 0
    /// Packets given to ``SCTPAssociation/handlePacket(_:now:)`` and passed to usrsctp.
    public var packetsReceived = 0
    /// Bytes of those packets.
    public var bytesReceived = 0
    /// Packets refused before usrsctp: shorter than the common header, longer than a DTLS record, more than
    /// the early-packet bound before `connect`, or after the association was released.
    public var packetsDropped = 0
    /// Messages accepted by ``SCTPAssociation/send(_:stream:ppid:ordered:reliability:)``.
    public var messagesSent = 0
    /// Whole messages delivered as ``SCTPEvent/message(_:)``.
    public var messagesReceived = 0
    /// Incoming messages larger than ``SCTPConfiguration/maximumMessageSize``, dropped.
    public var messagesDroppedOversize = 0
    /// DATA chunks usrsctp sent again (a TSN not above the highest TSN already sent; RFC 4960 §6.3.3, §7.2.4).
    public var retransmittedChunks = 0
    /// Messages abandoned by PR-SCTP (RFC 3758), as counted by usrsctp (`SCTP_PR_ASSOC_STATUS`).
    public var abandonedMessages = 0
    /// Stream-reset requests the peer denied or that failed (RFC 6525 §4.4 results other than success).
    public var streamResetFailures = 0

    /// Creates zeroed counters.
    public init() {}
}
