import DTLS
import RTCCollections
import DataChannel
import SCTP
import SDP

/// How a ``DataChannelTransport`` is set up.
public struct DataChannelTransportConfiguration: Sendable {
    /// DTLS datagram size and handshake timeout.
    public var dtls: DTLSConfiguration
    /// SCTP ports, buffers, streams and the maximum message size we accept.
    public var sctp: SCTPConfiguration
    /// Bytes a channel may hold queued in front of SCTP before a non-suspending send fails with
    /// ``DataChannelTransportError/Reason/bufferFull``: the bound that keeps an application that
    /// sends faster than the network from growing memory without limit.
    public var maximumBufferedAmountPerChannel: Int

    /// 16 MiB: 64 maximum-size (256 KiB) messages, far more than the bandwidth-delay product of
    /// any path a data channel runs over, so a well-behaved sender never meets it.
    public static let defaultMaximumBufferedAmountPerChannel = 16 << 20

    /// Bytes a DTLS 1.2 record adds to its plaintext with the largest-overhead cipher we offer
    /// (AES-GCM, RFC 6347 §4.1 and RFC 5288 §3): 13 header + 8 explicit nonce + 16 tag.
    public static let dtlsRecordOverhead = 37
    /// The SCTP common header, which usrsctp does not count in its path MTU (RFC 4960 §3.1).
    public static let sctpCommonHeaderSize = 12

    /// A configuration with the layers' defaults, except that SCTP's path MTU is lowered so that
    /// one SCTP packet fits one DTLS record in one datagram of `dtls.maximumDatagramSize`:
    /// 1200 − 37 − 12 = 1151. (SCTP's own default of 1188 makes 1200-byte SCTP packets, which
    /// DTLS would have to carry in 1237-byte datagrams.)
    public init(
        dtls: DTLSConfiguration = DTLSConfiguration(),
        sctp: SCTPConfiguration = SCTPConfiguration(),
        maximumBufferedAmountPerChannel: Int = defaultMaximumBufferedAmountPerChannel
    ) {
        self.dtls = dtls
        var sctp = sctp
        let fitting = dtls.maximumDatagramSize - Self.dtlsRecordOverhead - Self.sctpCommonHeaderSize
        sctp.pathMTU = min(sctp.pathMTU, UInt32(clamping: fitting))
        self.sctp = sctp
        self.maximumBufferedAmountPerChannel = maximumBufferedAmountPerChannel
    }
}

/// What a ``DataChannelTransport`` reports through ``DataChannelTransport/pollEvent()``.
public enum DataChannelTransportEvent: Sendable, Hashable {
    /// DTLS is up and the peer's certificate matched its fingerprint.
    case secured(DTLSConnectionInfo)
    /// The SCTP association is up: queued channel opens have been sent.
    case connected
    /// A channel is open: ours when its DCEP ACK arrived (or it is negotiated), the peer's right
    /// after ``remoteChannelOpened(id:parameters:)``.
    case channelOpened(id: UInt16)
    /// The peer opened a channel (the W3C `datachannel` event); ``channelOpened(id:)`` follows.
    case remoteChannelOpened(id: UInt16, parameters: DataChannelParameters)
    /// A whole message arrived on a channel.
    case message(id: UInt16, DataChannelMessage)
    /// The channel's ``DataChannelTransport/bufferedAmount(of:)`` fell to or below its threshold.
    case bufferedAmountLow(id: UInt16)
    /// A channel is closing (a reset is under way).
    case channelClosing(id: UInt16)
    /// A channel is closed in both directions; its id may be reused.
    case channelClosed(id: UInt16)
    /// The transport failed (DTLS failure, fingerprint mismatch, handshake timeout); it is closed.
    case failed(DataChannelTransportError)
    /// The transport is closed (by us or by the peer).
    case closed
}

