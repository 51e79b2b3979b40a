import DTLS
import DataChannel
import ICE
import ICETransport
import Logging
import NIOCore
import NIOPosix
import SCTP
import SDP

/// A STUN or TURN server (W3C `RTCIceServer`).
public struct ICEServer: Sendable, Hashable {
    /// `stun:host[:port]` (RFC 7064) or `turn:` / `turns:` (RFC 7065) URLs.
    public var urls: [String]
    /// The TURN user name (unused: TURN is not supported yet).
    public var username: String?
    /// The TURN password (unused: TURN is not supported yet).
    public var credential: String?

    /// A server entry.
    public init(urls: [String], username: String? = nil, credential: String? = nil) {
        self.urls = urls
        self.username = username
        self.credential = credential
    }
}

/// Which candidates ICE may use (W3C `RTCIceTransportPolicy`).
public enum ICETransportPolicy: Sendable, Hashable {
    /// Every candidate: host and server-reflexive.
    case all
    /// Relay candidates only. There is no TURN support yet, so this policy gathers no candidate
    /// at all: gathering completes at once and ICE fails once both descriptions are set.
    case relay
}

/// How a ``PeerConnection`` is set up (W3C `RTCConfiguration`, plus the transport knobs).
public struct PeerConnectionConfiguration: Sendable {
    /// STUN servers for server-reflexive candidates. `stun:` URLs are used: an IP-literal host
    /// directly, a name resolved when ICE starts (at most ``stunResolutionTimeout``; a failure is
    /// logged). `turn:`, `turns:` and `stuns:` URLs are accepted but unsupported: each is logged
    /// and listed in ``PeerConnectionStatistics/unsupportedICEServerURLs``, never fatal.
    /// Empty by default: no public server is ever contacted unless configured.
    public var iceServers: [ICEServer]
    /// Which candidates are gathered; see ``ICETransportPolicy/relay``.
    public var iceTransportPolicy: ICETransportPolicy
    /// Which local addresses become host candidates; loopback only when asked (`.loopback`).
    public var hostAddresses: ICEHostAddressPolicy
    /// The DTLS certificate; `nil` generates one per connection (reuse across connections, as
    /// with W3C `RTCCertificate`, is the caller's choice).
    public var certificate: DTLSCertificate?
    /// The `a=max-message-size` we advertise and the largest message we accept (RFC 8841 §6).
    /// Must be positive and below ``sctpReceiveBufferSize``.
    public var maxMessageSize: Int
    /// SCTP send buffer (SO_SNDBUF of the usrsctp socket).
    public var sctpSendBufferSize: Int
    /// SCTP receive buffer (SO_RCVBUF of the usrsctp socket); larger than ``maxMessageSize``.
    public var sctpReceiveBufferSize: Int
    /// SCTP streams requested in each direction (the association uses the smaller of ours and the
    /// peer's), so the channels open at once: half of them for each side (RFC 8832 §6). usrsctp keeps
    /// about 100 bytes per stream and direction for every connection; raise it for applications that
    /// open more than 128 channels from one side.
    public var sctpMaximumStreams: UInt16
    /// ICE timers (pacing, retransmissions, consent).
    public var iceTiming: ICETiming
    /// Where the connection's event loop comes from (one loop per connection).
    public var eventLoopGroup: any EventLoopGroup
    /// Where the connection logs.
    public var logger: Logger
    /// How long resolving a STUN server's host name may take.
    public var stunResolutionTimeout: Duration

    /// A configuration; every parameter defaults to the documented value.
    public init(
        iceServers: [ICEServer] = [],
        iceTransportPolicy: ICETransportPolicy = .all,
        hostAddresses: ICEHostAddressPolicy = .automatic(),
        certificate: DTLSCertificate? = nil,
        maxMessageSize: Int = 262_144,
        sctpSendBufferSize: Int = 4 << 20,
        sctpReceiveBufferSize: Int = 4 << 20,
        sctpMaximumStreams: UInt16 = DataChannelLimits.defaultMaximumStreams,
        iceTiming: ICETiming = .default,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "WebRTC"),
        stunResolutionTimeout: Duration = .seconds(2)
    ) {
        self.iceServers = iceServers
        self.iceTransportPolicy = iceTransportPolicy
        self.hostAddresses = hostAddresses
        self.certificate = certificate
        self.maxMessageSize = maxMessageSize
        self.sctpSendBufferSize = sctpSendBufferSize
        self.sctpReceiveBufferSize = sctpReceiveBufferSize
        self.sctpMaximumStreams = sctpMaximumStreams
        self.iceTiming = iceTiming
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.stunResolutionTimeout = stunResolutionTimeout
    }
}

