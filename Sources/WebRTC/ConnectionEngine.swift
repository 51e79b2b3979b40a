import DTLS
import DataChannel
import ICE
import ICETransport
import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SDP

/// A `Sendable` way to run code on a ``ConnectionEngine``'s event loop.
struct EngineHandle: Sendable {
    let eventLoop: any EventLoop
    let engine: NIOLoopBound<ConnectionEngine>

    /// Runs `body` with the engine on its loop, or `ifClosed` there when the engine has closed.
    func execute(_ body: @escaping @Sendable (ConnectionEngine) -> Void, ifClosed: @escaping @Sendable () -> Void = {}) {
        eventLoop.execute {
            let engine = engine.value
            if engine.isClosed { ifClosed() } else { body(engine) }
        }
    }
}

/// What a ``ConnectionEngine`` reports to the peer connection above it.
enum EngineEvent: Sendable {
    /// DTLS is up.
    case secured(DTLSConnectionInfo)
    /// SCTP is up: data channels can open.
    case connected
    /// The peer opened a channel.
    case remoteChannel(DataChannel)
    /// A channel created before the transport existed could not be opened on it (its id is in use
    /// or out of range, or no id is left); the channel is closed.
    case channelRefused(label: String, DataChannelTransportError)
    /// The transport failed; every channel is closed.
    case failed(DataChannelTransportError)
    /// The transport closed (by us or by the peer); every channel is closed.
    case closed
}

/// Drives one ``DataChannelTransport`` over one ``ICETransport`` on one event loop: datagrams from
/// ICE's DTLS hook go in, DTLS datagrams go out over the selected pair, one timer serves every
/// deadline, and each ``DataChannel`` object gets its messages and events.
///
/// The engine exists before the transport does: a peer connection creates it at once, so that
/// channels created before the offer/answer exchange have an engine to belong to. Such channels
/// wait (``DataChannelState/connecting``, no id for in-band ones) until ``attach(transport:maximumMessageSize:)``
/// opens them on the new transport in creation order.
///
/// Everything here runs on ``eventLoop`` (confined through `NIOLoopBound`), so nothing is locked;
/// the channel snapshots that other threads read are updated from here.
final class ConnectionEngine {
    /// Engines alive in this process: the release tests check that closing frees every one.
    static let liveCount = NIOLockedValueBox(0)

    let eventLoop: any EventLoop
    private(set) var isClosed = false
    private var ice: ICETransport?
    private var transport: DataChannelTransport?
    private let onEvent: @Sendable (EngineEvent) -> Void
    /// What ``DataChannel/maxMessageSize`` reports: ours until the peer's is known.
    private var maximumMessageSize: Int
    private var endpoints: [UInt16: Endpoint] = [:]
    /// DTLS datagrams that arrived before the transport existed, oldest first.
    private var earlyDatagrams: [ByteBuffer] = []
    /// A DTLS client's first flight is one or two datagrams; a few more cover retransmissions.
    static let maximumEarlyDatagrams = 16
    /// Channels created before the transport existed, in creation order.
    private var pending: [Endpoint] = []
    /// Channels whose buffered amount may have changed since the snapshots were refreshed.
    private var touched: Set<UInt16> = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?
    private var handle: EngineHandle?
    /// The transport's counters when it was released, for statistics after close.
    private var finalCounters: (sctp: SCTPStatistics, dtls: DTLSStatistics?, totals: DataChannelStatistics)?

    /// The loop side of one ``DataChannel``.
    private struct Endpoint {
        let channel: DataChannel
        let messages: AsyncStream<DataChannelMessage>.Continuation
        let events: AsyncStream<DataChannelEvent>.Continuation
        /// Suspended sends, oldest first, waiting for the queue to drain (``DataChannel/lowWaterMark``).
        var waiting: [(message: DataChannelMessage, continuation: CheckedContinuation<Result<Void, DataChannelSendError>, Never>)] = []
    }

    /// An engine with neither ICE nor a transport yet; `maximumMessageSize` is our
    /// `a=max-message-size`, reported by channels until the peer's is known.
    init(eventLoop: any EventLoop, maximumMessageSize: Int, onEvent: @escaping @Sendable (EngineEvent) -> Void) {
        self.eventLoop = eventLoop
        self.maximumMessageSize = maximumMessageSize
        self.onEvent = onEvent
        Self.liveCount.withLockedValue { $0 += 1 }
    }

    deinit {
        Self.liveCount.withLockedValue { $0 -= 1 }
    }

