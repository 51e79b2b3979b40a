import COpenSSL
import RTCCollections
import COpenSSLShim
import SDP

/// DTLS 1.2 (RFC 6347) over OpenSSL 3.0 memory BIOs, as WebRTC data channels
/// use it (RFC 8261 carries SCTP in its application data; RFC 8842 binds the
/// certificate to SDP `a=fingerprint`).
///
/// **Ownership and threads.** A session is single-owner and not `Sendable`:
/// call it from one thread or event loop at a time. OpenSSL's error queue is
/// per thread, and the session clears it before each checked call.
///
/// **Datagrams.** Every datagram the session emits is at most
/// ``DTLSConfiguration/maximumDatagramSize`` bytes (UDP payload): OpenSSL
/// fragments handshake messages to that MTU (`SSL_set_mtu` with
/// `SSL_OP_NO_QUERY_MTU`, RFC 6347 §4.1.1.1), the session packs handshake
/// records into datagrams up to that size and puts each application-data
/// record alone in its own datagram.
///
/// **Fingerprints.** The peer must present a certificate (both roles), and it
/// is accepted only if its digest equals one of the remote SDP fingerprints
/// (sha-1/224/256/384/512, RFC 8122 §5). When the peer's Certificate
/// message arrives before ``setRemoteFingerprints(_:)``, the session holds
/// that datagram and the ones after it (bounded) without showing them to
/// OpenSSL, and replays them as soon as the fingerprints arrive; so the
/// check always happens inside the handshake, a mismatch sends a fatal
/// `bad_certificate` alert and fails with ``DTLSError/Reason/fingerprintMismatch``,
/// and nothing is accepted from an unverified peer.
///
/// **Timers.** OpenSSL 3.0 times DTLS retransmissions with its own wall
/// clock and offers no way to inject time. ``nextTimeout`` maps OpenSSL's
/// remaining time onto the caller's clock from the `now` of the last call,
/// and ``handleTimeout(now:)`` asks OpenSSL to retransmit, which it does once
/// its wall-clock timer has expired. Driven by `ContinuousClock.now`, both
/// agree. The handshake timeout uses the caller's clock only.
public final class OpenSSLDTLSSession: DTLSSession {
    /// Datagrams ``pollTransmit()`` may hold; more are dropped and counted
    /// (a full socket buffer drops UDP the same way).
    public static let maximumQueuedDatagrams = 256
    /// Datagrams held while waiting for the remote fingerprints.
    public static let maximumHeldDatagrams = 32
    /// Bytes held while waiting for the remote fingerprints.
    public static let maximumHeldBytes = 65_536
    /// The largest retransmission timeout (RFC 6347 §4.2.4.1: at least 60 s).
    public static let maximumRetransmissionTimeout: Duration = .seconds(60)
    /// Supported ``DTLSConfiguration/initialRetransmissionTimeout`` values.
    static let supportedRetransmissionTimeouts: ClosedRange<Duration> = .milliseconds(1) ... maximumRetransmissionTimeout

    /// This endpoint's role.
    public let role: DTLSRole
    /// The configuration the session was made with.
    public let configuration: DTLSConfiguration
    /// The local certificate.
    public let certificate: DTLSCertificate
    /// The current state.
    public private(set) var state: DTLSState = .new
    /// Counters.
    public private(set) var statistics = DTLSStatistics()
    /// What the handshake negotiated, once connected.
    public private(set) var connectionInfo: DTLSConnectionInfo?
    /// The largest ``send(_:)`` once connected: the datagram size minus the
    /// record header and the cipher's expansion (`DTLS_get_data_mtu`; for
    /// AES-GCM 1200 − 13 header − 8 explicit nonce − 16 tag = 1163 bytes,
    /// for ChaCha20-Poly1305 1200 − 13 − 16 = 1171). `nil` before.
    public private(set) var maximumPlaintextSize: Int?

    private let ssl: OpaquePointer
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private let initialRetransmissionMicroseconds: UInt32
    /// `nil` until known; may be empty (then verification fails closed).
    private var remoteFingerprints: [Fingerprint]?
    private var matchedFingerprint: Fingerprint?
    private var verificationFailure: DTLSError.Reason?
    private var lastAlertReceived: (description: String, fatal: Bool)?
    private var isHolding = false
    private var held = FIFO<[UInt8]>()
    private var heldBytes = 0
    private var transmitQueue = FIFO<[UInt8]>()
    /// At most two events per session: connected, then closed or failed.
    private var events: [DTLSEvent] = []
    private var lastNow: ContinuousClock.Instant
    private var handshakeDeadline: ContinuousClock.Instant?

