import RTCCollections

/// What the composition must do on the SCTP association, in order.
public enum DataChannelCommand: Sendable, Hashable {
    /// Send one whole user message on `stream` with `ppid`, ordered or not, with `reliability`
    /// (DCEP messages are always ordered and reliable, RFC 8832 §6).
    case send(
        stream: UInt16, ppid: PayloadProtocolIdentifier, data: [UInt8], ordered: Bool,
        reliability: DataChannelReliability)
    /// Reset the outgoing direction of this stream (RFC 6525), which closes the channel (RFC 8831 §6.7).
    /// Report completion with ``DataChannelManager/handleOutgoingStreamReset(_:)``.
    case resetStream(UInt16)
}

/// What happened to channels, for the application.
public enum DataChannelManagerEvent: Sendable, Hashable {
    /// The channel is open: DATA_CHANNEL_ACK or first peer message received, negotiated channel's
    /// transport connected, or (right after ``remoteOpened(id:parameters:)``) the peer opened it.
    case opened(id: UInt16)
    /// The peer opened a channel with DATA_CHANNEL_OPEN (W3C `ondatachannel`); it is open.
    case remoteOpened(id: UInt16, parameters: DataChannelParameters)
    /// A message arrived on an open channel.
    case message(id: UInt16, DataChannelMessage)
    /// The peer started closing the channel, or rejected our OPEN (RFC 8832 §6); not emitted for a
    /// close the application requested.
    case closing(id: UInt16)
    /// Both directions of the channel are reset (or the transport closed): the id is free again.
    case closed(id: UInt16)
}

/// DCEP (RFC 8832) and data-channel semantics (RFC 8831) over SCTP streams, sans-IO.
///
/// Drive it like every layer: feed input (``open(_:)``, ``send(_:on:)``, ``close(_:)``, and from the
/// association ``transportConnected()``, ``handleMessage(stream:ppid:data:)``, the stream-reset
/// notifications), then drain ``pollCommand()`` onto the association and ``pollEvent()`` to the
/// application. It has no timers.
///
/// Bounds: channels (ours and the peer's) live on distinct stream ids below ``maximumStreams``, so a
/// hostile peer opening channels is bounded by it; ids above are dropped. Each input queues a constant
/// number of commands and events (per stream, for reset lists), so the queues stay bounded by a driver
/// that drains them after every input.
public struct DataChannelManager: Sendable {
    /// Whether we are the DTLS client: RFC 8832 §6, the client uses even stream ids, the server odd.
    public let isDTLSClient: Bool
    /// Stream ids are below this (the SCTP stream count negotiated in both directions).
    public let maximumStreams: UInt16
    /// The largest message ``send(_:on:)`` accepts, in payload bytes; `nil` means no limit here (the
    /// SCTP layer still enforces its own).
    public private(set) var maximumMessageSize: Int?
    /// Counters, totals and drops.
    public private(set) var statistics = DataChannelManagerStatistics()

    private var channels: [UInt16: Channel] = [:]
    /// Channels opened before ``transportConnected()``, in ``open(_:)`` order, with their OPEN
    /// (`nil` for negotiated channels).
    private var waitingForTransport: [(id: UInt16, handshake: DataChannelOpen?)] = []
    private var transport = TransportState.new
    private var commands = FIFO<DataChannelCommand>()
    private var events = FIFO<DataChannelManagerEvent>()

    /// A manager with no channels.
    ///
    /// - Parameters:
    ///   - isDTLSClient: our DTLS role; decides the parity of the ids we allocate (RFC 8832 §6).
    ///   - maximumStreams: the number of SCTP streams; ids are below it.
    ///   - maximumMessageSize: the initial limit of ``send(_:on:)``; `nil` for none. Usually set
    ///     from the remote SDP with ``setRemoteMaximumMessageSize(_:)``.
    public init(
        isDTLSClient: Bool, maximumStreams: UInt16 = DataChannelLimits.defaultMaximumStreams,
        maximumMessageSize: Int? = nil
    ) {
        self.isDTLSClient = isDTLSClient
        self.maximumStreams = maximumStreams
        self.maximumMessageSize = maximumMessageSize
    }

