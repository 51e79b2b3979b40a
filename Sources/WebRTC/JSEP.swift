import DTLS
import DataChannel
import ICE
import SDP

/// The JSEP (RFC 9429) rules a ``PeerConnection`` follows, as pure functions: signaling-state
/// transitions, the descriptions we generate and what we take from the peer's.
enum JSEP {
    /// The SCTP port we advertise and use (RFC 8841 §5.2: 5000 is also the default when absent).
    static let sctpPort: UInt16 = 5000
    /// The protocol of the data m-section (RFC 8841 §4.1).
    static let dataProtocol = "UDP/DTLS/SCTP"
    /// The format of the data m-section (RFC 8841 §4.2).
    static let dataFormat = "webrtc-datachannel"

    // MARK: Signaling states (RFC 9429 §3.2, W3C §4.4.1.5–6)

    /// The state after setting a local description of `type` in `state`, or `nil` when that is not
    /// allowed there (W3C InvalidStateError).
    static func stateAfterLocal(_ type: SDPType, in state: SignalingState) -> SignalingState? {
        switch (type, state) {
        case (.offer, .stable), (.offer, .haveLocalOffer): .haveLocalOffer
        case (.answer, .haveRemoteOffer), (.answer, .haveLocalPranswer): .stable
        case (.pranswer, .haveRemoteOffer), (.pranswer, .haveLocalPranswer): .haveLocalPranswer
        case (.rollback, .haveLocalOffer), (.rollback, .haveRemoteOffer): .stable
        default: nil
        }
    }

    /// The state after setting a remote description of `type` in `state`, or `nil` when that is
    /// not allowed there. An offer in have-local-offer is refused (glare; RFC 9429 §5.7), not
    /// implicitly rolled back: roll back explicitly first.
    static func stateAfterRemote(_ type: SDPType, in state: SignalingState) -> SignalingState? {
        switch (type, state) {
        case (.offer, .stable), (.offer, .haveRemoteOffer): .haveRemoteOffer
        case (.answer, .haveLocalOffer), (.answer, .haveRemotePranswer): .stable
        case (.pranswer, .haveLocalOffer), (.pranswer, .haveRemotePranswer): .haveRemotePranswer
        case (.rollback, .haveLocalOffer), (.rollback, .haveRemoteOffer): .stable
        default: nil
        }
    }

    // MARK: Connection state (W3C §4.3.3)

    /// `RTCPeerConnectionState` from the ICE transport's and the DTLS transport's states.
    static func connectionState(closed: Bool, ice: ICEConnectionState, dtls: DTLSState) -> PeerConnectionState {
        if closed { return .closed }
        if ice == .failed || dtls == .failed { return .failed }
        if ice == .disconnected { return .disconnected }
        let iceIdle = ice == .new || ice == .closed
        let dtlsIdle = dtls == .new || dtls == .closed
        if iceIdle && dtlsIdle { return .new }
        let iceUp = ice == .connected || ice == .completed || ice == .closed
        let dtlsUp = dtls == .connected || dtls == .closed
        return iceUp && dtlsUp ? .connected : .connecting
    }

    // MARK: Generating descriptions (RFC 9429 §5.2, §5.3)

    /// Where the data m-section sits among the m-sections, and the peer's other (rejected) ones.
    struct Layout: Sendable, Hashable {
        /// Its `a=mid` (JSEP: "0" in our first offer; the peer's tag when we answer).
        var mid: String?
        /// Its index among the m-sections.
        var index: Int
        /// Its protocol, mirrored from the peer's offer when we answer.
        var proto: String
        /// The legacy form (`m=application 9 DTLS/SCTP 5000` with `a=sctpmap`), when the peer used it.
        var legacySCTPMap: Bool
        /// The peer's m-sections we do not use (media, a second data section), kept in place and
        /// rejected with port 0 (RFC 9429 §5.3.1), since m-sections are never removed (§5.2.2).
        var rejected: [Int: MediaDescription]

