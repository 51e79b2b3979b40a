import ICE
import Logging
import NIOCore
import NIOPosix
import SDP
import STUN

/// Why an ``ICETransport`` call failed.
public enum ICETransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// ``ICETransport/send(_:)`` was called before ICE had a valid or selected pair
    /// (``ICEAgent/dataPair``).
    case noSelectedPair
    /// The transport is closed.
    case closed
    /// No local address could be bound, so there is no host candidate.
    case noUsableAddress
    /// ``ICEHostAddressPolicy/addresses(_:)`` named an address no interface that is up has.
    case addressNotLocal(IPAddress)
    /// The ICE agent refused the input.
    case agent(ICEError)

    /// A human-readable explanation.
    public var description: String {
        switch self {
        case .noSelectedPair: "ICE has no valid candidate pair yet"
        case .closed: "the ICE transport is closed"
        case .noUsableAddress: "no local address could be bound for a host candidate"
        case .addressNotLocal(let address): "\(address) is not an address of a local interface that is up"
        case .agent(let error): error.description
        }
    }
}

/// How to start an ``ICETransport``.
public struct ICETransportConfiguration: Sendable {
    /// The agent's role, STUN servers, timers and limits.
    public var agent: ICEConfiguration
    /// The local ufrag and password; `nil` for fresh random ones (RFC 8445 §5.3).
    public var credentials: ICECredentials?
    /// Which local addresses become host candidates.
    public var hostAddresses: ICEHostAddressPolicy
    /// Buffer sizes and batching of the UDP sockets.
    public var socketOptions: UDPSocketOptions
    /// How long an mDNS lookup may take before it counts as failed.
    public var hostnameResolutionTimeout: Duration
    /// At most this many mDNS lookups run at once; further names count as failed (peer-reflexive
    /// discovery still finds such peers once they send checks).
    public var maximumConcurrentHostnameResolutions: Int
    /// Where the transport logs: each bound socket with the buffer sizes obtained (at `notice`
    /// when the kernel capped them below the request, else `debug`), state changes (`debug`).
    public var logger: Logger
    /// The hook for the next layer (DTLS): receives each datagram whose first byte is 20...63
    /// (DTLS, RFC 7983 §7) that arrived from one of the peer's candidates on one of our sockets
    /// (``ICEAgent/acceptsData(from:on:)``), in arrival order, **on the transport's event loop**
    /// (``ICETransport/eventLoop``). It must not block. The buffer may share storage with the other datagrams of the same
    /// `recvmmsg` batch: copy it if it is kept long.
    public var onApplicationData: @Sendable (ByteBuffer) -> Void

    /// Creates a configuration.
    public init(
        agent: ICEConfiguration,
        credentials: ICECredentials? = nil,
        hostAddresses: ICEHostAddressPolicy = .automatic(),
        socketOptions: UDPSocketOptions = .default,
        hostnameResolutionTimeout: Duration = .seconds(3),
        maximumConcurrentHostnameResolutions: Int = 8,
        logger: Logger = Logger(label: "ICETransport"),
        onApplicationData: @escaping @Sendable (ByteBuffer) -> Void = { _ in }
    ) {
        self.agent = agent
        self.credentials = credentials
        self.hostAddresses = hostAddresses
        self.socketOptions = socketOptions
        self.hostnameResolutionTimeout = hostnameResolutionTimeout
        self.maximumConcurrentHostnameResolutions = maximumConcurrentHostnameResolutions
        self.logger = logger
        self.onApplicationData = onApplicationData
    }
}