    /// Applies the peer's `a=max-message-size` (RFC 8841 §6): `nil` (attribute absent) means
    /// ``DataChannelLimits/defaultRemoteMaximumMessageSize`` (RFC 8841 §6.1), 0 means no limit.
    public mutating func setRemoteMaximumMessageSize(_ attribute: UInt64?) {
        switch attribute {
        case nil: maximumMessageSize = DataChannelLimits.defaultRemoteMaximumMessageSize
        case 0: maximumMessageSize = nil
        case let size?: maximumMessageSize = Int(clamping: size)
        }
    }

    // MARK: Application calls

    /// Opens a channel and returns its stream id.
    ///
    /// In-band channels get the lowest free id of our parity (RFC 8832 §6) and send DATA_CHANNEL_OPEN;
    /// they are open on the peer's ACK or first message. Negotiated channels (RFC 8831 §6.5) use
    /// ``DataChannelParameters/id``, send nothing, and are open once the transport is. Before
    /// ``transportConnected()`` the channel waits in ``DataChannelState/connecting``.
    ///
    /// - Throws: ``DataChannelError`` for invalid parameters, an id in use or out of range, no free id,
    ///   or a closed transport.
    public mutating func open(_ parameters: DataChannelParameters) throws(DataChannelError) -> UInt16 {
        guard transport != .closed else { throw DataChannelError(.transportClosed) }
        let handshake = try DataChannelOpen(
            ordered: parameters.ordered, reliability: parameters.reliability(), priority: parameters.priority,
            label: parameters.label, protocol: parameters.protocol)
        let id = try parameters.negotiated ? negotiatedID(parameters.id) : lowestFreeID()
        var stored = parameters
        stored.id = id
        channels[id] = Channel(parameters: stored, reliability: handshake.reliability, state: .connecting)
        let waiting = (id: id, handshake: parameters.negotiated ? nil : Optional(handshake))
        if transport == .connected {
            start(waiting.id, handshake: waiting.handshake)
        } else {
            waitingForTransport.append(waiting)
        }
        return id
    }

    /// The SCTP association is up: sends the queued DATA_CHANNEL_OPENs (in ``open(_:)`` order) and
    /// opens the queued negotiated channels.
    public mutating func transportConnected() {
        guard transport == .new else { return }
        transport = .connected
        let waiting = waitingForTransport
        waitingForTransport = []
        for channel in waiting {
            start(channel.id, handshake: channel.handshake)
        }
    }

    /// The SCTP association is gone (shutdown or abort): every channel is closed at once.
    public mutating func transportClosed() {
        transport = .closed
        waitingForTransport = []
        commands = FIFO()
        for id in channels.keys.sorted() {
            events.append(.closed(id: id))
        }
        channels = [:]
    }

    /// Sends `message` on open channel `id`: queues one
    /// ``DataChannelCommand/send(stream:ppid:data:ordered:reliability:)``.
    ///
    /// - Throws: ``DataChannelError/Reason/unknownChannel(_:)``, ``DataChannelError/Reason/invalidState(_:)``
    ///   unless open (W3C InvalidStateError, also while connecting), or
    ///   ``DataChannelError/Reason/messageTooLarge(size:limit:)`` above ``maximumMessageSize``.
    public mutating func send(_ message: DataChannelMessage, on id: UInt16) throws(DataChannelError) {
        guard let index = channels.index(forKey: id) else { throw DataChannelError(.unknownChannel(id)) }
        let channel = channels.values[index]
        guard channel.state == .open else { throw DataChannelError(.invalidState(channel.state)) }
        let size = message.byteCount
        if let limit = maximumMessageSize, size > limit {
            throw DataChannelError(.messageTooLarge(size: size, limit: limit))
        }
        let wire = message.wireFormat
        commands.append(.send(
            stream: id, ppid: wire.ppid, data: wire.data, ordered: channel.parameters.ordered,
            reliability: channel.reliability))
        // Through the index: `channels[id]?.statistics…` moves the whole `Channel` through nested
        // `Dictionary` modify coroutines whose frames, sized for it, are heap-allocated (3 mallocs).
        channels.values[index].statistics.recordSent(size)
        statistics.total.recordSent(size)
    }