        /// Our first offer: one data m-section, mid "0".
        static let initialOffer = Layout(mid: "0", index: 0, proto: dataProtocol, legacySCTPMap: false, rejected: [:])
    }

    /// What goes into one description we generate.
    struct LocalParameters {
        var origin: Origin
        var credentials: ICECredentials
        var fingerprint: Fingerprint
        var setup: SetupRole
        var maxMessageSize: Int
        var layout: Layout
    }

    /// An offer or answer with one data m-section, as browsers write them: `c=IN IP4 0.0.0.0` and
    /// port 9 until candidates are known (RFC 9429 §5.2.1), BUNDLE of that section (RFC 9143),
    /// ICE credentials and trickle (RFC 8839 §5.4, §5.6), fingerprint (RFC 8122), setup (RFC 8842),
    /// SCTP port and maximum message size (RFC 8841 §5–6).
    static func description(_ parameters: LocalParameters) -> SessionDescription {
        let layout = parameters.layout
        var fields: [SDPField] = [.attribute(.iceUfrag(parameters.credentials.ufrag)), .attribute(.icePwd(parameters.credentials.password))]
        fields.append(.attribute(.iceOptions(["trickle"])))
        fields.append(.attribute(.fingerprint(parameters.fingerprint)))
        fields.append(.attribute(.setup(parameters.setup)))
        if let mid = layout.mid { fields.append(.attribute(.mid(mid))) }
        let formats: [String]
        if layout.legacySCTPMap {
            formats = [String(sctpPort)]
            // The legacy form carries a stream count: the streams we open.
            fields.append(.attribute(.sctpmap(SCTPMap(port: sctpPort, streams: UInt32(DataChannelLimits.defaultMaximumStreams)))))
        } else {
            formats = [dataFormat]
            fields.append(.attribute(.sctpPort(sctpPort)))
        }
        fields.append(.attribute(.maxMessageSize(UInt64(parameters.maxMessageSize))))
        let data = MediaDescription(
            media: "application", port: 9, proto: layout.proto, formats: formats,
            fields: [unspecifiedConnection] + fields)
        let count = max(layout.index + 1, (layout.rejected.keys.max() ?? -1) + 1)
        let media = (0..<count).map { index in index == layout.index ? data : layout.rejected[index] ?? data }
        var session: [SDPField] = [.line(type: .timing, value: "0 0")]
        if let mid = layout.mid { session.append(.attribute(.group(SDPGroup(semantics: SDPGroup.bundleSemantics, identificationTags: [mid])))) }
        return SessionDescription(origin: parameters.origin, fields: session, media: media)
    }

    /// `c=IN IP4 0.0.0.0`: no address yet (RFC 9429 §5.2.1).
    static let unspecifiedConnection = SDPField.line(type: .connection, value: "IN IP4 0.0.0.0")

    /// `description` with our gathered candidates in its data m-section, `a=end-of-candidates`
    /// once gathering is complete (RFC 8840 §8.2), and the default candidate's address in `c=`
    /// and `m=` (RFC 9429 §5.2.1: the highest-priority candidate).
    static func description(_ description: SessionDescription, at index: Int, candidates: [ICECandidate], complete: Bool) -> SessionDescription {
        guard description.media.indices.contains(index) else { return description }
        var result = description
        var section = result.media[index]
        section.fields += candidates.map { .attribute(.candidate($0)) }
        if complete { section.fields.append(.attribute(.endOfCandidates)) }
        if let best = candidates.max(by: { $0.priority < $1.priority }) {
            let family = best.address.contains(":") ? "IP6" : "IP4"
            section.port = best.port
            section.fields = section.fields.map { field in
                if case .line(.connection, _) = field { .line(type: .connection, value: "IN \(family) \(best.address)") } else { field }
            }
        }
        result.media[index] = section
        return result
    }