/// The kind of a session description (W3C `RTCSdpType`, RFC 9429 §4.1.8).
public enum SDPType: String, Sendable, Hashable {
    /// An offer (RFC 9429 §5.2).
    case offer
    /// A final answer (RFC 9429 §5.3).
    case answer
    /// A provisional answer (RFC 9429 §4.1.8.1).
    case pranswer
    /// Returns to the last stable state (RFC 9429 §4.1.8.2).
    case rollback
}

/// A session description as signalled (W3C `RTCSessionDescriptionInit`).
public struct RTCSessionDescription: Sendable, Hashable {
    /// Offer, answer, provisional answer or rollback.
    public var type: SDPType
    /// The SDP text (empty for a rollback).
    public var sdp: String

    /// A description.
    public init(type: SDPType, sdp: String) {
        self.type = type
        self.sdp = sdp
    }
}

/// A trickled candidate as signalled (W3C `RTCIceCandidateInit`, RFC 8838 §4).
public struct RTCIceCandidate: Sendable, Hashable {
    /// `candidate:…` (RFC 8839 §5.1); empty means end-of-candidates.
    public var candidate: String
    /// The `a=mid` of the m-section the candidate belongs to.
    public var sdpMid: String?
    /// The index of that m-section.
    public var sdpMLineIndex: Int?

    /// A candidate of the data m-section (mid `0`, index 0 by default).
    public init(candidate: String, sdpMid: String? = "0", sdpMLineIndex: Int? = 0) {
        self.candidate = candidate
        self.sdpMid = sdpMid
        self.sdpMLineIndex = sdpMLineIndex
    }
}

/// The offer/answer state (W3C `RTCSignalingState`, RFC 9429 §3.2).
public enum SignalingState: Sendable, Hashable {
    /// No exchange under way.
    case stable
    /// Our offer is set, waiting for the answer.
    case haveLocalOffer
    /// The peer's offer is set, waiting for our answer.
    case haveRemoteOffer
    /// We answered provisionally.
    case haveLocalPranswer
    /// The peer answered provisionally.
    case haveRemotePranswer
    /// The connection is closed.
    case closed
}

/// The aggregate state of ICE and DTLS (W3C `RTCPeerConnectionState`).
public enum PeerConnectionState: Sendable, Hashable {
    /// Nothing started (ICE and DTLS new or closed).
    case new
    /// ICE is checking or DTLS handshaking.
    case connecting
    /// ICE is connected or completed and DTLS is up.
    case connected
    /// ICE lost consent for a while (RFC 7675); it may come back.
    case disconnected
    /// ICE or DTLS failed.
    case failed
    /// ``PeerConnection/close()`` was called.
    case closed
}

/// What a ``PeerConnection`` reports, in order (the W3C events as values).
public enum PeerConnectionEvent: Sendable {
    /// A local candidate to signal to the peer (trickle, RFC 8838 §4; W3C `icecandidate`).
    case iceCandidate(RTCIceCandidate)
    /// Gathering is complete: signal end-of-candidates (W3C `icecandidate` with a null candidate).
    case endOfCandidates
    /// ICE gathering progressed (W3C `icegatheringstatechange`).
    case iceGatheringStateChanged(ICEGatheringState)
    /// ICE connectivity changed (W3C `iceconnectionstatechange`).
    case iceConnectionStateChanged(ICEConnectionState)
    /// The aggregate state changed (W3C `connectionstatechange`).
    case connectionStateChanged(PeerConnectionState)
    /// The offer/answer state changed (W3C `signalingstatechange`).
    case signalingStateChanged(SignalingState)
    /// The peer opened a channel (W3C `datachannel`); its `open` event follows on the channel.
    case dataChannel(DataChannel)
}

/// Why a ``PeerConnection`` call failed.
public struct PeerConnectionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cause.
    public enum Reason: Sendable, Hashable {
        /// The call is not allowed in this signaling state (W3C InvalidStateError, RFC 9429 §3.2).
        case invalidState(SignalingState)
        /// A description that cannot be used, and why (W3C InvalidAccessError / OperationError).
        case invalidDescription(String)
        /// A candidate that cannot be used, and why (W3C OperationError / TypeError).
        case invalidCandidate(String)
        /// The configuration or the channel options cannot be used, and why.
        case invalidParameters(String)
        /// The connection is closed.
        case closed
        /// Something this implementation does not do, and what.
        case unsupported(String)
        /// A lower layer failed (certificate generation, sockets), and how.
        case transport(String)
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
        case .invalidState(let state): "not allowed in signaling state \(state)"
        case .invalidDescription(let why): "invalid session description: \(why)"
        case .invalidCandidate(let why): "invalid ICE candidate: \(why)"
        case .invalidParameters(let why): "invalid parameters: \(why)"
        case .closed: "the peer connection is closed"
        case .unsupported(let what): "unsupported: \(what)"
        case .transport(let why): "transport: \(why)"
        }
    }
}