    /// Creates a session; nothing is sent until ``start(now:)``.
    /// - Parameters:
    ///   - role: client or server, from `a=setup` (RFC 8842 §5.2).
    ///   - certificate: the local certificate; may be shared by many sessions.
    ///   - remoteFingerprints: the peer's `a=fingerprint` values, or `[]` when
    ///     not known yet (then call ``setRemoteFingerprints(_:)`` later).
    ///   - configuration: datagram size and timers.
    ///   - now: the caller's current time.
    /// - Throws: ``DTLSError/Reason/invalidConfiguration(_:)`` or ``DTLSError/Reason/openSSL(_:)``.
    public init(
        role: DTLSRole,
        certificate: DTLSCertificate,
        remoteFingerprints: [Fingerprint],
        configuration: DTLSConfiguration = .init(),
        now: ContinuousClock.Instant
    ) throws(DTLSError) {
        guard DTLSConfiguration.supportedDatagramSizes.contains(configuration.maximumDatagramSize) else {
            throw DTLSError(.invalidConfiguration("maximumDatagramSize must be in \(DTLSConfiguration.supportedDatagramSizes)"))
        }
        guard configuration.handshakeTimeout > .zero else {
            throw DTLSError(.invalidConfiguration("handshakeTimeout must be positive"))
        }
        guard Self.supportedRetransmissionTimeouts.contains(configuration.initialRetransmissionTimeout) else {
            throw DTLSError(.invalidConfiguration("initialRetransmissionTimeout must be 1 ms ... 60 s"))
        }
        let (ssl, readBIO, writeBIO) = try Self.makeSSL(
            context: certificate.storage.context, role: role, mtu: configuration.maximumDatagramSize)
        self.role = role
        self.configuration = configuration
        self.certificate = certificate
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        self.initialRetransmissionMicroseconds = Self.microseconds(configuration.initialRetransmissionTimeout)
        self.remoteFingerprints = remoteFingerprints.isEmpty ? nil : remoteFingerprints
        self.lastNow = now
        // The callbacks reach the session through the SSL's app data. The
        // pointer is unretained: the session owns the SSL and clears it in
        // deinit before SSL_free.
        _ = rtc_SSL_set_app_data(ssl, Unmanaged.passUnretained(self).toOpaque())
        SSL_set_info_callback(ssl) { ssl, location, value in
            OpenSSLDTLSSession.session(of: ssl)?.noteInfo(location: location, value: value)
        }
        DTLS_set_timer_cb(ssl) { ssl, previous in
            OpenSSLDTLSSession.session(of: ssl)?.retransmissionTimeout(after: previous) ?? previous
        }
    }

    deinit {
        _ = rtc_SSL_set_app_data(ssl, nil)
        SSL_free(ssl)
    }

