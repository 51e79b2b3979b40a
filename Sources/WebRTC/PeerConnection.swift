import DTLS
import DataChannel
import ICE
import NIOConcurrencyHelpers
import SCTP

/// A WebRTC peer connection for data channels (W3C `RTCPeerConnection`, JSEP RFC 9429).
///
/// Signal it like a browser's: ``createOffer()`` / ``setLocalDescription(_:)`` on one side,
/// ``setRemoteDescription(_:)`` / ``createAnswer()`` on the other, and trickle the candidates of
/// ``events`` with ``addIceCandidate(_:)`` — or wait for ``iceGatheringState`` `.complete` and
/// send ``localDescription``, which then holds every candidate and `a=end-of-candidates`.
///
/// ```swift
/// let offerer = try PeerConnection(configuration: configuration)
/// let channel = try await offerer.createDataChannel("chat")
/// try await offerer.setLocalDescription()          // an offer
/// // … send `await offerer.localDescription` to the peer, apply its answer:
/// try await offerer.setRemoteDescription(answer)
/// for await event in channel.events where event == .open { break }
/// try await channel.send("hello")
/// ```
///
/// ## Life cycle
///
/// - ICE starts with the first ``setLocalDescription(_:)`` (RFC 9429 §5.2.1: gathering begins
///   there): sockets are bound, STUN server names resolved, candidates trickle out through
///   ``events``. The offerer is ICE-controlling (RFC 8445 §6.1.1); the answerer is controlled,
///   unless the offer is ice-lite.
/// - Once an offer and an answer (or provisional answer) are both set, the DTLS role follows
///   from `a=setup` (``SetupNegotiation``; we offer `actpass` and answer `active`), and the
///   DTLS/SCTP transport is created with the peer's fingerprints and SCTP port. DTLS starts when
///   ICE first selects a pair; channels open when SCTP is up.
/// - Channels may be created at any time before that: they exist at once (`connecting`, without
///   ``DataChannel/id`` unless negotiated) and open, in creation order, when the connection is up.
/// - Later offers and answers update ICE (credentials and candidates, an ICE restart after
///   ``restartIce()``); the DTLS/SCTP transport of the first exchange stays.
/// - ``close()`` closes the channels, the transports, the sockets and timers, and finishes
///   ``events``; every later call throws ``PeerConnectionError/Reason/closed``. A connection that
///   is released without ``close()`` closes itself.
///
/// ## Thread safety
///
/// `PeerConnection` is `Sendable`; call it from any task. All of its state lives on one SwiftNIO
/// event loop (from ``PeerConnectionConfiguration/eventLoopGroup``), in an actor whose executor is
/// that loop, with the ICE transport and the DTLS/SCTP engine: every `async` method hops onto
/// it, so the protocol layers are never touched from two threads and nothing in them is locked.
/// Calls are applied in the order they reach the loop. The state getters
/// (``signalingState``, ``connectionState``, ``iceConnectionState``, ``iceGatheringState``) are
/// lock-protected snapshots that the loop keeps current, readable synchronously from anywhere.
/// Everything leaves as values: ``events`` is an `AsyncStream` of ``PeerConnectionEvent``, with no
/// callbacks.
public final class PeerConnection: Sendable {
    /// The state getters' snapshot, written on the event loop.
    struct Snapshot: Sendable {
        var signalingState = SignalingState.stable
        var connectionState = PeerConnectionState.new
        var iceConnectionState = ICEConnectionState.new
        var iceGatheringState = ICEGatheringState.new
    }

    /// Candidates, end-of-candidates, state changes and incoming channels, in order. Finishes on
    /// ``close()``. Single consumer.
    public let events: AsyncStream<PeerConnectionEvent>
    private let core: PeerConnectionCore
    private let snapshot: NIOLockedValueBox<Snapshot>

    /// A connection; nothing is bound or sent until ``setLocalDescription(_:)``.
    ///
    /// - Throws: ``PeerConnectionError/Reason/invalidParameters(_:)`` for a configuration that
    ///   cannot work (message size not positive or not below the receive buffer, buffer sizes
    ///   outside SCTP's bounds), ``PeerConnectionError/Reason/transport(_:)`` when no certificate
    ///   could be generated.
    public init(configuration: PeerConnectionConfiguration = PeerConnectionConfiguration()) throws(PeerConnectionError) {
        let buffers = SCTPConfiguration.minimumBufferSize...SCTPConfiguration.maximumBufferSize
        guard buffers.contains(configuration.sctpSendBufferSize), buffers.contains(configuration.sctpReceiveBufferSize) else {
            throw PeerConnectionError(.invalidParameters("SCTP buffer sizes must be within \(buffers)"))
        }
        guard configuration.sctpMaximumStreams >= 2 else {
            throw PeerConnectionError(.invalidParameters("sctpMaximumStreams must be at least 2 (one channel per side)"))
        }
        // The receive buffer must hold the largest message we accept (docs/ARCHITECTURE.md).
        guard configuration.maxMessageSize > 0, configuration.maxMessageSize < configuration.sctpReceiveBufferSize else {
            throw PeerConnectionError(.invalidParameters("maxMessageSize must be positive and below sctpReceiveBufferSize"))
        }
        let certificate: DTLSCertificate
        do {
            certificate = try configuration.certificate ?? DTLSCertificate.generate()
        } catch {
            throw PeerConnectionError(.transport("certificate generation failed: \(error)"))
        }
        let (events, continuation) = AsyncStream.makeStream(of: PeerConnectionEvent.self)
        let snapshot = NIOLockedValueBox(Snapshot())
        let core = PeerConnectionCore(configuration: configuration, certificate: certificate, snapshot: snapshot, events: continuation)
        self.events = events
        self.snapshot = snapshot
        self.core = core
        Task { await core.runEngineEvents() }
    }