/// How to create a data channel (W3C `RTCDataChannelInit`).
public struct DataChannelOptions: Sendable, Hashable {
    /// Whether messages are delivered in order.
    public var ordered: Bool
    /// Partial reliability by retransmissions (exclusive with ``maxPacketLifeTime``).
    public var maxRetransmits: UInt16?
    /// Partial reliability by lifetime in milliseconds (exclusive with ``maxRetransmits``).
    public var maxPacketLifeTime: UInt32?
    /// The sub-protocol.
    public var `protocol`: String
    /// Negotiated out of band (RFC 8831 §6.5): no DCEP; both sides create it with the same ``id``.
    public var negotiated: Bool
    /// The stream id of a negotiated channel (ignored otherwise, as in W3C).
    public var id: UInt16?

    /// Options with W3C defaults: ordered, reliable, in-band.
    public init(
        ordered: Bool = true, maxRetransmits: UInt16? = nil, maxPacketLifeTime: UInt32? = nil,
        protocol: String = "", negotiated: Bool = false, id: UInt16? = nil
    ) {
        self.ordered = ordered
        self.maxRetransmits = maxRetransmits
        self.maxPacketLifeTime = maxPacketLifeTime
        self.protocol = `protocol`
        self.negotiated = negotiated
        self.id = id
    }

    /// The channel parameters for `label`, checked as W3C `createDataChannel` does (TypeErrors).
    func parameters(label: String) throws(PeerConnectionError) -> DataChannelParameters {
        if maxRetransmits != nil && maxPacketLifeTime != nil {
            throw PeerConnectionError(.invalidParameters("maxRetransmits and maxPacketLifeTime are exclusive"))
        }
        for (name, text) in [("label", label), ("protocol", `protocol`)] where text.utf8.count > DataChannelLimits.maximumLabelLength {
            throw PeerConnectionError(.invalidParameters("\(name) longer than \(DataChannelLimits.maximumLabelLength) bytes"))
        }
        if negotiated && id == nil {
            throw PeerConnectionError(.invalidParameters("a negotiated channel needs an id (RFC 8831 §6.5)"))
        }
        return DataChannelParameters(
            label: label, protocol: `protocol`, ordered: ordered, maxRetransmits: maxRetransmits,
            maxPacketLifeTime: maxPacketLifeTime, negotiated: negotiated, id: negotiated ? id : nil)
    }
}

/// A snapshot of a connection's counters (a subset of W3C `RTCStatsReport`).
public struct PeerConnectionStatistics: Sendable, Hashable {
    /// One data channel (W3C `RTCDataChannelStats`).
    public struct Channel: Sendable, Hashable {
        /// The label.
        public var label: String
        /// The stream id, `nil` until known.
        public var id: UInt16?
        /// The state.
        public var state: DataChannelState
        /// Messages and bytes sent and received.
        public var counters: DataChannelStatistics

        init(_ channel: DataChannel, counters: DataChannelStatistics) {
            label = channel.label
            id = channel.id
            state = channel.readyState
            self.counters = counters
        }
    }

    /// The selected candidate pair (W3C `RTCIceCandidatePairStats`).
    public struct CandidatePair: Sendable, Hashable {
        /// Our candidate.
        public var local: ICECandidate
        /// The peer's candidate.
        public var remote: ICECandidate
        /// The smoothed round-trip time of checks and consent requests (RFC 6298 weights).
        public var roundTripTime: Duration?
        /// Application bytes sent on the pair.
        public var bytesSent: Int
        /// Application bytes received on the pair.
        public var bytesReceived: Int
    }

    /// The signaling state.
    public var signalingState: SignalingState
    /// The aggregate connection state.
    public var connectionState: PeerConnectionState
    /// Channels not yet closed, in creation order (channels still waiting for the transport first).
    public var channels: [Channel]
    /// Messages and bytes over every channel the connection has carried, closed ones included.
    public var totals: DataChannelStatistics
    /// The selected pair, once ICE selected one.
    public var selectedCandidatePair: CandidatePair?
    /// The DTLS version and cipher suite, once DTLS is up.
    public var dtls: DTLSConnectionInfo?
    /// DTLS counters (datagrams, records, handshake retransmissions).
    public var dtlsCounters: DTLSStatistics?
    /// Why the DTLS/SCTP transport failed (``connectionState`` `failed` from DTLS), such as
    /// ``DTLSError/Reason/fingerprintMismatch`` for a peer whose certificate matches no
    /// `a=fingerprint` (RFC 8122 §5); `nil` while it has not failed.
    public var transportFailure: DataChannelTransportError?
    /// SCTP counters; ``SCTPStatistics/retransmittedChunks`` are its retransmissions.
    public var sctp: SCTPStatistics?
    /// The ICE transport's counters and sockets, once it started.
    public var ice: ICETransportStatistics?
    /// ICE server URLs that were configured but are not supported (TURN, STUNS) or not usable
    /// (malformed, unresolvable).
    public var unsupportedICEServerURLs: [String]
}