    /// The `Sendable` handle channels use; made once, on the loop.
    func makeHandle() -> EngineHandle {
        if let handle { return handle }
        let handle = EngineHandle(eventLoop: eventLoop, engine: NIOLoopBound(self, eventLoop: eventLoop))
        self.handle = handle
        return handle
    }

    // MARK: Input

    /// The ICE transport DTLS datagrams leave through.
    func attach(ice: ICETransport) {
        guard !isClosed else { return }
        self.ice = ice
    }

    /// The transport, once the DTLS role is known: opens the channels created so far on it, in
    /// creation order. `maximumMessageSize` is the smaller of ours and the peer's (RFC 8841 §6).
    func attach(transport: DataChannelTransport, maximumMessageSize: Int) {
        guard !isClosed, self.transport == nil else { return }
        self.transport = transport
        self.maximumMessageSize = maximumMessageSize
        // Only one association in the process ticks usrsctp's timers; the others hear here when
        // a tick left them something (SCTPAssociation.nextTimeout).
        transport.onPendingOutput = { [handle = makeHandle()] in handle.execute { $0.runTimers() } }
        for endpoint in endpoints.values {
            endpoint.channel.snapshot.withLockedValue { $0.maxMessageSize = maximumMessageSize }
        }
        let early = earlyDatagrams
        earlyDatagrams = []
        for datagram in early {
            datagram.withUnsafeReadableBytes { transport.handleDatagram($0, now: .now) }
        }
        let waiting = pending
        pending = []
        for endpoint in waiting {
            endpoint.channel.snapshot.withLockedValue { $0.maxMessageSize = maximumMessageSize }
            do {
                let id = try transport.openChannel(endpoint.channel.parameters, now: .now)
                let threshold = endpoint.channel.snapshot.withLockedValue { snapshot in
                    snapshot.id = id
                    return snapshot.bufferedAmountLowThreshold
                }
                transport.setBufferedAmountLowThreshold(threshold, for: id)
                endpoints[id] = endpoint
            } catch {
                onEvent(.channelRefused(label: endpoint.channel.label, error))
                finish(endpoint)
            }
        }
        afterInput()
    }

    /// Starts DTLS once ICE has a valid or selected pair (the client sends its ClientHello).
    func start() {
        guard let transport else { return }
        transport.start(now: .now)
        afterInput()
    }

    /// A datagram from ICE's RFC 7983 demultiplexer: DTLS.
    func receive(_ datagram: ByteBuffer) {
        guard !isClosed else { return }
        guard let transport else {
            // The peer can start DTLS before our side has both descriptions (its answer is
            // still in flight to us): keep its first flight rather than make it retransmit.
            if earlyDatagrams.count < Self.maximumEarlyDatagrams { earlyDatagrams.append(datagram) }
            return
        }
        datagram.withUnsafeReadableBytes { transport.handleDatagram($0, now: .now) }
        afterInput()
    }

    /// Creates a channel and returns its object (state `connecting` until the peer acknowledges).
    /// Before the transport exists the channel waits for it, without an id unless negotiated.
    func openChannel(_ parameters: DataChannelParameters) throws(DataChannelTransportError) -> DataChannel {
        guard !isClosed else { throw DataChannelTransportError(.closed) }
        guard let transport else {
            var waiting = parameters
            // W3C: an in-band channel's id is chosen by the transport (RFC 8832 §6 parity).
            if !waiting.negotiated { waiting.id = nil }
            let endpoint = makeEndpoint(parameters: waiting)
            pending.append(endpoint)
            return endpoint.channel
        }
        let id = try transport.openChannel(parameters, now: .now)
        var opened = transport.parameters(of: id) ?? parameters
        opened.id = id
        let endpoint = makeEndpoint(parameters: opened)
        endpoints[id] = endpoint
        afterInput()
        return endpoint.channel
    }

    func send(
        _ message: DataChannelMessage, on id: UInt16,
        suspending continuation: CheckedContinuation<Result<Void, DataChannelSendError>, Never>
    ) {
        guard endpoints[id] != nil, let transport else {
            continuation.resume(returning: .failure(DataChannelSendError(.notOpen)))
            return
        }
        if endpoints[id]?.waiting.isEmpty == true && transport.bufferedAmount(of: id) <= DataChannel.highWaterMark {
            continuation.resume(returning: sendNow(message, on: id))
        } else {
            endpoints[id]?.waiting.append((message, continuation))
        }
        afterInput()
    }

