import SDP

/// Which side of the DTLS handshake this endpoint plays (RFC 6347).
///
/// The caller maps SDP `a=setup` to it (RFC 8842 §5.2): `active` is the
/// client, `passive` the server.
public enum DTLSRole: Sendable, Hashable {
    /// Sends the ClientHello.
    case client
    /// Waits for the ClientHello.
    case server
}

/// Settings of one DTLS session.
public struct DTLSConfiguration: Sendable, Hashable {
    /// The accepted range of ``maximumDatagramSize``: from the IPv4 minimum
    /// reassembly size to the largest UDP payload.
    public static let supportedDatagramSizes = 576...65_507

    /// The largest UDP payload the session emits, record headers included.
    /// Every datagram, handshake or data, stays within it. 1200 by default,
    /// the size WebRTC stacks use to stay under common path MTUs.
    public var maximumDatagramSize: Int
    /// How long the handshake may take from ``DTLSSession/start(now:)``
    /// before the session fails with ``DTLSError/Reason/handshakeTimeout``.
    public var handshakeTimeout: Duration
    /// The first retransmission timeout of a handshake flight, doubled on each retransmission up
    /// to 60 s. From 1 ms to 60 s. 100 ms by default, as RFC 9147 §5.8.2 recommends for
    /// real-time applications (RFC 6347 §4.2.4.1 said 1 s): only handshake flights are
    /// retransmitted, and with 1 s a lossy path (30 % loss) often ran out of the 30 s handshake
    /// timeout after five lost rounds.
    public var initialRetransmissionTimeout: Duration

    /// Creates a configuration.
    public init(
        maximumDatagramSize: Int = 1200,
        handshakeTimeout: Duration = .seconds(30),
        initialRetransmissionTimeout: Duration = .milliseconds(100)
    ) {
        self.maximumDatagramSize = maximumDatagramSize
        self.handshakeTimeout = handshakeTimeout
        self.initialRetransmissionTimeout = initialRetransmissionTimeout
    }
}

/// What the handshake negotiated.
public struct DTLSConnectionInfo: Sendable, Hashable {
    /// The protocol version as OpenSSL names it: `"DTLSv1.2"`.
    public var protocolVersion: String
    /// The cipher suite's IANA name (the W3C `dtlsCipher` statistic), such as
    /// `"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"`.
    public var cipherSuite: String
    /// The remote SDP fingerprint the peer certificate matched.
    public var remoteFingerprint: Fingerprint

    /// Creates connection info.
    public init(protocolVersion: String, cipherSuite: String, remoteFingerprint: Fingerprint) {
        self.protocolVersion = protocolVersion
        self.cipherSuite = cipherSuite
        self.remoteFingerprint = remoteFingerprint
    }
}

/// The life cycle of a session; it mirrors the W3C `RTCDtlsTransportState`.
public enum DTLSState: Sendable, Hashable {
    /// Created, not started.
    case new
    /// Handshaking.
    case connecting
    /// Handshake done and the peer certificate verified; data flows.
    case connected
    /// Closed by close_notify from either side.
    case closed
    /// Failed; see the ``DTLSEvent/failed(_:)`` event for why.
    case failed
}

/// Something the caller must learn about, drained with ``DTLSSession/pollEvent()``.
public enum DTLSEvent: Sendable, Hashable {
    /// The handshake finished and the peer certificate matched a remote fingerprint.
    case connected(DTLSConnectionInfo)
    /// The peer sent close_notify, or a local ``DTLSSession/close(now:)`` finished.
    case closed
    /// The session failed; it sends and accepts nothing more.
    case failed(DTLSError)
}

/// Counters of one session; they only grow.
public struct DTLSStatistics: Sendable, Hashable {
    /// Datagrams passed to ``DTLSSession/handleDatagram(_:now:applicationData:)``.
    public var datagramsReceived = 0
    /// Their bytes.
    public var bytesReceived = 0
    /// Datagrams queued for ``DTLSSession/pollTransmit()``.
    public var datagramsSent = 0
    /// Their bytes.
    public var bytesSent = 0
    /// Datagrams dropped before OpenSSL saw them because a record header was
    /// invalid or truncated (RFC 6347 §4.1.2.7: invalid records are
    /// discarded). Records with valid headers that fail authentication are
    /// dropped inside OpenSSL and not counted here.
    public var malformedDatagrams = 0
    /// Datagrams ignored because the session was closed or failed, or (for
    /// a client) not started yet.
    public var ignoredDatagrams = 0
    /// Datagrams dropped while the session waited for the remote
    /// fingerprints and its holding buffer was full.
    public var heldDatagramsDropped = 0
    /// Datagrams dropped because the transmit queue was full.
    public var transmitQueueDrops = 0
    /// Application-data records delivered.
    public var recordsReceived = 0
    /// Application-data records sealed by ``DTLSSession/send(_:)``.
    public var recordsSent = 0
    /// Handshake flight retransmissions (RFC 6347 §4.2.4).
    public var retransmissions = 0
    /// What the ``RecordReorderBuffer`` in front of the session did, when its owner uses one.
    public var reordering = RecordReorderBuffer.Counters()

    /// Creates zeroed statistics.
    public init() {}
}

/// A DTLS session driven by its caller, sans I/O: feed datagrams and timer
/// expiries in, drain datagrams and events out. The seam for a future
/// DTLS 1.3 backend.
///
/// Driving loop: ``handleDatagram(_:now:applicationData:)`` or
/// ``handleTimeout(now:)`` → drain ``pollTransmit()`` and ``pollEvent()`` →
/// arm a timer for ``nextTimeout``.
public protocol DTLSSession: AnyObject {
    /// The current state.
    var state: DTLSState { get }
    /// When ``handleTimeout(now:)`` should run next, or `nil` when no timer is due.
    var nextTimeout: ContinuousClock.Instant? { get }
    /// Starts the handshake. A client queues its ClientHello; a server waits.
    func start(now: ContinuousClock.Instant)
    /// One received datagram. Decrypted application data is handed to
    /// `applicationData` (a borrowed buffer, valid only during the call — no
    /// allocation per record on this path); handshake output and events are queued.
    func handleDatagram(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant, applicationData: (UnsafeRawBufferPointer) -> Void)
    /// Runs due timers: retransmission and the handshake timeout.
    func handleTimeout(now: ContinuousClock.Instant)
    /// Seals `data` as ONE record into one datagram (queued for
    /// ``pollTransmit()``). Throws notConnected/closed/messageTooLarge.
    func send(_ data: UnsafeRawBufferPointer) throws(DTLSError)
    /// Sends close_notify (RFC 5246 §7.2.1) and closes.
    func close(now: ContinuousClock.Instant)
    /// The next datagram to send, or `nil`.
    func pollTransmit() -> [UInt8]?
    /// The next event, or `nil`.
    func pollEvent() -> DTLSEvent?
    /// The remote SDP fingerprints (RFC 8122 §5). They may arrive after
    /// ``start(now:)`` (answer after offer); verification waits for them.
    func setRemoteFingerprints(_ fingerprints: [Fingerprint])
}