    /// Starts closing channel `id` (RFC 8831 §6.7): resets our outgoing stream; the channel is closed
    /// when the peer has reset its side too. A channel that never reached the transport closes at
    /// once. Does nothing for an unknown, closing or closed channel.
    public mutating func close(_ id: UInt16) {
        guard let channel = channels[id], channel.state == .connecting || channel.state == .open else { return }
        if let index = waitingForTransport.firstIndex(where: { $0.id == id }) {
            // Nothing was sent on the stream: there is nothing to reset.
            waitingForTransport.remove(at: index)
            channels[id] = nil
            events.append(.closed(id: id))
        } else {
            beginClosing(id, initiatedByPeer: false)
        }
    }

    /// The next command for the SCTP association, or `nil`.
    public mutating func pollCommand() -> DataChannelCommand? {
        commands.popFirst()
    }

    /// The next event for the application, or `nil`.
    public mutating func pollEvent() -> DataChannelManagerEvent? {
        events.popFirst()
    }

    /// The state of channel `id`, or `nil` if there is none (never opened, or closed and forgotten).
    public func state(of id: UInt16) -> DataChannelState? {
        channels[id]?.state
    }

    /// The parameters of channel `id` (with its ``DataChannelParameters/id``), or `nil`.
    public func parameters(of id: UInt16) -> DataChannelParameters? {
        channels[id]?.parameters
    }

    /// The counters of channel `id`, or `nil`.
    public func statistics(of id: UInt16) -> DataChannelStatistics? {
        channels[id]?.statistics
    }

    /// The ids of every channel not yet closed, ascending.
    public var channelIDs: [UInt16] {
        channels.keys.sorted()
    }

    // MARK: Peer input from the SCTP association

    /// One whole SCTP user message received on `stream`.
    ///
    /// PPID 50 goes to the DCEP parser; 51/53/56/57 are user messages (RFC 8831 §6.6, §8). Anything
    /// unusable is dropped and counted in ``DataChannelManagerStatistics/dropped``; never throws or traps.
    public mutating func handleMessage(stream: UInt16, ppid: UInt32, data: [UInt8]) {
        switch PayloadProtocolIdentifier(rawValue: ppid) {
        case .dcep?:
            handleDCEP(stream: stream, data: data)
        case let user?:
            handleUserMessage(stream: stream, ppid: user, data: data)
        case nil where ppid == PayloadProtocolIdentifier.deprecatedStringPartial
            || ppid == PayloadProtocolIdentifier.deprecatedBinaryPartial:
            statistics.dropped.deprecatedPPID += 1
        case nil:
            statistics.dropped.unknownPPID += 1
        }
    }

    /// The peer reset its outgoing direction of these streams (RFC 6525). RFC 8831 §6.7: we reset ours
    /// too (if not already) so no channel hangs in ``DataChannelState/closing``.
    public mutating func handleIncomingStreamReset(_ streams: [UInt16]) {
        for id in streams {
            guard channels[id] != nil else {
                statistics.dropped.resetOnUnknownStream += 1
                continue
            }
            channels[id]?.incomingReset = true
            beginClosing(id, initiatedByPeer: true)
            finishClosingIfDone(id)
        }
    }

    /// Our reset of these outgoing streams completed. Streams we did not ask to reset for a channel
    /// (e.g. rejected OPENs) are ignored.
    public mutating func handleOutgoingStreamReset(_ streams: [UInt16]) {
        for id in streams where channels[id]?.outgoingReset == .requested {
            channels[id]?.outgoingReset = .completed
            finishClosingIfDone(id)
        }
    }
}

