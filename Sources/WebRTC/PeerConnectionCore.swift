import DTLS
import DataChannel
import ICE
import ICETransport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SCTP
import SDP

/// A description we generated, as set or as last created.
struct LocalDescription: Sendable {
    var type: SDPType
    var session: SessionDescription
    var sdp: String
    var credentials: ICECredentials
    var setup: SetupRole
    var layout: JSEP.Layout
}

/// The state of one ``PeerConnection``: an actor whose executor is the connection's event loop,
/// so its isolated code runs where the ``ConnectionEngine`` and the ICE transport live and may
/// touch them without a hop.
///
/// Suspension points (ICE start and ICE calls) come after each operation's state change, so two
/// interleaved operations each see a consistent signaling state; queued remote ICE input is
/// taken out of its queue before being awaited, so nothing is applied twice.
actor PeerConnectionCore {
    /// Cores alive in this process: the release tests check that closing frees every one.
    static let liveCount = NIOLockedValueBox(0)
    /// Trickled remote candidates held until the remote description and ICE exist: the agent's own
    /// bound (``ICELimits/maximumRemoteCandidates``), since it would refuse more anyway.
    static let maximumQueuedCandidates = ICELimits.default.maximumRemoteCandidates

    nonisolated let eventLoop: any EventLoop
    private nonisolated let executor: any SerialExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private let configuration: PeerConnectionConfiguration
    private let certificate: DTLSCertificate
    private let logger: Logger
    private let snapshot: NIOLockedValueBox<PeerConnection.Snapshot>
    private let events: AsyncStream<PeerConnectionEvent>.Continuation
    private let engine: ConnectionEngine
    private let engineEvents: AsyncStream<EngineEvent>
    private let engineEventsContinuation: AsyncStream<EngineEvent>.Continuation

    // Signaling (RFC 9429 §3.2, §4.1.8)
    private var signalingState = SignalingState.stable
    private var currentLocal: LocalDescription?
    private var pendingLocal: LocalDescription?
    private var currentRemote: RemoteDescription?
    private var pendingRemote: RemoteDescription?
    private var lastCreated: LocalDescription?
    /// The m-section layout of the last completed exchange; subsequent offers keep it (§5.2.2).
    private var negotiatedLayout = JSEP.Layout.initialOffer
    /// RFC 9429 §5.2.1: a random 63-bit session id (positive as a signed 64-bit integer).
    private let sessionID = UInt64.random(in: 0...UInt64(Int64.max))
    private var sessionVersion: UInt64 = 0

    // ICE
    private var localCredentials = ICECredentials.random()
    private var ice: ICETransport?
    private var iceStart: Task<Void, Never>?
    /// Local candidates of the generation being gathered, in order.
    private var localCandidates: [ICECandidate] = []
    /// The ufrag of the generation whose gathering completed (`nil` while gathering).
    private var completedGeneration: String?
    private var appliedRemoteCredentials: ICECredentials?
    private var queuedCandidates: [(candidate: ICECandidate, mid: String?, index: Int?)] = []
    private var queuedEndOfCandidates = false
    /// ICE has a pair that can carry data: a valid one (RFC 8445 §12.1) or the selected one.
    private var iceUsable = false
    private var unusableServerURLs: [String] = []
    private var iceState = ICEConnectionState.new
    private var gatheringState = ICEGatheringState.new

    // DTLS and SCTP
    private var transportAttached = false
    private var dtlsState = DTLSState.new
    private var dtlsInfo: DTLSConnectionInfo?
    /// Why the DTLS/SCTP transport failed, for ``PeerConnectionStatistics/transportFailure``.
    private var transportFailure: DataChannelTransportError?
    private var connectionState = PeerConnectionState.new
    private var closed = false

    init(
        configuration: PeerConnectionConfiguration, certificate: DTLSCertificate,
        snapshot: NIOLockedValueBox<PeerConnection.Snapshot>, events: AsyncStream<PeerConnectionEvent>.Continuation
    ) {
        let eventLoop = configuration.eventLoopGroup.next()
        self.eventLoop = eventLoop
        executor = eventLoop.executor
        self.configuration = configuration
        self.certificate = certificate
        logger = configuration.logger
        self.snapshot = snapshot
        self.events = events
        let (engineEvents, engineEventsContinuation) = AsyncStream.makeStream(of: EngineEvent.self)
        self.engineEvents = engineEvents
        self.engineEventsContinuation = engineEventsContinuation
        engine = ConnectionEngine(eventLoop: eventLoop, maximumMessageSize: configuration.maxMessageSize) { event in
            engineEventsContinuation.yield(event)
        }
        Self.liveCount.withLockedValue { $0 += 1 }
    }

    deinit {
        Self.liveCount.withLockedValue { $0 -= 1 }
    }

    /// Delivers the engine's events until the connection closes.
    func runEngineEvents() async {
        for await event in engineEvents {
            handle(event)
        }
    }

    // MARK: Offers and answers

    func createOffer() throws(PeerConnectionError) -> RTCSessionDescription {
        try checkOpen()
        // W3C §4.4.1.6 createOffer: only in stable or have-local-offer.
        guard signalingState == .stable || signalingState == .haveLocalOffer else {
            throw PeerConnectionError(.invalidState(signalingState))
        }
        let offer = makeLocal(.offer, setup: SetupNegotiation.offerSetup, layout: negotiatedLayout)
        return RTCSessionDescription(type: .offer, sdp: offer.sdp)
    }

    func createAnswer() throws(PeerConnectionError) -> RTCSessionDescription {
        let answer = try makeAnswer(.answer)
        return RTCSessionDescription(type: .answer, sdp: answer.sdp)
    }

    /// An answer (or provisional answer) to the pending remote offer (RFC 9429 §5.3.1).
    private func makeAnswer(_ type: SDPType) throws(PeerConnectionError) -> LocalDescription {
        try checkOpen()
        // W3C §4.4.1.6 createAnswer: only in have-remote-offer or have-local-pranswer.
        guard signalingState == .haveRemoteOffer || signalingState == .haveLocalPranswer, let offer = pendingRemote else {
            throw PeerConnectionError(.invalidState(signalingState))
        }
        let setup: SetupRole
        do {
            setup = try SetupNegotiation.answerSetup(toOffer: offer.setup)
        } catch {
            throw PeerConnectionError(.invalidDescription(error.description))
        }
        return makeLocal(type, setup: setup, layout: offer.layout)
    }

    /// Generates a description and remembers it as the last created one. The session version
    /// grows only when the content differs from the last one (RFC 9429 §5.2.2).
    private func makeLocal(_ type: SDPType, setup: SetupRole, layout: JSEP.Layout) -> LocalDescription {
        var session = JSEP.description(JSEP.LocalParameters(
            origin: Origin(sessionID: String(sessionID), sessionVersion: String(sessionVersion)),
            credentials: localCredentials, fingerprint: certificate.fingerprint(), setup: setup,
            maxMessageSize: configuration.maxMessageSize, layout: layout))
        if let last = lastCreated?.session, last.fields == session.fields, last.media == session.media {
            session.origin = last.origin
        } else {
            sessionVersion += 1
            session.origin.sessionVersion = String(sessionVersion)
        }
        let description = LocalDescription(
            type: type, session: session, sdp: session.serialized(), credentials: localCredentials, setup: setup, layout: layout)
        lastCreated = description
        return description
    }

    func setLocalDescription(_ description: RTCSessionDescription?) async throws(PeerConnectionError) {
        try checkOpen()
        let type: SDPType
        if let description {
            type = description.type
        } else {
            type = try implicitLocalType()
        }
        guard let next = JSEP.stateAfterLocal(type, in: signalingState) else {
            throw PeerConnectionError(.invalidState(signalingState))
        }
        if type == .rollback {
            rollBack()
            return
        }
        let local = try localDescription(type, sdp: description?.sdp ?? "")
        // Checked before anything changes, so a refused description leaves the state as it was.
        var transport: DataChannelTransport?
        if type != .offer, let offer = pendingRemote {
            transport = try makeTransport(local: local, remote: offer, weOffered: false)
        }
        switch type {
        case .answer:
            currentLocal = local
            currentRemote = pendingRemote ?? currentRemote
            pendingLocal = nil
            pendingRemote = nil
            negotiatedLayout = local.layout
        default:
            pendingLocal = local
        }
        setSignaling(next)
        if let transport { attach(transport) }
        // ICE starts with the first local description (RFC 9429 §5.2.1: gathering begins here):
        // the offerer controls (RFC 8445 §6.1.1), and so does an answerer facing an ice-lite peer.
        let liteOffer = (pendingRemote ?? currentRemote)?.isICELite ?? false
        await startICE(role: type == .offer || liteOffer ? .controlling : .controlled)
        await applyRemoteICE()
    }

    /// W3C §4.4.1.6 implicit setLocalDescription: an offer in stable or have-local-offer, else an answer.
    private func implicitLocalType() throws(PeerConnectionError) -> SDPType {
        switch signalingState {
        case .stable, .haveLocalOffer: .offer
        case .haveRemoteOffer, .haveLocalPranswer: .answer
        default: throw PeerConnectionError(.invalidState(signalingState))
        }
    }

    /// The description to set: the last created one of this kind, or a new one when `sdp` is
    /// empty (W3C). Modified SDP ("munging") is refused, as browsers refuse it.
    private func localDescription(_ type: SDPType, sdp: String) throws(PeerConnectionError) -> LocalDescription {
        let offering = type == .offer
        if sdp.isEmpty {
            return offering
                ? makeLocal(.offer, setup: SetupNegotiation.offerSetup, layout: negotiatedLayout)
                : try makeAnswer(type)
        }
        guard var last = lastCreated, last.sdp == sdp, (last.type == .offer) == offering else {
            throw PeerConnectionError(.invalidDescription(
                "not the last description created by \(offering ? "createOffer" : "createAnswer") (SDP munging is not supported)"))
        }
        last.type = type
        return last
    }

    func setRemoteDescription(_ description: RTCSessionDescription) async throws(PeerConnectionError) {
        try checkOpen()
        guard let next = JSEP.stateAfterRemote(description.type, in: signalingState) else {
            throw PeerConnectionError(.invalidState(signalingState))
        }
        if description.type == .rollback {
            rollBack()
            return
        }
        let remote = try RemoteDescription(description)
        let previous = (pendingRemote ?? currentRemote)?.credentials
        var transport: DataChannelTransport?
        if description.type == .offer {
            do {
                _ = try SetupNegotiation.answerSetup(toOffer: remote.setup)
            } catch {
                throw PeerConnectionError(.invalidDescription(error.description))
            }
        } else if let offer = pendingLocal {
            transport = try makeTransport(local: offer, remote: remote, weOffered: true)
        }
        switch description.type {
        case .answer:
            currentRemote = remote
            currentLocal = pendingLocal ?? currentLocal
            pendingLocal = nil
            pendingRemote = nil
            negotiatedLayout = currentLocal?.layout ?? negotiatedLayout
        default:
            pendingRemote = remote
        }
        setSignaling(next)
        if let transport { attach(transport) }
        // RFC 8445 §9 / RFC 9429 §5.3.1: an offer with new credentials restarts ICE; unless we
        // restarted ourselves already, our answer must carry new credentials too.
        if description.type == .offer, let previous, previous.ufrag != remote.credentials.ufrag,
           localCredentials == (currentLocal ?? pendingLocal)?.credentials {
            await restartICE()
        }
        for candidate in remote.candidates where queuedCandidates.count < Self.maximumQueuedCandidates {
            queuedCandidates.append((candidate, remote.layout.mid, remote.layout.index))
        }
        queuedEndOfCandidates = queuedEndOfCandidates || remote.endOfCandidates
        await applyRemoteICE()
    }

    /// RFC 9429 §4.1.8.2: back to stable, the pending descriptions discarded. (ICE keeps what it
    /// learned: credentials and candidates of a rolled-back offer are harmless, as no pair is
    /// nominated without the peer's checks.)
    private func rollBack() {
        pendingLocal = nil
        pendingRemote = nil
        setSignaling(.stable)
    }

    var localDescription: RTCSessionDescription? {
        guard let local = pendingLocal ?? currentLocal else { return nil }
        // Only candidates of the description's own ICE generation (none after restartIce until
        // the next description).
        let ufrag = local.credentials.ufrag
        let session = JSEP.description(
            local.session, at: local.layout.index,
            candidates: localCandidates.filter { $0.ufrag.map { $0 == ufrag } ?? true },
            complete: completedGeneration == ufrag)
        return RTCSessionDescription(type: local.type, sdp: session.serialized())
    }

    var remoteDescription: RTCSessionDescription? {
        (pendingRemote ?? currentRemote).map { RTCSessionDescription(type: $0.type, sdp: $0.sdp) }
    }

    // MARK: DTLS and SCTP

    /// The data-channel transport for an offer/answer pair: DTLS role from `a=setup`
    /// (RFC 8842 §5), the peer's fingerprints (RFC 8122), both SCTP ports (RFC 8841 §5).
    private func makeTransport(local: LocalDescription, remote: RemoteDescription, weOffered: Bool) throws(PeerConnectionError) -> DataChannelTransport? {
        guard !transportAttached else { return nil }
        let role: DTLSRole
        do {
            role = try SetupNegotiation.dtlsRole(local: local.setup, remote: remote.setup, weOffered: weOffered)
        } catch {
            throw PeerConnectionError(.invalidDescription(error.description))
        }
        let sctp = SCTPConfiguration(
            localPort: JSEP.sctpPort, remotePort: remote.sctpPort, sendBufferSize: configuration.sctpSendBufferSize,
            receiveBufferSize: configuration.sctpReceiveBufferSize, maximumStreams: configuration.sctpMaximumStreams,
            maximumMessageSize: configuration.maxMessageSize)
        do {
            let transport = try DataChannelTransport(
                role: role, certificate: certificate, remoteFingerprints: remote.fingerprints,
                configuration: DataChannelTransportConfiguration(sctp: sctp), now: .now)
            transport.setRemoteMaximumMessageSize(remote.maxMessageSize)
            return transport
        } catch {
            throw PeerConnectionError(.transport(error.description))
        }
    }

    /// Hands the transport to the engine (queued channels open on it) and starts DTLS if ICE is up.
    private func attach(_ transport: DataChannelTransport) {
        guard let remote = pendingRemote ?? currentRemote else { return }
        transportAttached = true
        let ours = configuration.maxMessageSize
        // RFC 8841 §6.1: absent means 64 KiB, 0 means no limit.
        let theirs: Int = switch remote.maxMessageSize {
        case nil: DataChannelLimits.defaultRemoteMaximumMessageSize
        case 0: ours
        case let size?: Int(clamping: size)
        }
        engine.attach(transport: transport, maximumMessageSize: min(ours, theirs))
        if configuration.iceTransportPolicy == .relay {
            // No relay candidates can exist (no TURN support): no pair will ever form.
            setICEState(.failed)
        }
        startDTLSIfReady()
    }

    /// DTLS starts once the transport exists and ICE has a valid or selected pair (the client
    /// sends its ClientHello; the server just listens).
    private func startDTLSIfReady() {
        guard transportAttached, iceUsable, dtlsState == .new, !closed else { return }
        engine.start()
        setDTLSState(.connecting)
    }

    // MARK: ICE

    /// Starts the ICE transport once; later calls wait for that start.
    private func startICE(role: ICERole) async {
        if iceStart == nil {
            iceStart = Task { await launchICE(role: role) }
        }
        await iceStart?.value
    }

    private func launchICE(role: ICERole) async {
        guard !closed else { return }
        guard configuration.iceTransportPolicy == .all else {
            // ICETransportPolicy.relay without TURN support: nothing to gather.
            setGatheringState(.gathering)
            setGatheringState(.complete)
            return
        }
        let servers = await ICEServerURL.resolve(configuration.iceServers, timeout: configuration.stunResolutionTimeout, on: eventLoop)
        unusableServerURLs = servers.unusable
        for url in servers.unusable {
            logger.warning("ICE server URL not used: TURN and STUNS are not supported, or the STUN host did not resolve", metadata: ["url": "\(url)"])
        }
        let handle = engine.makeHandle()
        let iceConfiguration = ICETransportConfiguration(
            agent: ICEConfiguration(role: role, stunServers: servers.addresses, timing: configuration.iceTiming),
            credentials: localCredentials, hostAddresses: configuration.hostAddresses, logger: logger,
            onApplicationData: { datagram in handle.engine.value.receive(datagram) })
        do {
            let transport = try await ICETransport.start(configuration: iceConfiguration, group: eventLoop)
            guard !closed else {
                await transport.close()
                return
            }
            ice = transport
            engine.attach(ice: transport)
            Task { await runICEEvents(transport.events) }
        } catch {
            logger.error("ICE transport did not start", metadata: ["error": "\(error)"])
            setICEState(.failed)
        }
    }

    private func runICEEvents(_ stream: AsyncStream<ICEEvent>) async {
        for await event in stream {
            handle(event)
        }
    }

    private func handle(_ event: ICEEvent) {
        guard !closed else { return }
        switch event {
        case .localCandidate(let candidate):
            localCandidates.append(candidate)
            let layout = (pendingLocal ?? currentLocal)?.layout ?? negotiatedLayout
            events.yield(.iceCandidate(RTCIceCandidate(
                candidate: candidate.candidateString, sdpMid: layout.mid, sdpMLineIndex: layout.index)))
        case .gatheringStateChanged(let state):
            setGatheringState(state)
        case .connectionStateChanged(let state):
            setICEState(state)
            // `connected` comes with the first valid pair, which can carry data before the
            // nomination (RFC 8445 §12.1): DTLS need not wait for it.
            if state == .connected || state == .completed {
                iceUsable = true
                startDTLSIfReady()
            }
        case .selectedPairChanged(let pair):
            logger.debug("ICE selected a pair", metadata: ["local": "\(pair.local)", "remote": "\(pair.remote)"])
            iceUsable = true
            startDTLSIfReady()
        case .roleChanged(let role):
            logger.debug("ICE role changed after a conflict", metadata: ["role": "\(role)"])
        case .resolveHostname:
            break  // The ICE transport resolves mDNS names itself.
        }
    }

    /// Hands queued remote credentials, candidates and end-of-candidates to ICE once both the
    /// remote description and the ICE transport exist.
    private func applyRemoteICE() async {
        guard let ice, let remote = pendingRemote ?? currentRemote else { return }
        if appliedRemoteCredentials != remote.credentials {
            appliedRemoteCredentials = remote.credentials
            try? await ice.setRemoteCredentials(remote.credentials)
        }
        let queued = queuedCandidates
        queuedCandidates = []
        let endOfCandidates = queuedEndOfCandidates
        queuedEndOfCandidates = false
        for item in queued {
            guard Self.matches(mid: item.mid, index: item.index, layout: remote.layout) else {
                logger.notice("dropped a queued candidate of another m-section", metadata: ["mid": "\(item.mid ?? "-")"])
                continue
            }
            do {
                try await ice.addRemoteCandidate(item.candidate)
            } catch {
                logger.notice("ICE refused a remote candidate", metadata: ["candidate": "\(item.candidate)", "error": "\(error)"])
            }
        }
        if endOfCandidates {
            try? await ice.addRemoteEndOfCandidates()
        }
    }

    /// W3C §4.4.1.6 addIceCandidate: `sdpMid` names the m-section if given, else `sdpMLineIndex`.
    static func matches(mid: String?, index: Int?, layout: JSEP.Layout) -> Bool {
        if let mid, let ours = layout.mid { return mid == ours }
        return index == layout.index
    }

    func addIceCandidate(_ candidate: RTCIceCandidate?) async throws(PeerConnectionError) {
        try checkOpen()
        guard let candidate, !candidate.candidate.isEmpty else {
            queuedEndOfCandidates = true
            await applyRemoteICE()
            return
        }
        guard candidate.sdpMid != nil || candidate.sdpMLineIndex != nil else {
            throw PeerConnectionError(.invalidCandidate("neither sdpMid nor sdpMLineIndex is given"))
        }
        let parsed: ICECandidate
        do {
            parsed = try ICECandidate(parsing: candidate.candidate)
        } catch {
            throw PeerConnectionError(.invalidCandidate(error.description))
        }
        let remote = pendingRemote ?? currentRemote
        if let remote, !Self.matches(mid: candidate.sdpMid, index: candidate.sdpMLineIndex, layout: remote.layout) {
            throw PeerConnectionError(.invalidCandidate("sdpMid/sdpMLineIndex do not name the data m-section"))
        }
        guard remote != nil, let ice else {
            // Before the remote description (or before ICE runs): held, applied later.
            guard queuedCandidates.count < Self.maximumQueuedCandidates else {
                throw PeerConnectionError(.invalidCandidate("more than \(Self.maximumQueuedCandidates) candidates queued"))
            }
            queuedCandidates.append((parsed, candidate.sdpMid, candidate.sdpMLineIndex))
            return
        }
        await applyRemoteICE()
        do {
            try await ice.addRemoteCandidate(parsed)
        } catch {
            throw PeerConnectionError(.invalidCandidate("\(error)"))
        }
    }

    /// RFC 8445 §9: new local credentials (signalled in the next offer or answer); the selected
    /// pair keeps carrying data until the new generation selects one.
    func restartICE() async {
        guard !closed else { return }
        await iceStart?.value
        // The agent reports `gathering` and the new generation's candidates through its events.
        if let ice {
            guard let credentials = try? await ice.restart() else { return }
            localCredentials = credentials
        } else {
            localCredentials = .random()
        }
    }

    // MARK: Channels

    func createDataChannel(_ label: String, options: DataChannelOptions) throws(PeerConnectionError) -> DataChannel {
        try checkOpen()
        let parameters = try options.parameters(label: label)
        do {
            return try engine.openChannel(parameters)
        } catch {
            switch error.reason {
            case .channel(let reason): throw PeerConnectionError(.invalidParameters(reason.description))
            default: throw PeerConnectionError(.transport(error.description))
            }
        }
    }

    // MARK: Statistics

    func statistics() async -> PeerConnectionStatistics {
        let counters = engine.statistics()
        let iceStatistics = try? await ice?.statistics()
        // W3C getSelectedCandidatePair: the pair packets are sent on, which before a selection is
        // the highest-priority valid pair (RFC 8445 §12.1; `pairs` is sorted by priority).
        let inUse = iceStatistics.flatMap { $0.agent.selectedPair ?? $0.agent.pairs.first { $0.state == .succeeded } }
        let pair = inUse.map { pair in
            PeerConnectionStatistics.CandidatePair(
                local: pair.localCandidate, remote: pair.remoteCandidate,
                roundTripTime: pair.smoothedRoundTripTime ?? pair.lastRoundTripTime,
                bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived)
        }
        return PeerConnectionStatistics(
            signalingState: signalingState, connectionState: connectionState, channels: counters.channels,
            totals: counters.totals, selectedCandidatePair: pair, dtls: dtlsInfo, dtlsCounters: counters.dtls,
            transportFailure: transportFailure, sctp: counters.sctp, ice: iceStatistics, unsupportedICEServerURLs: unusableServerURLs)
    }

    // MARK: Engine events

    private func handle(_ event: EngineEvent) {
        guard !closed else { return }
        switch event {
        case .secured(let info):
            dtlsInfo = info
            setDTLSState(.connected)
        case .connected:
            logger.debug("SCTP association up")
        case .remoteChannel(let channel):
            events.yield(.dataChannel(channel))
        case let .channelRefused(label, error):
            logger.warning("data channel could not be opened", metadata: ["label": "\(label)", "error": "\(error)"])
        case .failed(let error):
            logger.error("DTLS/SCTP transport failed", metadata: ["error": "\(error)"])
            transportFailure = error
            setDTLSState(.failed)
        case .closed:
            setDTLSState(.closed)
        }
    }

    // MARK: Closing

    /// W3C §4.4.1.6 close: no state events fire; channels close, the transports release their
    /// sockets and timers, the event stream finishes.
    func close() async {
        guard !closed else { return }
        closed = true
        signalingState = .closed
        connectionState = .closed
        iceState = .closed
        publish()
        engine.close()
        await iceStart?.value
        await ice?.close()
        ice = nil
        engineEventsContinuation.finish()
        events.finish()
    }

    // MARK: State

    private func checkOpen() throws(PeerConnectionError) {
        guard !closed else { throw PeerConnectionError(.closed) }
    }

    private func publish() {
        let state = PeerConnection.Snapshot(
            signalingState: signalingState, connectionState: connectionState, iceConnectionState: iceState,
            iceGatheringState: gatheringState)
        snapshot.withLockedValue { $0 = state }
    }

    private func setSignaling(_ state: SignalingState) {
        guard state != signalingState else { return }
        signalingState = state
        publish()
        events.yield(.signalingStateChanged(state))
    }

    /// A new gathering (the first, or after an ICE restart) starts a new candidate list; its
    /// completion is remembered with its generation's ufrag (the candidates carry it).
    private func setGatheringState(_ state: ICEGatheringState) {
        switch state {
        case .gathering:
            localCandidates = []
            completedGeneration = nil
        case .complete:
            completedGeneration = localCandidates.last?.ufrag ?? localCredentials.ufrag
        case .new:
            break
        }
        guard state != gatheringState else { return }
        gatheringState = state
        publish()
        events.yield(.iceGatheringStateChanged(state))
        if state == .complete { events.yield(.endOfCandidates) }
    }

    private func setICEState(_ state: ICEConnectionState) {
        guard state != iceState else { return }
        iceState = state
        publish()
        events.yield(.iceConnectionStateChanged(state))
        updateConnectionState()
    }

    private func setDTLSState(_ state: DTLSState) {
        dtlsState = state
        updateConnectionState()
    }

    private func updateConnectionState() {
        let state = JSEP.connectionState(closed: closed, ice: iceState, dtls: dtlsState)
        guard state != connectionState else { return }
        connectionState = state
        publish()
        events.yield(.connectionStateChanged(state))
    }
}