    /// A rejected copy of the peer's m-section (RFC 9429 §5.3.1): port 0, its first format, its mid.
    static func rejected(_ section: MediaDescription) -> MediaDescription {
        var fields = [unspecifiedConnection]
        if let mid = section.mid { fields.append(.attribute(.mid(mid))) }
        return MediaDescription(media: section.media, port: 0, proto: section.proto, formats: Array(section.formats.prefix(1)), fields: fields)
    }
}

/// What a ``PeerConnection`` takes from the peer's description: its data m-section, with the
/// session-level values libdatachannel uses as defaults for it.
struct RemoteDescription: Sendable {
    /// The parsed description.
    var session: SessionDescription
    /// The signalled type.
    var type: SDPType
    /// The text as received.
    var sdp: String
    /// The data m-section's mid, index, protocol and the other sections (rejected in our answer).
    var layout: JSEP.Layout
    /// ICE credentials (RFC 8839 §5.4).
    var credentials: ICECredentials
    /// Certificate fingerprints (RFC 8122 §5).
    var fingerprints: [Fingerprint]
    /// `a=setup` (RFC 8842); absent means `active` (RFC 4145 §4).
    var setup: SetupRole
    /// The peer's SCTP port (RFC 8841 §5.2; 5000 when absent).
    var sctpPort: UInt16
    /// `a=max-message-size` (RFC 8841 §6); `nil` when absent.
    var maxMessageSize: UInt64?
    /// `a=ice-lite` (RFC 8839 §5.3): a lite peer makes us controlling (RFC 8445 §6.1.1).
    var isICELite: Bool
    /// Candidates in the data m-section.
    var candidates: [ICECandidate]
    /// `a=end-of-candidates` (RFC 8840 §8.2).
    var endOfCandidates: Bool

    /// Parses and checks a remote offer, answer or provisional answer.
    init(_ description: RTCSessionDescription) throws(PeerConnectionError) {
        let session: SessionDescription
        do {
            session = try SessionDescription(parsing: description.sdp)
        } catch {
            throw PeerConnectionError(.invalidDescription("SDP does not parse: \(error)"))
        }
        guard let index = session.media.firstIndex(where: { $0.isDataChannel && $0.port != 0 }) else {
            let rejected = session.media.contains(where: \.isDataChannel)
            throw PeerConnectionError(.invalidDescription(
                rejected ? "the data-channel m-section is rejected (port 0)" : "no data-channel m-section (m=application … UDP/DTLS/SCTP webrtc-datachannel)"))
        }
        let section = session.media[index]
        // libdatachannel writes ICE credentials, fingerprint and ice-options at session level.
        guard let ufrag = section.iceUfrag ?? session.iceUfrag, let password = section.icePwd ?? session.icePwd else {
            throw PeerConnectionError(.invalidDescription("no a=ice-ufrag / a=ice-pwd (RFC 8839 §5.4)"))
        }
        let fingerprints = section.fingerprints.isEmpty ? session.fingerprints : section.fingerprints
        guard !fingerprints.isEmpty else {
            throw PeerConnectionError(.invalidDescription("no a=fingerprint (RFC 8122 §5)"))
        }
        var rejected: [Int: MediaDescription] = [:]
        for (other, media) in session.media.enumerated() where other != index {
            rejected[other] = JSEP.rejected(media)
        }
        self.session = session
        type = description.type
        sdp = description.sdp
        layout = JSEP.Layout(
            mid: section.mid, index: index, proto: section.proto,
            legacySCTPMap: section.sctpPort == nil && section.sctpmap != nil, rejected: rejected)
        credentials = ICECredentials(ufrag: ufrag, password: password)
        self.fingerprints = fingerprints
        setup = section.setup ?? session.setup ?? .active
        sctpPort = section.dataChannelSCTPPort ?? JSEP.sctpPort
        maxMessageSize = section.maxMessageSize
        isICELite = session.isICELite || section.isICELite
        candidates = section.candidates
        endOfCandidates = section.hasEndOfCandidates || session.hasEndOfCandidates
    }
}