/// The driver's own counters (the agent's are in ``ICETransportStatistics/agent``).
public struct ICEDriverCounters: Sendable, Hashable {
    /// Every datagram read from the sockets.
    public var datagramsReceived = 0
    /// Datagrams classified as STUN (first byte 0...3, RFC 7983 §7) and given to the agent.
    public var stunDatagramsReceived = 0
    /// DTLS datagrams handed to ``ICETransportConfiguration/onApplicationData``.
    public var applicationDatagramsReceived = 0
    /// Datagrams that are neither STUN nor DTLS (RFC 7983 §7: dropped), empty ones included.
    public var droppedUnknownKind = 0
    /// DTLS datagrams dropped because they came from no candidate of the peer, or because too many
    /// arrived before ICE had a valid pair.
    public var droppedApplicationDataOffPath = 0
    /// Datagrams written: the agent's STUN transmits and application data.
    public var datagramsSent = 0
    /// Application datagrams written by ``ICETransport/send(_:)``.
    public var applicationDatagramsSent = 0
    /// Datagrams not written because the socket's write buffer was over its high-water mark.
    public var droppedWhileSocketBusy = 0
    /// Agent transmits from a base address that has no socket (should stay zero).
    public var droppedTransmitsWithoutSocket = 0
    /// Errors the sockets reported (ICMP errors surfacing as `ECONNREFUSED`, failed writes).
    public var socketErrors = 0
    /// mDNS lookups started.
    public var hostnameResolutionsStarted = 0
    /// mDNS names not resolved: no answer, timeout, not a `.local` name, or too many lookups at once.
    public var hostnameResolutionsFailed = 0

    /// Zeroed counters.
    public init() {}
}

/// A snapshot of an ``ICETransport``'s state and counters.
public struct ICETransportStatistics: Sendable, Hashable {
    /// The agent's pairs and counters.
    public var agent: ICEStatistics
    /// The driver's counters.
    public var driver: ICEDriverCounters
    /// The open sockets, one per host candidate, with the buffer sizes the kernel granted.
    public var sockets: [UDPSocketInfo]
}

/// An ICE transport (RFC 8445) over real UDP sockets: a SwiftNIO driver for the sans-IO
/// ``ICEAgent``.
///
/// The transport owns one UDP socket per host candidate address (single component: BUNDLE and
/// rtcp-mux) and one agent, all confined to one NIO event loop: every public method hops onto
/// it, so nothing is locked. Received datagrams are demultiplexed by their first byte (RFC 7983
/// §7): STUN goes to the agent, DTLS to ``ICETransportConfiguration/onApplicationData``, the rest
/// is counted and dropped. After every input the driver sends what the agent queued (one flush,
/// hence one `sendmmsg`, per batch), forwards its events to ``events`` and re-arms one timer for
/// the agent's next deadline.
public final class ICETransport: Sendable {
    /// The event loop the sockets, the agent and ``ICETransportConfiguration/onApplicationData`` run on.
    public let eventLoop: any EventLoop
    /// Local candidates one by one, gathering, connection state, selected pair and role changes,
    /// in order. Finishes when the transport closes. Single consumer.
    public let events: AsyncStream<ICEEvent>
    private let core: NIOLoopBound<TransportCore>

    private init(eventLoop: any EventLoop, events: AsyncStream<ICEEvent>, core: NIOLoopBound<TransportCore>) {
        self.eventLoop = eventLoop
        self.events = events
        self.core = core
    }

    /// Binds one socket (ephemeral port) per address the configuration's policy yields on one of
    /// `group`'s event loops, gives each to the agent as a host candidate base and finishes
    /// gathering (server-reflexive candidates follow if STUN servers are configured).
    public static func start(configuration: ICETransportConfiguration, group: any EventLoopGroup) async throws -> ICETransport {
        let eventLoop = group.next()
        let bindings = try configuration.hostAddresses.bindings()
        let (events, continuation) = AsyncStream.makeStream(of: ICEEvent.self)
        let core = try await eventLoop.submit {
            NIOLoopBound(TransportCore(configuration: configuration, events: continuation, eventLoop: eventLoop), eventLoop: eventLoop)
        }.get()
        var sockets: [(UDPSocket, UInt32)] = []
        do {
            for binding in bindings {
                let socket = try await UDPSocket.bind(
                    to: SocketAddress(binding.address, scopeID: binding.scopeID), on: eventLoop,
                    options: configuration.socketOptions, receiver: core)
                sockets.append((socket, binding.scopeID))
            }
            guard !sockets.isEmpty else { throw ICETransportError.noUsableAddress }
            try await eventLoop.submit { [sockets] in core.value.start(sockets: sockets) }.get()
        } catch {
            for (socket, _) in sockets {
                try? await socket.channel.close()
            }
            continuation.finish()
            throw error
        }
        return ICETransport(eventLoop: eventLoop, events: events, core: core)
    }