    func trySend(_ message: DataChannelMessage, on id: UInt16) -> Result<Void, DataChannelSendError> {
        // Suspended sends go first: jumping the queue would reorder the channel's messages.
        guard endpoints[id]?.waiting.isEmpty ?? true else { return .failure(DataChannelSendError(.bufferFull)) }
        defer { afterInput() }
        return sendNow(message, on: id)
    }

    /// Applies a channel's threshold (kept in its snapshot until the channel has an id).
    func setBufferedAmountLowThreshold(_ threshold: Int, for channel: DataChannel) {
        guard let id = channel.id, endpoints[id]?.channel === channel else { return }
        transport?.setBufferedAmountLowThreshold(threshold, for: id)
    }

    /// Closes a channel: by a stream reset once it is on the transport, at once while it waits.
    func closeChannel(_ channel: DataChannel) {
        if let index = pending.firstIndex(where: { $0.channel === channel }) {
            finish(pending.remove(at: index))
            return
        }
        guard let id = channel.id, endpoints[id]?.channel === channel, let transport else { return }
        transport.closeChannel(id, now: .now)
        afterInput()
    }

    /// Closes DTLS and SCTP and every channel, and lets go of the transport and ICE.
    func close() {
        guard !isClosed else { return }
        transport?.close(now: .now)
        afterInput()
        finish()
    }

    // MARK: Statistics

    /// Per-channel counters (channels not closed), totals, and the transport's SCTP and DTLS counters.
    func statistics() -> (channels: [PeerConnectionStatistics.Channel], totals: DataChannelStatistics, sctp: SCTPStatistics?, dtls: DTLSStatistics?) {
        var channels = pending.map { PeerConnectionStatistics.Channel($0.channel, counters: DataChannelStatistics()) }
        for id in endpoints.keys.sorted() {
            guard let endpoint = endpoints[id] else { continue }
            channels.append(.init(endpoint.channel, counters: transport?.statistics(of: id) ?? DataChannelStatistics()))
        }
        if let transport {
            return (channels, transport.channelTotals, transport.sctpStatistics, transport.dtlsStatistics)
        }
        return (channels, finalCounters?.totals ?? DataChannelStatistics(), finalCounters?.sctp, finalCounters?.dtls)
    }

    // MARK: Driving

    private func sendNow(_ message: DataChannelMessage, on id: UInt16) -> Result<Void, DataChannelSendError> {
        guard let transport else { return .failure(DataChannelSendError(.connectionClosed)) }
        do {
            try transport.send(message, on: id, now: .now)
            touched.insert(id)
            return .success(())
        } catch {
            return .failure(DataChannelSendError(error))
        }
    }

    /// After every input: send what DTLS produced, deliver events, resume suspended sends,
    /// refresh snapshots and re-arm the timer.
    private func afterInput() {
        var moved = true
        while moved && !isClosed {
            moved = flushTransmits()
            while let event = transport?.pollEvent() {
                moved = true
                handle(event)
            }
            moved = resumeWaitingSends() || moved
        }
        refreshSnapshots()
        armTimer()
    }

    private func flushTransmits() -> Bool {
        var datagrams: [ByteBuffer] = []
        while let datagram = transport?.pollTransmit() {
            datagrams.append(ByteBuffer(bytes: datagram))
        }
        guard !datagrams.isEmpty else { return false }
        // Without a valid pair (after ICE failed or closed) the datagrams are lost; DTLS retransmits
        // its handshake and SCTP its data, as over any lossy path. Before the first valid pair
        // nothing is sent: the client starts only then, and the peer's datagrams are held by ICE
        // until then, so the server has nothing to answer.
        try? ice?.sendOnEventLoop(datagrams)
        return true
    }

    private func handle(_ event: DataChannelTransportEvent) {
        switch event {
        case .secured(let info): onEvent(.secured(info))
        case .connected: onEvent(.connected)
        case .channelOpened(let id): setState(.open, of: id, event: .open)
        case let .remoteChannelOpened(id, parameters):
            // Announced first; its `open` follows with ``DataChannelTransportEvent/channelOpened(id:)``,
            // as browsers fire `datachannel` and then the channel's `open`.
            var opened = parameters
            opened.id = id
            let endpoint = makeEndpoint(parameters: opened)
            endpoints[id] = endpoint
            onEvent(.remoteChannel(endpoint.channel))
        case let .message(id, message): endpoints[id]?.messages.yield(message)
        case .bufferedAmountLow(let id): endpoints[id]?.events.yield(.bufferedAmountLow)
        case .channelClosing(let id): setState(.closing, of: id, event: .closing)
        case .channelClosed(let id): closeEndpoint(id)
        case .failed(let error):
            onEvent(.failed(error))
            finish()
        case .closed:
            onEvent(.closed)
            finish()
        }
    }