/// Why a ``DataChannelTransport`` call or the transport itself failed.
public struct DataChannelTransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable, Hashable {
        /// The DTLS layer failed or refused.
        case dtls(DTLSError)
        /// The SCTP association refused.
        case sctp(SCTPError)
        /// The channel layer refused (unknown channel, wrong state, message too large, no ids left).
        case channel(DataChannelError)
        /// The channel already holds ``DataChannelTransportConfiguration/maximumBufferedAmountPerChannel``
        /// bytes waiting for SCTP.
        case bufferFull
        /// The transport is closed.
        case closed
    }

    /// The cause.
    public var reason: Reason

    /// An error for `reason`.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A one-line explanation.
    public var description: String {
        switch reason {
        case .dtls(let error): "DTLS: \(error)"
        case .sctp(let error): "SCTP: \(error)"
        case .channel(let error): "data channel: \(error)"
        case .bufferFull: "the channel's send buffer is full"
        case .closed: "the transport is closed"
        }
    }
}

/// Data channels over SCTP over DTLS (RFC 8831 §5, RFC 8261), as one sans-IO state machine.
///
/// It composes three layers and moves data between them: DTLS application data feeds the SCTP
/// association; SCTP packets are sealed as DTLS records; SCTP messages and stream resets feed the
/// DCEP channel manager, whose commands become SCTP sends and resets. Below it sits ICE (the
/// datagrams of ``handleDatagram(_:now:)`` and ``pollTransmit()``), above it the application.
///
/// Drive it like every layer of this stack: feed input (datagrams, API calls) → drain
/// ``pollTransmit()`` and ``pollEvent()`` → arm a timer for ``nextTimeout`` →
/// ``handleTimeout(now:)``. Single owner, not thread-safe: the driver confines it to one event loop.
///
/// Backpressure: a message SCTP cannot take yet (its send buffer is full) waits in a FIFO in front
/// of SCTP, counted in its channel's ``bufferedAmount(of:)``; it is pushed when SCTP reports
/// room, in order. That queue is bounded per channel
/// (``DataChannelTransportConfiguration/maximumBufferedAmountPerChannel``).
public final class DataChannelTransport {
    private let configuration: DataChannelTransportConfiguration
    private let dtls: any DTLSSession
    private let sctp: SCTPAssociation
    /// Resequences the peer's records before DTLS when the path reorders them (SCTP would take
    /// late packets for lost ones).
    private var reorder = RecordReorderBuffer()
    private var channels: DataChannelManager
    /// Messages waiting for room in SCTP's send buffer, oldest first (order across channels is kept
    /// too, since SCTP's buffer is shared).
    private var waitingForSCTP = FIFO<PendingSend>()
    private var buffered: [UInt16: Int] = [:]
    private var lowThresholds: [UInt16: Int] = [:]
    private var events = FIFO<DataChannelTransportEvent>()
    private var sctpStarted = false
    /// SCTP packets DTLS refused to seal (closed or failed session).
    public private(set) var sctpPacketsNotSealed = 0
    private var finished = false

    private struct PendingSend {
        var stream: UInt16
        var ppid: UInt32
        var data: [UInt8]
        var ordered: Bool
        var reliability: SCTPReliability
        /// Whether the bytes count in the channel's buffered amount (user messages, not DCEP).
        var countsAsBuffered: Bool
    }

    /// A transport in the given DTLS role, authenticating the peer by `remoteFingerprints` (which may
    /// also arrive later through ``setRemoteFingerprints(_:)``).
    public init(
        role: DTLSRole,
        certificate: DTLSCertificate,
        remoteFingerprints: [Fingerprint],
        configuration: DataChannelTransportConfiguration = DataChannelTransportConfiguration(),
        now: ContinuousClock.Instant
    ) throws(DataChannelTransportError) {
        self.configuration = configuration
        do {
            dtls = try OpenSSLDTLSSession(
                role: role, certificate: certificate, remoteFingerprints: remoteFingerprints,
                configuration: configuration.dtls, now: now)
        } catch {
            throw DataChannelTransportError(.dtls(error))
        }
        do {
            sctp = try SCTPAssociation(configuration: configuration.sctp, now: now)
        } catch {
            throw DataChannelTransportError(.sctp(error))
        }
        // RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones.
        channels = DataChannelManager(isDTLSClient: role == .client, maximumStreams: configuration.sctp.maximumStreams)
    }

    // MARK: Input