    deinit {
        let core = core
        Task { await core.close() }
    }

    /// An offer (RFC 9429 §5.2): one data m-section with our ICE credentials, fingerprint,
    /// `a=setup:actpass` and SCTP attributes; new ICE credentials after ``restartIce()``.
    /// - Throws: ``PeerConnectionError/Reason/invalidState(_:)`` unless stable or have-local-offer.
    public func createOffer() async throws(PeerConnectionError) -> RTCSessionDescription {
        try await core.createOffer()
    }

    /// An answer to the remote offer (RFC 9429 §5.3): its m-sections mirrored, the data section
    /// accepted with `a=setup` per ``SetupNegotiation`` (`active` for `actpass`), the others rejected.
    /// - Throws: ``PeerConnectionError/Reason/invalidState(_:)`` unless have-remote-offer or
    ///   have-local-pranswer.
    public func createAnswer() async throws(PeerConnectionError) -> RTCSessionDescription {
        try await core.createAnswer()
    }

    /// Applies our offer, answer, provisional answer or rollback (RFC 9429 §4.1.8); `nil` (or an
    /// empty `sdp`) creates the offer or answer the signaling state calls for (W3C implicit
    /// description). The first call starts ICE.
    /// - Throws: ``PeerConnectionError/Reason/invalidState(_:)`` in the wrong state,
    ///   ``PeerConnectionError/Reason/invalidDescription(_:)`` for SDP that is not the last one
    ///   created (munging is not supported).
    public func setLocalDescription(_ description: RTCSessionDescription? = nil) async throws(PeerConnectionError) {
        try await core.setLocalDescription(description)
    }

    /// Applies the peer's offer, answer, provisional answer or rollback. Its candidates go to ICE;
    /// credentials different from the previous ones are an ICE restart (RFC 8445 §9), which our
    /// answer follows. Session-level ICE credentials, fingerprints and ice-options (libdatachannel)
    /// and the legacy `a=sctpmap` are accepted.
    /// - Throws: ``PeerConnectionError/Reason/invalidState(_:)`` in the wrong state (an offer in
    ///   have-local-offer included: roll back first), ``PeerConnectionError/Reason/invalidDescription(_:)``
    ///   for SDP that does not parse or has no data m-section, ICE credentials or fingerprint, or
    ///   `a=setup` values that give no DTLS role.
    public func setRemoteDescription(_ description: RTCSessionDescription) async throws(PeerConnectionError) {
        try await core.setRemoteDescription(description)
    }

    /// Adds a trickled remote candidate (RFC 8838 §4); `nil` or an empty candidate signals
    /// end-of-candidates. Before the remote description (or before ICE runs) it is held and
    /// applied afterwards.
    /// - Throws: ``PeerConnectionError/Reason/invalidCandidate(_:)`` for a candidate that does not
    ///   parse (RFC 8839 §5.1), names no m-section or another one than the data m-section, or that
    ///   ICE refuses (limits).
    public func addIceCandidate(_ candidate: RTCIceCandidate?) async throws(PeerConnectionError) {
        try await core.addIceCandidate(candidate)
    }

    /// Restarts ICE (RFC 8445 §9, W3C `restartIce`): new local credentials at once, carried by the
    /// next offer; the selected pair keeps carrying data until the new generation selects one.
    public func restartIce() async {
        await core.restartICE()
    }

    /// Creates a data channel (W3C `createDataChannel`, RFC 8831). It exists at once; before the
    /// connection is up it is `connecting` (in-band channels without an id) and opens once SCTP is.
    /// - Throws: ``PeerConnectionError/Reason/invalidParameters(_:)`` for exclusive reliability
    ///   options, an over-long label or protocol, a negotiated channel without (or with a used or
    ///   out-of-range) id; ``PeerConnectionError/Reason/closed``.
    public func createDataChannel(_ label: String, options: DataChannelOptions = DataChannelOptions()) async throws(PeerConnectionError) -> DataChannel {
        try await core.createDataChannel(label, options: options)
    }

    /// Our pending or current description, with the candidates gathered so far and
    /// `a=end-of-candidates` once gathering is complete (RFC 9429 §5.2.1, W3C).
    public var localDescription: RTCSessionDescription? {
        get async { await core.localDescription }
    }

    /// The peer's pending or current description, as received.
    public var remoteDescription: RTCSessionDescription? {
        get async { await core.remoteDescription }
    }

    /// The offer/answer state (RFC 9429 §3.2).
    public var signalingState: SignalingState { snapshot.withLockedValue { $0.signalingState } }

    /// The aggregate of ICE and DTLS (W3C `connectionState`).
    public var connectionState: PeerConnectionState { snapshot.withLockedValue { $0.connectionState } }

    /// ICE connectivity (W3C `iceConnectionState`).
    public var iceConnectionState: ICEConnectionState { snapshot.withLockedValue { $0.iceConnectionState } }

    /// ICE gathering (W3C `iceGatheringState`).
    public var iceGatheringState: ICEGatheringState { snapshot.withLockedValue { $0.iceGatheringState } }

    /// Per-channel and total message and byte counters, the selected candidate pair and its
    /// round-trip time, DTLS version and cipher, SCTP and DTLS counters, unusable ICE server URLs.
    public func statistics() async -> PeerConnectionStatistics {
        await core.statistics()
    }

    /// Closes the channels, the DTLS/SCTP transport, the ICE sockets and timers, and finishes
    /// ``events`` (W3C `close`: no state events fire). Idempotent; returns once the sockets are closed.
    public func close() async {
        await core.close()
    }
}
