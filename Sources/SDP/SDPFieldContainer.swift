/// A level of a description that carries fields: the session level
/// (``SessionDescription``) or one media section (``MediaDescription``).
///
/// The accessors scan ``fields`` on each call and report only this level:
/// they do not fall back from a media section to the session level. Callers
/// that honour session-level defaults (libdatachannel, for one, puts
/// `a=fingerprint` and `a=ice-options` at session level) check both.
public protocol SDPFieldContainer {
    /// The fields of this level, in their original order.
    var fields: [SDPField] { get }
}

extension SDPFieldContainer {
    /// The `a=` attributes of this level, in order.
    public var attributes: [SDPAttribute] {
        fields.compactMap { field in
            if case .attribute(let attribute) = field { attribute } else { nil }
        }
    }

    /// The first `a=ice-ufrag` value.
    public var iceUfrag: String? {
        for case .attribute(.iceUfrag(let ufrag)) in fields { return ufrag }
        return nil
    }

    /// The first `a=ice-pwd` value.
    public var icePwd: String? {
        for case .attribute(.icePwd(let password)) in fields { return password }
        return nil
    }

    /// The option tags of every `a=ice-options` line, in order.
    public var iceOptions: [String] {
        var options: [String] = []
        for case .attribute(.iceOptions(let tags)) in fields { options += tags }
        return options
    }

    /// Whether `a=ice-lite` is present.
    public var isICELite: Bool { fields.contains(.attribute(.iceLite)) }

    /// Every `a=fingerprint` value, in order (RFC 8122 §5 allows several).
    public var fingerprints: [Fingerprint] {
        var fingerprints: [Fingerprint] = []
        for case .attribute(.fingerprint(let fingerprint)) in fields { fingerprints.append(fingerprint) }
        return fingerprints
    }

    /// The first `a=setup` value.
    public var setup: SetupRole? {
        for case .attribute(.setup(let role)) in fields { return role }
        return nil
    }

    /// The first `a=mid` value.
    public var mid: String? {
        for case .attribute(.mid(let mid)) in fields { return mid }
        return nil
    }

    /// The first `a=sctp-port` value (RFC 8841). For the legacy form see
    /// ``MediaDescription/dataChannelSCTPPort``.
    public var sctpPort: UInt16? {
        for case .attribute(.sctpPort(let port)) in fields { return port }
        return nil
    }

    /// The first `a=max-message-size` value.
    public var maxMessageSize: UInt64? {
        for case .attribute(.maxMessageSize(let size)) in fields { return size }
        return nil
    }

    /// Every `a=candidate`, in order.
    public var candidates: [ICECandidate] {
        var candidates: [ICECandidate] = []
        for case .attribute(.candidate(let candidate)) in fields { candidates.append(candidate) }
        return candidates
    }

    /// Whether `a=end-of-candidates` is present.
    public var hasEndOfCandidates: Bool { fields.contains(.attribute(.endOfCandidates)) }

    /// The first legacy `a=sctpmap` value.
    public var sctpmap: SCTPMap? {
        for case .attribute(.sctpmap(let map)) in fields { return map }
        return nil
    }
}