// MARK: - Internals

extension DataChannelManager {
    private enum TransportState: Sendable {
        case new, connected, closed
    }

    /// Sends the OPEN of an in-band channel (`handshake`), or opens a negotiated one (`nil`).
    private mutating func start(_ id: UInt16, handshake: DataChannelOpen?) {
        guard let handshake else {
            markOpen(id)
            return
        }
        sendDCEP(.open(handshake), on: id)
        channels[id]?.awaitingAcknowledgement = true
    }

    /// RFC 8832 §6: DCEP messages are sent ordered and reliably, on the channel's own stream.
    private mutating func sendDCEP(_ message: DCEPMessage, on id: UInt16) {
        commands.append(
            .send(stream: id, ppid: .dcep, data: message.serialized(), ordered: true, reliability: .reliable))
    }

    private mutating func markOpen(_ id: UInt16) {
        channels[id]?.state = .open
        events.append(.opened(id: id))
    }

    /// RFC 8831 §6.5: the application picks a negotiated channel's id.
    private func negotiatedID(_ id: UInt16?) throws(DataChannelError) -> UInt16 {
        guard let id else { throw DataChannelError(.missingNegotiatedID) }
        guard id < maximumStreams else { throw DataChannelError(.streamIDOutOfRange(id)) }
        guard channels[id] == nil else { throw DataChannelError(.streamIDInUse(id)) }
        return id
    }

    /// RFC 8832 §6: the DTLS client picks even ids, the server odd; we take the lowest free one.
    private func lowestFreeID() throws(DataChannelError) -> UInt16 {
        let first = isDTLSClient ? 0 : 1
        // Int arithmetic: stepping a UInt16 past 65534 would overflow.
        guard let id = stride(from: first, to: Int(maximumStreams), by: 2).first(where: { channels[UInt16($0)] == nil })
        else { throw DataChannelError(.streamsExhausted) }
        return UInt16(id)
    }

    /// Whether `id` has the parity of ids the peer allocates (RFC 8832 §6).
    private func isPeerStream(_ id: UInt16) -> Bool {
        (id % 2 == 0) != isDTLSClient
    }

    /// Moves channel `id` to closing and resets our outgoing stream once (RFC 8831 §6.7).
    private mutating func beginClosing(_ id: UInt16, initiatedByPeer: Bool) {
        guard let channel = channels[id], channel.state != .closing else { return }
        channels[id]?.state = .closing
        // Only a misordered driver resets a stream before transportConnected(): never send its OPEN.
        waitingForTransport.removeAll { $0.id == id }
        if initiatedByPeer { events.append(.closing(id: id)) }
        if channel.outgoingReset == .notRequested {
            commands.append(.resetStream(id))
            channels[id]?.outgoingReset = .requested
        }
    }

    /// RFC 8831 §6.7: the channel is closed once both directions are reset; its id is then free.
    private mutating func finishClosingIfDone(_ id: UInt16) {
        guard let channel = channels[id], channel.incomingReset, channel.outgoingReset == .completed else { return }
        channels[id] = nil
        events.append(.closed(id: id))
    }

    private mutating func handleDCEP(stream: UInt16, data: [UInt8]) {
        let parsed = data.withUnsafeBytes { bytes in
            Result { () throws(DCEPParseError) -> DCEPMessage in try DCEPMessage(parsing: bytes) }
        }
        switch parsed {
        case .success(.open(let open)):
            handleOpen(open, on: stream)
        case .success(.ack):
            handleAcknowledgement(on: stream)
        case .failure:
            statistics.dropped.malformedDCEP += 1
            // RFC 8832 §6: an OPEN that "is not well formed" is refused like any invalid OPEN.
            if data.first == DCEPMessage.openType { rejectOpen(on: stream) }
        }
    }