    /// Runs `body` with the core on the event loop: at once when the caller is already there (a
    /// peer connection whose executor is this loop), since a hop would queue behind everything
    /// else the loop has to do, such as a DTLS handshake's signatures, once per call.
    private func onLoop<T: Sendable>(_ body: @escaping @Sendable (TransportCore) throws -> T) async throws -> T {
        if eventLoop.inEventLoop { return try body(core.value) }
        return try await eventLoop.submit { [core] in try body(core.value) }.get()
    }

    /// The local ufrag and password (new ones after ``restart()``).
    public var localCredentials: ICECredentials {
        get async throws { try await onLoop { $0.agent.localCredentials } }
    }

    /// Sets the peer's ufrag and password (from its description).
    public func setRemoteCredentials(_ credentials: ICECredentials) async throws {
        try await onLoop { core in
            try core.input { agent, now in agent.setRemoteCredentials(credentials, now: now) }
        }
    }

    /// Adds a trickled remote candidate (RFC 8838). mDNS names are resolved in the background.
    /// - Throws: ``ICETransportError/agent(_:)`` when the agent refuses it (limits, invalid).
    public func addRemoteCandidate(_ candidate: ICECandidate) async throws {
        try await onLoop { core in
            try core.input { agent, now in
                do throws(ICEError) {
                    try agent.addRemoteCandidate(candidate, now: now)
                } catch {
                    throw ICETransportError.agent(error)
                }
            }
        }
    }

    /// Signals that the peer has no more candidates (RFC 8838 §4.4).
    public func addRemoteEndOfCandidates() async throws {
        try await onLoop { core in
            try core.input { agent, now in agent.addRemoteEndOfCandidates(now: now) }
        }
    }

    /// Restarts ICE (RFC 8445 §9) and returns the new local credentials to signal; the agent
    /// emits the sockets' host candidates again with the new generation on ``events``. Data keeps flowing on the old pair until a new one is
    /// selected.
    public func restart() async throws -> ICECredentials {
        try await onLoop { core in try core.restart() }
    }

    /// Sends one datagram over the selected pair, or before ICE selected one over the best valid
    /// pair (``ICEAgent/dataPair``, RFC 8445 §12.1). Use it for DTLS records; the first byte should
    /// be 20...63 so that the peer's demultiplexer (RFC 7983) recognises it.
    /// - Throws: ``ICETransportError/noSelectedPair`` before ICE has a valid pair.
    public func send(_ payload: ByteBuffer) async throws {
        try await send(contentsOf: [payload])
    }

    /// Sends several datagrams over the data pair with one flush (one `sendmmsg`).
    /// - Throws: ``ICETransportError/noSelectedPair`` before ICE has a valid pair.
    public func send(contentsOf payloads: [ByteBuffer]) async throws {
        try await onLoop { core in try core.sendApplicationData(payloads) }
    }

    /// Sends datagrams over the data pair from code already running on ``eventLoop`` (such as
    /// the DTLS layer answering inside ``ICETransportConfiguration/onApplicationData``), without
    /// the hop and the suspension of ``send(contentsOf:)``.
    /// - Precondition: the caller is on ``eventLoop``.
    /// - Throws: ``ICETransportError/noSelectedPair`` or ``ICETransportError/closed``.
    public func sendOnEventLoop(_ payloads: [ByteBuffer]) throws {
        eventLoop.preconditionInEventLoop()
        try core.value.sendApplicationData(payloads)
    }

    /// The agent's and the driver's counters and the sockets' facts.
    public func statistics() async throws -> ICETransportStatistics {
        try await onLoop { $0.statistics }
    }