    /// Sends suspended messages once their channel's queue drained to the low-water mark, up to
    /// the high-water mark, resuming their senders in order.
    private func resumeWaitingSends() -> Bool {
        guard let transport else { return false }
        var moved = false
        for id in endpoints.keys where endpoints[id]?.waiting.isEmpty == false {
            guard transport.bufferedAmount(of: id) <= DataChannel.lowWaterMark else { continue }
            while let next = endpoints[id]?.waiting.first, transport.bufferedAmount(of: id) <= DataChannel.highWaterMark {
                endpoints[id]?.waiting.removeFirst()
                next.continuation.resume(returning: sendNow(next.message, on: id))
                moved = true
            }
        }
        return moved
    }

    private func refreshSnapshots() {
        guard let transport else { return }
        for id in touched {
            let amount = transport.bufferedAmount(of: id)
            endpoints[id]?.channel.snapshot.withLockedValue { $0.bufferedAmount = amount }
            if amount == 0 { touched.remove(id) }
        }
    }

    private func armTimer() {
        guard !isClosed, let deadline = transport?.nextTimeout else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        let delay = max(.zero, ContinuousClock.now.duration(to: deadline))
        timer = eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            timerDeadline = nil
            runTimers()
        }
    }

    private func runTimers() {
        guard !isClosed, let transport else { return }
        transport.handleTimeout(now: .now)
        afterInput()
    }

    // MARK: Channels

    private func makeEndpoint(parameters: DataChannelParameters) -> Endpoint {
        let (messages, messageContinuation) = AsyncStream.makeStream(of: DataChannelMessage.self)
        let (events, eventContinuation) = AsyncStream.makeStream(of: DataChannelEvent.self)
        let channel = DataChannel(
            parameters: parameters, maxMessageSize: maximumMessageSize, engine: makeHandle(), messages: messages,
            events: events)
        return Endpoint(channel: channel, messages: messageContinuation, events: eventContinuation)
    }

    private func setState(_ state: DataChannelState, of id: UInt16, event: DataChannelEvent) {
        guard let endpoint = endpoints[id] else { return }
        endpoint.channel.snapshot.withLockedValue { $0.readyState = state }
        endpoint.events.yield(event)
    }

    private func closeEndpoint(_ id: UInt16) {
        guard let endpoint = endpoints.removeValue(forKey: id) else { return }
        touched.remove(id)
        finish(endpoint)
    }

    /// Marks a channel closed, fails its suspended sends and finishes its streams.
    private func finish(_ endpoint: Endpoint) {
        endpoint.channel.snapshot.withLockedValue {
            $0.readyState = .closed
            $0.bufferedAmount = 0
        }
        for waiting in endpoint.waiting {
            waiting.continuation.resume(returning: .failure(DataChannelSendError(.notOpen)))
        }
        endpoint.events.yield(.closed)
        endpoint.events.finish()
        endpoint.messages.finish()
    }

    private func finish() {
        guard !isClosed else { return }
        for id in Array(endpoints.keys) {
            closeEndpoint(id)
        }
        for endpoint in pending {
            finish(endpoint)
        }
        pending = []
        isClosed = true
        timer?.cancel()
        timer = nil
        if let transport {
            finalCounters = (transport.sctpStatistics, transport.dtlsStatistics, transport.channelTotals)
        }
        // Letting go of the transport releases the SCTP association (an abort if it is still up)
        // and the DTLS session now, even while the application still holds channel objects.
        transport = nil
        ice = nil
        // The handle refers to this engine: dropping it breaks that cycle (channels keep theirs).
        handle = nil
    }
}

extension DataChannelSendError {
    /// The application-facing reason for a transport refusal.
    init(_ error: DataChannelTransportError) {
        switch error.reason {
        case .bufferFull: self.init(.bufferFull)
        case .closed, .dtls, .sctp: self.init(.connectionClosed)
        case .channel(let channelError):
            switch channelError.reason {
            case .messageTooLarge: self.init(.messageTooLarge)
            case .transportClosed: self.init(.connectionClosed)
            default: self.init(.notOpen)
            }
        }
    }
}