    /// Starts the DTLS handshake (the client sends its ClientHello; the server waits).
    public func start(now: ContinuousClock.Instant) {
        dtls.start(now: now)
        pump(now: now)
    }

    /// The peer's `a=fingerprint` values, when they arrive after ``start(now:)``.
    public func setRemoteFingerprints(_ fingerprints: [Fingerprint], now: ContinuousClock.Instant) {
        dtls.setRemoteFingerprints(fingerprints)
        pump(now: now)
    }

    /// The peer's `a=max-message-size` (RFC 8841 §6): `nil` when absent (65536), 0 for no limit.
    public func setRemoteMaximumMessageSize(_ size: UInt64?) {
        channels.setRemoteMaximumMessageSize(size)
    }

    /// One datagram from ICE that the demultiplexer classified as DTLS (RFC 7983).
    public func handleDatagram(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        if case .process(let record) = reorder.admit(datagram, now: now) {
            decrypt(datagram, record: record, arrivedAt: now, now: now)
        }
        releaseReordered(now: now)
        pump(now: now)
    }

    /// Hands one datagram to DTLS and its records to SCTP; tells the reorder buffer when DTLS
    /// authenticated it.
    private func decrypt(
        _ datagram: UnsafeRawBufferPointer, record: RecordReorderBuffer.RecordNumber?,
        arrivedAt: ContinuousClock.Instant, now: ContinuousClock.Instant
    ) {
        let sctp = sctp
        var authenticated = false
        dtls.handleDatagram(datagram, now: now) { plaintext in
            authenticated = true
            // RFC 8261 §3: every DTLS application record carries SCTP packets.
            sctp.handlePacket(plaintext, now: now)
        }
        if authenticated, let record { reorder.authenticated(record, arrivedAt: arrivedAt) }
    }

    /// Hands DTLS the held datagrams whose turn came.
    private func releaseReordered(now: ContinuousClock.Instant) {
        while let release = reorder.nextRelease(now: now) {
            release.datagram.withUnsafeBytes { decrypt($0, record: release.record, arrivedAt: release.arrivedAt, now: now) }
        }
    }

    /// Called, from any thread, when another association's timer step left SCTP output or events
    /// for this transport: call ``handleTimeout(now:)`` soon (see ``SCTPAssociation/onPendingOutput``).
    public var onPendingOutput: (@Sendable () -> Void)? {
        get { sctp.onPendingOutput }
        set { sctp.onPendingOutput = newValue }
    }

    /// Runs the layers' timers (DTLS retransmission, SCTP's timer wheel).
    public func handleTimeout(now: ContinuousClock.Instant) {
        releaseReordered(now: now)
        dtls.handleTimeout(now: now)
        sctp.handleTimeout(now: now)
        pump(now: now)
    }

    /// Opens a channel; it is announced (DCEP OPEN) as soon as SCTP is up.
    public func openChannel(_ parameters: DataChannelParameters, now: ContinuousClock.Instant) throws(DataChannelTransportError) -> UInt16 {
        guard !finished else { throw DataChannelTransportError(.closed) }
        let id: UInt16
        do {
            id = try channels.open(parameters)
        } catch {
            throw DataChannelTransportError(.channel(error))
        }
        pump(now: now)
        return id
    }

    /// Queues one message on an open channel. Throws ``DataChannelTransportError/Reason/bufferFull``
    /// when the channel already holds its maximum in front of SCTP: the caller waits for
    /// ``DataChannelTransportEvent/bufferedAmountLow(id:)`` and retries.
    public func send(_ message: DataChannelMessage, on id: UInt16, now: ContinuousClock.Instant) throws(DataChannelTransportError) {
        guard !finished else { throw DataChannelTransportError(.closed) }
        guard bufferedAmount(of: id) + message.byteCount <= configuration.maximumBufferedAmountPerChannel else {
            throw DataChannelTransportError(.bufferFull)
        }
        do {
            try channels.send(message, on: id)
        } catch {
            throw DataChannelTransportError(.channel(error))
        }
        pump(now: now)
    }

    /// Closes a channel (RFC 8831 §6.7: an outgoing stream reset; closed once both directions are).
    public func closeChannel(_ id: UInt16, now: ContinuousClock.Instant) {
        channels.close(id)
        pump(now: now)
    }