    /// Closes the agent and the sockets, cancels the timer and finishes ``events``. Idempotent;
    /// returns once every socket is closed.
    public func close() async {
        try? await eventLoop.flatSubmit { [core] in core.value.close() }.get()
    }
}

/// The loop-confined state of an ``ICETransport``.
final class TransportCore: DatagramReceiver {
    /// A bound socket and the interface index its link-local destinations need.
    private struct LocalSocket {
        let socket: UDPSocket
        let scopeID: UInt32
    }

    private let eventLoop: any EventLoop
    private(set) var agent: ICEAgent
    private let continuation: AsyncStream<ICEEvent>.Continuation
    private let onApplicationData: @Sendable (ByteBuffer) -> Void
    private let logger: Logger
    private let hostnameResolutionTimeout: TimeAmount
    private let maximumConcurrentHostnameResolutions: Int
    private let receiveBufferRequest: Int
    private let sendBufferRequest: Int

    /// Sockets by local base address, and that order of binding (for statistics).
    private var sockets: [TransportAddress: LocalSocket] = [:]
    private var socketOrder: [TransportAddress] = []
    /// The agent's data pair (the selected pair, or before one the best valid pair), refreshed
    /// after every input (read per datagram).
    private var dataPair: ICESelectedPair?
    private var counters = ICEDriverCounters()
    /// The one timer, and the agent deadline it is armed for.
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?
    /// STUN arrived in the current read batch: drive the agent at the batch's end.
    private var readBatchPending = false
    /// Sockets written to since the last flush.
    private var unflushed: [any Channel] = []
    /// DTLS datagrams that arrived before there was a data pair, oldest first.
    private var earlyApplicationData: [(data: ByteBuffer, source: TransportAddress, local: TransportAddress)] = []
    /// At most this many early datagrams wait: a DTLS client's first flight is one or two.
    static let maximumEarlyApplicationDatagrams = 16
    /// Names being resolved; the first of answer and timeout wins.
    private var pendingResolutions: Set<String> = []
    private var closed = false

    init(configuration: ICETransportConfiguration, events: AsyncStream<ICEEvent>.Continuation, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        agent = ICEAgent(
            configuration: configuration.agent, credentials: configuration.credentials ?? .random(), now: .now)
        continuation = events
        onApplicationData = configuration.onApplicationData
        logger = configuration.logger
        hostnameResolutionTimeout = TimeAmount(configuration.hostnameResolutionTimeout)
        maximumConcurrentHostnameResolutions = configuration.maximumConcurrentHostnameResolutions
        receiveBufferRequest = configuration.socketOptions.receiveBufferSize
        sendBufferRequest = configuration.socketOptions.sendBufferSize
    }

    /// Takes over the bound sockets, adds them as host candidate bases and finishes gathering.
    func start(sockets bound: [(UDPSocket, UInt32)]) {
        for (socket, scopeID) in bound {
            let base = socket.info.localAddress
            sockets[base] = LocalSocket(socket: socket, scopeID: scopeID)
            socketOrder.append(base)
            // Linux reports twice the usable size; less than requested means the kernel capped it.
            let capped = socket.info.receiveBufferSize < receiveBufferRequest || socket.info.sendBufferSize < sendBufferRequest
            logger.log(level: capped ? .notice : .debug, "ICE socket bound", metadata: [
                "address": "\(base)",
                "SO_RCVBUF": "\(socket.info.receiveBufferSize)",
                "SO_SNDBUF": "\(socket.info.sendBufferSize)",
            ])
        }
        // RFC 8445 §5.1.1.1: every socket's address is a host candidate base.
        for base in socketOrder {
            do {
                try agent.addHostCandidate(base: base, now: .now)
            } catch {
                logger.warning("ICE agent refused a host candidate", metadata: ["address": "\(base)", "error": "\(error)"])
            }
        }
        agent.finishGathering(now: .now)
        drive()
    }