    /// Creates the SSL object with two memory BIOs (it owns them).
    private static func makeSSL(context: OpaquePointer, role: DTLSRole, mtu: Int) throws(DTLSError)
        -> (OpaquePointer, OpaquePointer, OpaquePointer)
    {
        ERR_clear_error()
        guard let ssl = SSL_new(context) else {
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "SSL_new failed")))
        }
        guard let readBIO = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "BIO_new failed")))
        }
        guard let writeBIO = BIO_new(BIO_s_mem()) else {
            BIO_free(readBIO)
            SSL_free(ssl)
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "BIO_new failed")))
        }
        // An empty memory BIO must read as "retry", not end of file.
        _ = rtc_BIO_set_mem_eof_return(readBIO, -1)
        _ = rtc_BIO_set_mem_eof_return(writeBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)
        switch role {
        case .client: SSL_set_connect_state(ssl)
        case .server: SSL_set_accept_state(ssl)
        }
        // With SSL_OP_NO_QUERY_MTU, d1->mtu is the datagram payload OpenSSL
        // fills: handshake fragments are cut so that records ≤ mtu, and
        // DTLS_get_data_mtu derives the plaintext limit from it.
        guard rtc_SSL_set_mtu(ssl, mtu) > 0 else {  // returns the MTU, or 0 when too small
            SSL_free(ssl)
            throw DTLSError(.invalidConfiguration("OpenSSL refused MTU \(mtu)"))
        }
        return (ssl, readBIO, writeBIO)
    }

    // MARK: - DTLSSession

    /// When ``handleTimeout(now:)`` should run next: the earlier of the
    /// retransmission timer (OpenSSL's remaining time added to the `now` of
    /// the last call) and the handshake deadline.
    public var nextTimeout: ContinuousClock.Instant? {
        guard state == .connecting || state == .connected else { return nil }
        var seconds = 0
        var microseconds = 0
        var retransmission: ContinuousClock.Instant?
        if rtc_DTLSv1_get_timeout(ssl, &seconds, &microseconds) == 1 {
            retransmission = lastNow + .seconds(seconds) + .microseconds(microseconds)
        }
        switch (retransmission, handshakeDeadline) {
        case let (timer?, deadline?): return min(timer, deadline)
        case let (timer, deadline): return timer ?? deadline
        }
    }

    /// Starts the handshake and its ``DTLSConfiguration/handshakeTimeout``.
    /// A client queues its ClientHello; a server waits. Ignored unless `new`.
    public func start(now: ContinuousClock.Instant) {
        guard state == .new else { return }
        lastNow = now
        state = .connecting
        handshakeDeadline = now + configuration.handshakeTimeout
        if role == .client {
            // Nothing can be read before the first flight: no data callback.
            advance { _ in }
        }
    }

    /// Processes one datagram.
    ///
    /// Datagrams whose record headers are invalid or truncated are dropped
    /// and counted (``DTLSStatistics/malformedDatagrams``); after close or
    /// failure everything is ignored and counted. A server that receives a
    /// datagram before ``start(now:)`` starts implicitly; a client ignores it.
    public func handleDatagram(
        _ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant,
        applicationData: (UnsafeRawBufferPointer) -> Void
    ) {
        lastNow = now
        statistics.datagramsReceived += 1
        statistics.bytesReceived += datagram.count
        if state == .new, role == .server { start(now: now) }
        guard state == .connecting || state == .connected else {
            statistics.ignoredDatagrams += 1
            return
        }
        guard DTLSRecords.isWellFormed(datagram) else {
            statistics.malformedDatagrams += 1
            return
        }
        // RFC 8842 §5 / RFC 8122 §5: the certificate can only be checked
        // against the remote fingerprints, so keep it from OpenSSL until then.
        if remoteFingerprints == nil, state == .connecting, isHolding || DTLSRecords.containsCertificate(datagram) {
            hold(datagram)
            return
        }
        ingest(datagram, applicationData: applicationData)
    }

    /// Runs the handshake timeout and OpenSSL's retransmission timer
    /// (RFC 6347 §4.2.4: the whole last flight is sent again).
    public func handleTimeout(now: ContinuousClock.Instant) {
        lastNow = now
        guard state == .connecting || state == .connected else { return }
        if state == .connecting, let deadline = handshakeDeadline, now >= deadline {
            fail(.handshakeTimeout)
            return
        }
        ERR_clear_error()
        if rtc_DTLSv1_handle_timeout(ssl) < 0 {
            fail(.openSSL(OpenSSLErrorQueue.drain(fallback: "DTLSv1_handle_timeout failed")))
            return
        }
        flushOutput()
    }

    /// Seals `data` as one application-data record in one datagram.
    ///
    /// An empty buffer sends nothing. If the transmit queue is full the
    /// datagram is dropped and counted, as a full socket buffer drops UDP.
    /// - Throws: ``DTLSError/Reason/notConnected`` before the handshake
    ///   finished, ``DTLSError/Reason/closed`` after close or failure,
    ///   ``DTLSError/Reason/messageTooLarge`` above ``maximumPlaintextSize``,
    ///   ``DTLSError/Reason/openSSL(_:)`` if OpenSSL refuses the write.
    public func send(_ data: UnsafeRawBufferPointer) throws(DTLSError) {
        switch state {
        case .connected: break
        case .new, .connecting: throw DTLSError(.notConnected)
        case .closed, .failed: throw DTLSError(.closed)
        }
        guard data.count <= maximumPlaintextSize ?? 0 else { throw DTLSError(.messageTooLarge) }
        guard let base = data.baseAddress, !data.isEmpty else { return }
        ERR_clear_error()
        let written = SSL_write(ssl, base, Int32(data.count))
        guard written == Int32(data.count) else {
            let code = SSL_get_error(ssl, written)
            throw DTLSError(.openSSL(OpenSSLErrorQueue.drain(fallback: "SSL_write failed, SSL_get_error \(code)")))
        }
        statistics.recordsSent += 1
        flushOutput()
    }

    /// Sends close_notify (RFC 5246 §7.2.1) when the handshake has finished
    /// (OpenSSL sends none during it), emits ``DTLSEvent/closed`` and ignores
    /// everything afterwards. Nothing happens after close or failure.
    public func close(now: ContinuousClock.Instant) {
        lastNow = now
        guard state != .closed, state != .failed else { return }
        if state == .connected {
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            flushOutput()
        }
        finish(.closed)
    }

    /// The next datagram to send, or `nil`.
    public func pollTransmit() -> [UInt8]? {
        transmitQueue.popFirst()
    }

    /// The next event, or `nil`.
    public func pollEvent() -> DTLSEvent? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// Sets the remote fingerprints (RFC 8122 §5; `a=fingerprint` of the
    /// remote description).
    ///
    /// If the handshake was waiting for them, the held datagrams are
    /// replayed now and the peer certificate is checked inside the
    /// handshake. If the session is already connected, the new set must
    /// still contain the verified certificate's fingerprint; otherwise the
    /// session sends close_notify (OpenSSL 3.0 cannot send another alert after
    /// the handshake) and fails with ``DTLSError/Reason/fingerprintMismatch``.
    /// An empty list or one without sha-1/224/256/384/512 fails verification
    /// with ``DTLSError/Reason/noRemoteFingerprint``.
    public func setRemoteFingerprints(_ fingerprints: [Fingerprint]) {
        remoteFingerprints = fingerprints
        switch state {
        case .connecting where isHolding:
            isHolding = false
            heldBytes = 0
            while let datagram = held.popFirst(), state == .connecting || state == .connected {
                // The peer cannot send application data before our next
                // flight, so held datagrams carry none; count any just in case.
                datagram.withUnsafeBytes { ingest($0) { _ in statistics.ignoredDatagrams += 1 } }
            }
            held.removeAll()
        case .connected:
            guard let peer = SSL_get0_peer_certificate(ssl), let failure = verify(peer) else { return }
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            fail(failure)
        default:
            break
        }
    }

    // MARK: - Engine

    private func hold(_ datagram: UnsafeRawBufferPointer) {
        isHolding = true
        guard heldBytes + datagram.count <= Self.maximumHeldBytes, held.count < Self.maximumHeldDatagrams else {
            statistics.heldDatagramsDropped += 1
            return
        }
        held.append(Array(datagram))
        heldBytes += datagram.count
    }

    private func ingest(_ datagram: UnsafeRawBufferPointer, applicationData: (UnsafeRawBufferPointer) -> Void) {
        guard let base = datagram.baseAddress else { return }
        // A memory BIO accepts everything (it grows); it is drained below.
        _ = BIO_write(readBIO, base, Int32(datagram.count))
        advance(applicationData: applicationData)
    }

    /// Drives the handshake, then reads application records, then queues
    /// whatever OpenSSL wrote.
    private func advance(applicationData: (UnsafeRawBufferPointer) -> Void) {
        defer { flushOutput() }
        if state == .connecting {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                didConnect()
            } else if !handleFailure(of: result, operation: "SSL_do_handshake") {
                return
            }
        }
        guard state == .connected else { return }
        RecordBuffer.withBuffer { buffer in
            while state == .connected {
                ERR_clear_error()
                let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
                guard count > 0 else {
                    _ = handleFailure(of: count, operation: "SSL_read")
                    return
                }
                statistics.recordsReceived += 1
                applicationData(UnsafeRawBufferPointer(rebasing: buffer[0..<Int(count)]))
            }
        }
    }

    /// Classifies a non-success return; `true` when OpenSSL merely wants more input.
    private func handleFailure(of result: Int32, operation: String) -> Bool {
        let code = SSL_get_error(ssl, result)
        switch code {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return true
        case SSL_ERROR_ZERO_RETURN:
            // RFC 5246 §7.2.1: answer close_notify with our own.
            ERR_clear_error()
            _ = SSL_shutdown(ssl)
            ERR_clear_error()
            finish(.closed)
        default:
            if let reason = verificationFailure {
                ERR_clear_error()
                fail(reason)
            } else if let alert = lastAlertReceived, alert.fatal {
                ERR_clear_error()
                fail(.alertReceived(description: alert.description, fatal: true))
            } else {
                fail(.openSSL(OpenSSLErrorQueue.drain(fallback: "\(operation) failed, SSL_get_error \(code)")))
            }
        }
        return false
    }

    private func didConnect() {
        // The verify callback accepted a certificate only after matching it;
        // a handshake that finished without that fails closed.
        guard let fingerprint = matchedFingerprint else {
            fail(verificationFailure ?? .noRemoteFingerprint)
            return
        }
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_standard_name($0) }.map { String(cString: $0) }
        let info = DTLSConnectionInfo(
            protocolVersion: String(cString: SSL_get_version(ssl)),
            cipherSuite: cipher ?? "",
            remoteFingerprint: fingerprint)
        connectionInfo = info
        maximumPlaintextSize = min(Int(DTLS_get_data_mtu(ssl)), DTLSRecords.maximumPlaintextLength)
        handshakeDeadline = nil
        state = .connected
        events.append(.connected(info))
    }

    private func fail(_ reason: DTLSError.Reason) {
        state = .failed
        finishCommon(.failed(DTLSError(reason)))
    }

    private func finish(_ event: DTLSEvent) {
        state = .closed
        finishCommon(event)
    }

    private func finishCommon(_ event: DTLSEvent) {
        handshakeDeadline = nil
        isHolding = false
        held.removeAll()
        heldBytes = 0
        events.append(event)
        flushOutput()
    }

    /// Moves OpenSSL's output into the transmit queue, one datagram per
    /// application record and handshake records packed up to the datagram size.
    private func flushOutput() {
        var data: UnsafeMutablePointer<CChar>?
        let length = rtc_BIO_get_mem_data(writeBIO, &data)
        guard length > 0, let data else { return }
        DTLSRecords.datagrams(
            from: UnsafeRawBufferPointer(start: data, count: length),
            maximumDatagramSize: configuration.maximumDatagramSize
        ) { datagram in
            guard transmitQueue.count < Self.maximumQueuedDatagrams else {
                statistics.transmitQueueDrops += 1
                return
            }
            transmitQueue.append(datagram)
            statistics.datagramsSent += 1
            statistics.bytesSent += datagram.count
        }
        _ = BIO_ctrl(writeBIO, BIO_CTRL_RESET, 0, nil)
    }

    // MARK: - Fingerprint verification

    /// Checks `certificate` against the usable remote fingerprints: `nil`
    /// when one matches (it becomes the connection's remote fingerprint),
    /// else why it is refused. The reason is also kept for the failure event.
    private func verify(_ certificate: OpaquePointer) -> DTLSError.Reason? {
        let usable = (remoteFingerprints ?? []).filter { CertificateDigest.messageDigest($0.algorithm) != nil }
        let match = usable.first { CertificateDigest.compute(certificate, $0.algorithm) == $0.bytes }
        if let match { matchedFingerprint = match }
        verificationFailure = match != nil ? nil : usable.isEmpty ? .noRemoteFingerprint : .fingerprintMismatch
        return verificationFailure
    }

    /// The `SSL_CTX_set_verify` callback. RFC 8122 §5 binds the end-entity
    /// certificate only, so chain certificates (depth > 0) pass and the
    /// depth-0 one must match a fingerprint; OpenSSL's own verdict
    /// (`preverified`, 0 for any self-signed certificate) is irrelevant.
    /// A refusal sets `X509_V_ERR_CERT_REJECTED`, which OpenSSL answers with a
    /// fatal `bad_certificate` alert.
    static func verifyCertificate(preverified: Int32, store: OpaquePointer?) -> Int32 {
        guard let store,
              let ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
              let session = session(of: OpaquePointer(ssl))
        else { return 0 }
        guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
        if let certificate = X509_STORE_CTX_get_current_cert(store), session.verify(certificate) == nil {
            return 1
        }
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED)
        return 0
    }

    // MARK: - Callbacks

    /// The session whose SSL is `ssl` (see `init`).
    private static func session(of ssl: OpaquePointer?) -> OpenSSLDTLSSession? {
        guard let ssl, let pointer = rtc_SSL_get_app_data(ssl) else { return nil }
        return Unmanaged<OpenSSLDTLSSession>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// `SSL_set_info_callback`: remembers received alerts (RFC 5246 §7.2;
    /// the value is level << 8 | description).
    private func noteInfo(location: Int32, value: Int32) {
        guard location & SSL_CB_READ_ALERT == SSL_CB_READ_ALERT else { return }
        let description = SSL_alert_desc_string_long(value).map { String(cString: $0) } ?? "alert \(value & 0xFF)"
        lastAlertReceived = (description, value >> 8 == SSL3_AL_FATAL)
    }

    /// `DTLS_set_timer_cb`: the next retransmission timeout in microseconds.
    /// RFC 6347 §4.2.4.1 / RFC 9147 §5.8.2: start at the initial value for a new
    /// flight, double on each retransmission, cap at 60 s. OpenSSL calls it with 0 for a new
    /// flight and with the expired value right before it retransmits.
    private func retransmissionTimeout(after previous: UInt32) -> UInt32 {
        guard previous != 0 else { return initialRetransmissionMicroseconds }
        statistics.retransmissions += 1
        return min(previous.multipliedReportingOverflow(by: 2).partialValue, Self.microseconds(Self.maximumRetransmissionTimeout))
    }

    private static func microseconds(_ duration: Duration) -> UInt32 {
        let (seconds, attoseconds) = duration.components
        return UInt32(clamping: seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
    }
}