    /// RFC 8832 §6: accept an OPEN on an unused stream of the peer's parity, answer with an ACK.
    private mutating func handleOpen(_ open: DataChannelOpen, on stream: UInt16) {
        guard isPeerStream(stream), stream < maximumStreams else {
            statistics.dropped.openOnInvalidStream += 1
            rejectOpen(on: stream)
            return
        }
        guard channels[stream] == nil else {
            statistics.dropped.openOnStreamInUse += 1
            rejectOpen(on: stream)
            return
        }
        let parameters = DataChannelParameters(remoteOpen: open, stream: stream)
        channels[stream] = Channel(parameters: parameters, reliability: open.reliability, state: .open)
        statistics.remoteOpens += 1
        sendDCEP(.ack, on: stream)
        events.append(.remoteOpened(id: stream, parameters: parameters))
        events.append(.opened(id: stream))
    }

    /// RFC 8832 §6: an invalid OPEN gets no ACK; the receiver "MUST close the corresponding data
    /// channel". A channel already on the stream is closed as if the peer had reset it; on an unused
    /// stream the reset is sent without keeping state (the peer's answering reset is then counted in
    /// ``DataChannelDropCounters/resetOnUnknownStream``). Streams not below ``maximumStreams`` do not
    /// exist on the association: nothing to reset.
    private mutating func rejectOpen(on stream: UInt16) {
        statistics.rejectedOpens += 1
        if channels[stream] != nil {
            beginClosing(stream, initiatedByPeer: true)
        } else if stream < maximumStreams {
            commands.append(.resetStream(stream))
        }
    }

    private mutating func handleAcknowledgement(on stream: UInt16) {
        guard let channel = channels[stream], channel.awaitingAcknowledgement else {
            statistics.dropped.unexpectedAcknowledgements += 1
            return
        }
        channels[stream]?.awaitingAcknowledgement = false
        if channel.state == .connecting { markOpen(stream) }
    }

    private mutating func handleUserMessage(stream: UInt16, ppid: PayloadProtocolIdentifier, data: [UInt8]) {
        // Every access goes through the index, for the reason given in `send(_:on:)`; nothing below
        // inserts or removes a channel, so it stays valid.
        guard let index = channels.index(forKey: stream) else {
            // A compliant peer sends ordered until our ACK (RFC 8832 §6), so nothing precedes the
            // OPEN: there is no reason to buffer.
            statistics.dropped.unknownStream += 1
            return
        }
        // RFC 8832 §6: user data before the ACK means the peer accepted our OPEN. The flag stays set
        // so the late ACK is absorbed.
        if channels.values[index].state == .connecting, channels.values[index].awaitingAcknowledgement {
            markOpen(stream)
        }
        guard channels.values[index].state == .open else {
            statistics.dropped.channelNotOpen += 1
            return
        }
        guard let message = DataChannelMessage(ppid: ppid, payload: data) else {
            statistics.dropped.invalidUTF8 += 1
            return
        }
        channels.values[index].statistics.recordReceived(message.byteCount)
        statistics.total.recordReceived(message.byteCount)
        events.append(.message(id: stream, message))
    }
}

/// One channel's bookkeeping.
struct Channel: Sendable {
    /// Progress of our outgoing stream reset (RFC 8831 §6.7).
    enum OutgoingReset: Sendable {
        case notRequested, requested, completed
    }

    var parameters: DataChannelParameters
    var reliability: DataChannelReliability
    var state: DataChannelState
    /// Our OPEN was sent and its ACK has not arrived yet.
    var awaitingAcknowledgement = false
    var outgoingReset = OutgoingReset.notRequested
    /// The peer reset its outgoing stream.
    var incomingReset = false
    var statistics = DataChannelStatistics()
}

extension DataChannelStatistics {
    mutating func recordSent(_ bytes: Int) {
        messagesSent += 1
        bytesSent += bytes
    }

    mutating func recordReceived(_ bytes: Int) {
        messagesReceived += 1
        bytesReceived += bytes
    }
}