    /// Applies one input to the agent, then drives it. Throws ``ICETransportError/closed`` once closed.
    func input(_ body: (inout ICEAgent, ContinuousClock.Instant) throws -> Void) throws {
        guard !closed else { throw ICETransportError.closed }
        defer { drive() }
        try body(&agent, .now)
    }

    func restart() throws -> ICECredentials {
        guard !closed else { throw ICETransportError.closed }
        // RFC 8445 §9: the agent re-emits the host candidates of the sockets it knows with the new
        // generation and gathers server-reflexive candidates again; the sockets stay.
        let credentials = agent.restart(now: .now)
        drive()
        return credentials
    }

    var statistics: ICETransportStatistics {
        ICETransportStatistics(
            agent: agent.statistics, driver: counters, sockets: socketOrder.compactMap { sockets[$0]?.socket.info })
    }

    // MARK: Driver loop

    /// Sends what the agent queued (flushing each socket once), forwards its events and re-arms
    /// the timer for its next deadline.
    private func drive() {
        while let transmit = agent.pollTransmit() {
            guard let local = sockets[transmit.source] else {
                counters.droppedTransmitsWithoutSocket += 1
                continue
            }
            write(local.socket.channel.allocator.buffer(bytes: transmit.payload), to: transmit.destination, from: local)
        }
        flush()
        while let event = agent.pollEvent() {
            switch event {
            case .resolveHostname(let name):
                resolve(name)
            case .connectionStateChanged(let state):
                logger.debug("ICE connection state", metadata: ["state": "\(state)"])
                continuation.yield(event)
            default:
                continuation.yield(event)
            }
        }
        dataPair = agent.dataPair
        releaseEarlyApplicationData()
        rearmTimer()
    }

    private func write(_ payload: ByteBuffer, to destination: TransportAddress, from local: LocalSocket) {
        let channel = local.socket.channel
        guard channel.isWritable else {
            counters.droppedWhileSocketBusy += 1
            return
        }
        let scopeID = destination.ip.isLinkLocalIPv6 ? local.scopeID : 0
        channel.write(AddressedEnvelope(remoteAddress: SocketAddress(destination, scopeID: scopeID), data: payload), promise: nil)
        counters.datagramsSent += 1
        if !unflushed.contains(where: { $0 === channel }) {
            unflushed.append(channel)
        }
    }

    private func flush() {
        for channel in unflushed {
            channel.flush()
        }
        unflushed.removeAll(keepingCapacity: true)
    }

    private func rearmTimer() {
        let deadline = closed ? nil : agent.nextTimeout
        guard deadline != timerDeadline else { return }
        timer?.cancel()
        timer = nil
        timerDeadline = deadline
        guard let deadline else { return }
        let core = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(in: TimeAmount(deadline - .now)) {
            core.value.timerFired()
        }
    }

    private func timerFired() {
        timer = nil
        timerDeadline = nil
        guard !closed else { return }
        agent.handleTimeout(now: .now)
        drive()
    }

    // MARK: Application data

    func sendApplicationData(_ payloads: [ByteBuffer]) throws {
        guard !closed else { throw ICETransportError.closed }
        guard let pair = dataPair, let local = sockets[pair.local] else { throw ICETransportError.noSelectedPair }
        var bytes = 0
        for payload in payloads {
            write(payload, to: pair.remote, from: local)
            bytes += payload.readableBytes
        }
        flush()
        counters.applicationDatagramsSent += payloads.count
        agent.recordApplicationData(sent: bytes, received: 0, now: .now)
    }

    // MARK: DatagramReceiver