    /// Closes everything: SCTP shuts down, DTLS sends close_notify.
    public func close(now: ContinuousClock.Instant) {
        guard !finished else { return }
        sctp.close(now: now)
        pump(now: now)
        dtls.close(now: now)
        finish(with: .closed)
    }

    // MARK: Output

    /// The next DTLS datagram to send over ICE's selected pair.
    public func pollTransmit() -> [UInt8]? {
        dtls.pollTransmit()
    }

    /// The next event, oldest first.
    public func pollEvent() -> DataChannelTransportEvent? {
        events.popFirst()
    }

    /// When ``handleTimeout(now:)`` is due next.
    public var nextTimeout: ContinuousClock.Instant? {
        guard !finished else { return nil }
        // Without an array: this runs after every datagram.
        func earlier(_ a: ContinuousClock.Instant?, _ b: ContinuousClock.Instant?) -> ContinuousClock.Instant? {
            guard let a, let b else { return a ?? b }
            return min(a, b)
        }
        return earlier(earlier(dtls.nextTimeout, sctpStarted ? sctp.nextTimeout : nil), reorder.nextTimeout)
    }

    /// Bytes of `id`'s messages waiting in front of SCTP (the W3C `bufferedAmount`).
    public func bufferedAmount(of id: UInt16) -> Int {
        buffered[id, default: 0]
    }

    /// The threshold at or below which ``DataChannelTransportEvent/bufferedAmountLow(id:)`` fires
    /// when the buffered amount falls (the W3C `bufferedAmountLowThreshold`; 0 by default).
    public func setBufferedAmountLowThreshold(_ threshold: Int, for id: UInt16) {
        lowThresholds[id] = max(0, threshold)
    }

    /// SCTP's counters: packets, bytes, messages, retransmissions, abandoned messages.
    public var sctpStatistics: SCTPStatistics { sctp.statistics }

    /// DTLS's counters: datagrams, records, drops, retransmissions.
    public var dtlsStatistics: DTLSStatistics? {
        guard var statistics = (dtls as? OpenSSLDTLSSession)?.statistics else { return nil }
        statistics.reordering = reorder.counters
        return statistics
    }

    /// The message and byte counters of channel `id`, or `nil` for an unknown (or closed) channel.
    public func statistics(of id: UInt16) -> DataChannelStatistics? {
        channels.statistics(of: id)
    }

    /// The message and byte counters of every channel the transport has carried, closed ones included.
    public var channelTotals: DataChannelStatistics { channels.statistics.total }

    /// Messages waiting in front of SCTP for room in its send buffer.
    public var messagesWaitingForSCTP: Int { waitingForSCTP.count }

    /// The state of a channel, or `nil` for an unknown id.
    public func state(of id: UInt16) -> DataChannelState? {
        channels.state(of: id)
    }

    /// The parameters a channel was opened with.
    public func parameters(of id: UInt16) -> DataChannelParameters? {
        channels.parameters(of: id)
    }

    // MARK: Moving data between the layers

    /// Moves output of each layer into the next until nothing moves.
    private func pump(now: ContinuousClock.Instant) {
        var moved = true
        while moved && !finished {
            moved = false
            while let event = dtls.pollEvent() {
                moved = true
                handle(event, now: now)
            }
            while let packet = sctp.pollTransmit() {
                moved = true
                // SCTP starts only once DTLS is up and its packets fit one record (see the
                // configuration), so a refusal means DTLS closed or failed, which its own event
                // reports; the packet is counted as lost and SCTP retransmits if it matters.
                let sealed = packet.withUnsafeBytes { bytes in (try? dtls.send(bytes)) != nil }
                if !sealed { sctpPacketsNotSealed += 1 }
            }
            while let event = sctp.pollEvent() {
                moved = true
                handle(event)
            }
            while let command = channels.pollCommand() {
                moved = true
                handle(command)
            }
            while let event = channels.pollEvent() {
                moved = true
                handle(event)
            }
        }
    }

