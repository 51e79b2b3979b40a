import DTLS
import DataChannel
import ICE
import ICETransport
import NIOCore
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
    /// The engine failed; everything is closed.
    case failed(DataChannelTransportError)
    /// The engine closed.
    case closed
}

/// Drives one ``DataChannelTransport`` over one ``ICETransport`` on one event loop: datagrams from
/// ICE's DTLS hook go in, DTLS datagrams go out over the selected pair, one timer serves every
/// deadline, and each ``DataChannel`` object gets its messages and events.
///
/// Everything here runs on ``eventLoop`` (confined through `NIOLoopBound`), so nothing is locked;
/// the channel snapshots that other threads read are updated from here.
final class ConnectionEngine {
    let eventLoop: any EventLoop
    private(set) var isClosed = false
    private let ice: ICETransport
    private let transport: DataChannelTransport
    private let onEvent: @Sendable (EngineEvent) -> Void
    private var endpoints: [UInt16: Endpoint] = [:]
    /// Channels whose buffered amount may have changed since the snapshots were refreshed.
    private var touched: Set<UInt16> = []
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?
    private var handle: EngineHandle?

    /// The loop side of one ``DataChannel``.
    private struct Endpoint {
        let channel: DataChannel
        let messages: AsyncStream<DataChannelMessage>.Continuation
        let events: AsyncStream<DataChannelEvent>.Continuation
        /// Suspended sends, oldest first, waiting for the queue to drain (``DataChannel/lowWaterMark``).
        var waiting: [(message: DataChannelMessage, continuation: CheckedContinuation<Result<Void, DataChannelSendError>, Never>)] = []
    }

    init(
        eventLoop: any EventLoop, ice: ICETransport, transport: DataChannelTransport,
        onEvent: @escaping @Sendable (EngineEvent) -> Void
    ) {
        self.eventLoop = eventLoop
        self.ice = ice
        self.transport = transport
        self.onEvent = onEvent
    }

    /// The `Sendable` handle channels use; made once, on the loop.
    func makeHandle() -> EngineHandle {
        if let handle { return handle }
        let handle = EngineHandle(eventLoop: eventLoop, engine: NIOLoopBound(self, eventLoop: eventLoop))
        self.handle = handle
        return handle
    }

    // MARK: Input

    /// Starts DTLS once ICE has selected a pair (the client sends its ClientHello).
    func start() {
        transport.start(now: .now)
        afterInput()
    }

    /// A datagram from ICE's RFC 7983 demultiplexer: DTLS.
    func receive(_ datagram: ByteBuffer) {
        guard !isClosed else { return }
        datagram.withUnsafeReadableBytes { transport.handleDatagram($0, now: .now) }
        afterInput()
    }

    /// Opens a channel and returns its object (state `connecting` until the peer acknowledges).
    func openChannel(_ parameters: DataChannelParameters) throws(DataChannelTransportError) -> DataChannel {
        let id = try transport.openChannel(parameters, now: .now)
        let channel = makeChannel(id: id, parameters: transport.parameters(of: id) ?? parameters)
        afterInput()
        return channel
    }

    func send(
        _ message: DataChannelMessage, on id: UInt16,
        suspending continuation: CheckedContinuation<Result<Void, DataChannelSendError>, Never>
    ) {
        guard endpoints[id] != nil else {
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

    func setBufferedAmountLowThreshold(_ threshold: Int, for id: UInt16) {
        transport.setBufferedAmountLowThreshold(threshold, for: id)
    }

    func closeChannel(_ id: UInt16) {
        transport.closeChannel(id, now: .now)
        afterInput()
    }

    /// Closes DTLS and SCTP and every channel.
    func close() {
        guard !isClosed else { return }
        transport.close(now: .now)
        afterInput()
        finish()
    }

    // MARK: Driving

    private func sendNow(_ message: DataChannelMessage, on id: UInt16) -> Result<Void, DataChannelSendError> {
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
            while let event = transport.pollEvent() {
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
        while let datagram = transport.pollTransmit() {
            datagrams.append(ByteBuffer(bytes: datagram))
        }
        guard !datagrams.isEmpty else { return false }
        // Before ICE selects a pair (or after it closed) the datagrams are lost; DTLS retransmits
        // its handshake and SCTP its data, as over any lossy path.
        try? ice.sendOnEventLoop(datagrams)
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
            onEvent(.remoteChannel(makeChannel(id: id, parameters: parameters)))
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
        for id in touched {
            let amount = transport.bufferedAmount(of: id)
            endpoints[id]?.channel.snapshot.withLockedValue { $0.bufferedAmount = amount }
            if amount == 0 { touched.remove(id) }
        }
    }

    private func armTimer() {
        guard !isClosed, let deadline = transport.nextTimeout else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timerDeadline = deadline
        let delay = ContinuousClock.now.duration(to: deadline)
        let nanoseconds = max(0, delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000)
        timer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) { [self] in
            timerDeadline = nil
            guard !isClosed else { return }
            transport.handleTimeout(now: .now)
            afterInput()
        }
    }

    // MARK: Channels

    private func makeChannel(id: UInt16, parameters: DataChannelParameters) -> DataChannel {
        let (messages, messageContinuation) = AsyncStream.makeStream(of: DataChannelMessage.self)
        let (events, eventContinuation) = AsyncStream.makeStream(of: DataChannelEvent.self)
        let channel = DataChannel(id: id, parameters: parameters, engine: makeHandle(), messages: messages, events: events)
        endpoints[id] = Endpoint(channel: channel, messages: messageContinuation, events: eventContinuation)
        return channel
    }

    private func setState(_ state: DataChannelState, of id: UInt16, event: DataChannelEvent) {
        guard let endpoint = endpoints[id] else { return }
        endpoint.channel.snapshot.withLockedValue { $0.readyState = state }
        endpoint.events.yield(event)
    }

    private func closeEndpoint(_ id: UInt16) {
        guard let endpoint = endpoints.removeValue(forKey: id) else { return }
        touched.remove(id)
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
        isClosed = true
        timer?.cancel()
        timer = nil
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
