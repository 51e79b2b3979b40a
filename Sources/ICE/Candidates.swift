import SDP
import STUN

/// A local candidate and the socket (base) it is reached through (RFC 8445 §5.1.1).
struct LocalCandidate: Sendable {
    /// The candidate as signalled.
    var candidate: ICECandidate
    /// The base: the socket's address.
    var base: TransportAddress
    /// The candidate's transport address (the base for host candidates).
    var address: TransportAddress
    /// The local preference its priority was computed with, reused for the PRIORITY attribute.
    var localPreference: UInt16

    /// RFC 8445 §7.1.1: the PRIORITY of a check is that of a peer-reflexive candidate of this base.
    var peerReflexivePriority: UInt32 {
        Priority.candidate(kind: .peerReflexive, localPreference: localPreference)
    }
}

/// A remote candidate (signalled, or peer-reflexive from a check).
struct RemoteCandidate: Sendable {
    /// The candidate as signalled (or synthesised for peer-reflexive ones).
    var candidate: ICECandidate
    /// The resolved address; `nil` while an mDNS name is unresolved.
    var address: TransportAddress?
    /// The ufrag of the generation it belongs to, when known (trickle `ufrag` extension or the
    /// USERNAME of the check that revealed it): kept across a remote credential change to that ufrag.
    var ufrag: String?
    /// Learned from a check (RFC 8445 §7.3.1.3) rather than signalled. Stored, not derived from
    /// the candidate type: the peer may also *signal* candidates of type `prflx` (RFC 8839 §5.1),
    /// and those must count against ``ICELimits/maximumRemoteCandidates`` like any signalled
    /// candidate, or a peer could store any number of them (found by the `ice` fuzz target).
    var isPeerReflexive = false
}

/// RFC 8445 §5.1.1.3: candidates share a foundation when they have the same type, base IP
/// address, STUN server IP address and transport. Foundations are short decimal strings handed
/// out in order; the table grows with local bases × servers, both bounded.
struct FoundationTable: Sendable {
    private struct Key: Hashable, Sendable {
        var kind: String
        var baseIP: IPAddress
        var serverIP: IPAddress?
    }

    private var foundations: [Key: String] = [:]

    mutating func foundation(kind: ICECandidate.Kind, baseIP: IPAddress, serverIP: IPAddress? = nil) -> String {
        let key = Key(kind: kind.name, baseIP: baseIP, serverIP: serverIP)
        if let existing = foundations[key] { return existing }
        let value = String(foundations.count + 1)
        foundations[key] = value
        return value
    }
}