    func receive(_ datagram: AddressedEnvelope<ByteBuffer>, on channel: any Channel, localAddress: TransportAddress) {
        counters.datagramsReceived += 1
        guard !closed, let source = TransportAddress(datagram.remoteAddress) else { return }
        // RFC 7983 §7: demultiplex by the first byte.
        switch datagram.data.withUnsafeReadableBytes(PacketKind.init(classifying:)) {
        case .stun:
            counters.stunDatagramsReceived += 1
            let now = ContinuousClock.now
            datagram.data.withUnsafeReadableBytes { agent.handleSTUN($0, from: source, to: localAddress, now: now) }
            readBatchPending = true
        case .dtls:
            // The peer may start DTLS the moment it has a valid pair, before we have one (its
            // ClientHello can even arrive before its answer reaches us): until we have a data
            // pair, a few such datagrams wait instead of costing a DTLS retransmission (1 s).
            guard let pair = dataPair else {
                if earlyApplicationData.count < Self.maximumEarlyApplicationDatagrams {
                    earlyApplicationData.append((datagram.data, source, localAddress))
                } else {
                    counters.droppedApplicationDataOffPath += 1
                }
                return
            }
            // The data pair first (one comparison per datagram); then any candidate of the peer
            // (RFC 8445 §12.2): before a selection the two agents may send on different valid pairs.
            guard (pair.local == localAddress && pair.remote == source) || agent.acceptsData(from: source, on: localAddress) else {
                counters.droppedApplicationDataOffPath += 1
                return
            }
            deliverApplicationData(datagram.data)
        default:
            counters.droppedUnknownKind += 1
        }
    }

    private func deliverApplicationData(_ data: ByteBuffer) {
        counters.applicationDatagramsReceived += 1
        agent.recordApplicationData(sent: 0, received: data.readableBytes, now: .now)
        onApplicationData(data)
    }

    /// Once there is a data pair, hands over the datagrams that arrived before from the peer's
    /// candidates.
    private func releaseEarlyApplicationData() {
        guard dataPair != nil, !earlyApplicationData.isEmpty else { return }
        let early = earlyApplicationData
        earlyApplicationData = []
        for (data, source, local) in early {
            if agent.acceptsData(from: source, on: local) {
                deliverApplicationData(data)
            } else {
                counters.droppedApplicationDataOffPath += 1
            }
        }
    }

    func readComplete() {
        guard readBatchPending else { return }
        readBatchPending = false
        drive()
    }

    func socketError(_ error: any Error) {
        counters.socketErrors += 1
        logger.debug("ICE socket error", metadata: ["error": "\(error)"])
    }

    // MARK: mDNS

    /// Resolves a remote `.local` candidate address on NIO's thread pool, bounded by the
    /// configured timeout. Failure is silent but counted: peer-reflexive discovery (RFC 8445
    /// §7.3.1.3) still finds the peer when it sends checks.
    private func resolve(_ name: String) {
        guard HostnameResolver.isMDNSName(name), !pendingResolutions.contains(name),
              pendingResolutions.count < maximumConcurrentHostnameResolutions
        else {
            counters.hostnameResolutionsFailed += 1
            return
        }
        pendingResolutions.insert(name)
        counters.hostnameResolutionsStarted += 1
        let core = NIOLoopBound(self, eventLoop: eventLoop)
        let timeout = eventLoop.scheduleTask(in: hostnameResolutionTimeout) {
            core.value.finishResolution(of: name, addresses: [])
        }
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
            HostnameResolver.lookup(name)
        }.whenComplete { result in
            timeout.cancel()
            core.value.finishResolution(of: name, addresses: (try? result.get()) ?? [])
        }
    }

    private func finishResolution(of name: String, addresses: [IPAddress]) {
        guard pendingResolutions.remove(name) != nil else { return }
        // Prefer an address of a family we have a socket for: only those can pair.
        let usable = addresses.first { address in
            socketOrder.contains { base in
                switch (base.ip, address) {
                case (.v4, .v4), (.v6, .v6): true
                default: false
                }
            }
        }
        guard !closed, let usable else {
            counters.hostnameResolutionsFailed += 1
            return
        }
        agent.resolveRemoteHostname(name, to: usable, now: .now)
        drive()
    }

    // MARK: Closing

    func close() -> EventLoopFuture<Void> {
        guard !closed else { return eventLoop.makeSucceededVoidFuture() }
        agent.close(now: .now)
        drive()
        closed = true
        rearmTimer()
        continuation.finish()
        let closes = socketOrder.compactMap { sockets[$0]?.socket.channel.close() }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }
}