    private func handle(_ event: DTLSEvent, now: ContinuousClock.Instant) {
        switch event {
        case .connected(let info):
            events.append(.secured(info))
            // RFC 8841 §8: both sides initiate the association (as browsers do) once DTLS is up.
            sctpStarted = true
            sctp.connect(now: now)
        case .failed(let error):
            finish(with: .failed(DataChannelTransportError(.dtls(error))))
        case .closed:
            finish(with: .closed)
        }
    }

    private func handle(_ event: SCTPEvent) {
        switch event {
        case .connected:
            events.append(.connected)
            channels.transportConnected()
        case .message(let message):
            channels.handleMessage(stream: message.stream, ppid: message.ppid, data: message.data)
        case .incomingStreamsReset(let streams):
            channels.handleIncomingStreamReset(streams)
        case .outgoingStreamsReset(let streams):
            channels.handleOutgoingStreamReset(streams)
        case .writable:
            flushWaitingSends()
        case .closed:
            channels.transportClosed()
            finish(with: .closed)
        }
    }

    private func handle(_ command: DataChannelCommand) {
        switch command {
        case let .send(stream, ppid, data, ordered, reliability):
            let pending = PendingSend(
                stream: stream, ppid: ppid.rawValue, data: data, ordered: ordered,
                reliability: SCTPReliability(reliability), countsAsBuffered: ppid != .dcep)
            if pending.countsAsBuffered { buffered[stream, default: 0] += data.count }
            waitingForSCTP.append(pending)
            flushWaitingSends()
        case .resetStream(let stream):
            // A reset the association cannot take now (e.g. already closing) leaves nothing to do.
            try? sctp.resetStreams([stream])
        }
    }

    private func handle(_ event: DataChannelManagerEvent) {
        switch event {
        case .opened(let id): events.append(.channelOpened(id: id))
        case let .remoteOpened(id, parameters): events.append(.remoteChannelOpened(id: id, parameters: parameters))
        case let .message(id, message): events.append(.message(id: id, message))
        case .closing(let id): events.append(.channelClosing(id: id))
        case .closed(let id):
            dropWaitingSends(for: id)
            lowThresholds[id] = nil
            events.append(.channelClosed(id: id))
        }
    }

    /// Hands waiting messages to SCTP in order until it has no room.
    private func flushWaitingSends() {
        while let pending = waitingForSCTP.first {
            let refusal = pending.data.withUnsafeBytes { bytes -> SCTPError? in
                do throws(SCTPError) {
                    try sctp.send(
                        bytes, stream: pending.stream, ppid: pending.ppid, ordered: pending.ordered,
                        reliability: pending.reliability)
                    return nil
                } catch {
                    return error
                }
            }
            // Full buffer: retried on .writable. Any other refusal (stream gone, association
            // closing) drops this message only; the layer that caused it reports the condition.
            if refusal?.reason == .wouldBlock { return }
            _ = waitingForSCTP.popFirst()
            if pending.countsAsBuffered { release(pending.data.count, of: pending.stream) }
        }
    }

    private func release(_ byteCount: Int, of stream: UInt16) {
        let before = buffered[stream, default: 0]
        let after = max(0, before - byteCount)
        buffered[stream] = after == 0 ? nil : after
        let threshold = lowThresholds[stream, default: 0]
        // W3C: bufferedamountlow fires when the amount falls from above the threshold to at or below it.
        if before > threshold && after <= threshold {
            events.append(.bufferedAmountLow(id: stream))
        }
    }

    private func dropWaitingSends(for stream: UInt16) {
        waitingForSCTP.removeAll { $0.stream == stream }
        buffered[stream] = nil
    }

    private func finish(with event: DataChannelTransportEvent) {
        guard !finished else { return }
        finished = true
        waitingForSCTP.removeAll()
        buffered.removeAll()
        events.append(event)
    }
}

extension SCTPReliability {
    /// RFC 8831 §6.1: the channel's reliability as SCTP partial reliability (RFC 3758).
    init(_ reliability: DataChannelReliability) {
        switch reliability {
        case .reliable: self = .reliable
        case .partialReliableRexmit(let count): self = .maxRetransmits(UInt16(clamping: count))
        case .partialReliableTimed(let milliseconds): self = .maxPacketLifeTime(milliseconds: milliseconds)
        }
    }
}
