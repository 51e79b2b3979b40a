import SDP
import STUN

/// Candidate and pair priorities.
enum Priority {
    /// RFC 8445 §5.1.2.2: recommended type preferences (host 126, prflx 110, srflx 100, relay 0).
    static func typePreference(_ kind: ICECandidate.Kind) -> UInt32 {
        switch kind {
        case .host: 126
        case .peerReflexive: 110
        case .serverReflexive: 100
        case .relay, .other: 0
        }
    }

    /// RFC 8445 §5.1.2.1: priority = 2^24 × type preference + 2^8 × local preference + (256 − component ID).
    static func candidate(kind: ICECandidate.Kind, localPreference: UInt16, componentID: UInt16 = 1) -> UInt32 {
        (typePreference(kind) << 24) | (UInt32(localPreference) << 8) | (256 - UInt32(min(componentID, 256)))
    }

    /// Local preference of the `ordinal`-th base (0-based) of its address family.
    ///
    /// RFC 8445 §5.1.2.1 requires distinct local preferences per base; RFC 8421 §4 recommends
    /// interleaving address families so that both stay usable. Formula:
    /// IPv6: 65535 − 2 × ordinal, IPv4: 65534 − 2 × ordinal — IPv6 first, then IPv4, alternating.
    /// `ordinal` is below ``ICELimits/maximumLocalCandidates``, so this never underflows for sane limits
    /// (clamped at 0 otherwise).
    static func localPreference(isIPv6: Bool, ordinal: Int) -> UInt16 {
        let top = isIPv6 ? 65535 : 65534
        return UInt16(clamping: max(0, top - 2 * ordinal))
    }

    /// RFC 8445 §6.1.2.3: pair priority = 2^32 × MIN(G, D) + 2 × MAX(G, D) + (G > D ? 1 : 0), where
    /// G is the controlling agent's candidate priority and D the controlled agent's.
    static func pair(local: UInt32, remote: UInt32, role: ICERole) -> UInt64 {
        let (g, d) = role == .controlling ? (UInt64(local), UInt64(remote)) : (UInt64(remote), UInt64(local))
        return (min(g, d) << 32) + 2 * max(g, d) + (g > d ? 1 : 0)
    }
}

extension IPAddress {
    var isIPv6: Bool {
        if case .v6 = self { true } else { false }
    }
}

extension TransportAddress {
    /// RFC 8445 §6.1.2.2: only candidates of the same address family are paired.
    func hasSameFamily(as other: TransportAddress) -> Bool {
        ip.isIPv6 == other.ip.isIPv6
    }
}
