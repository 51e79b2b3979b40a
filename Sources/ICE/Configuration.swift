import STUN

/// The agent's role (RFC 8445 §6.1.1): the controlling agent nominates the pair data flows on.
public enum ICERole: Sendable, Hashable {
    /// Runs checks and nominates (RFC 8445 §8.1).
    case controlling
    /// Runs checks and accepts the controlling agent's nomination (RFC 8445 §8.2).
    case controlled

    /// The other role, taken after a role conflict (RFC 8445 §7.3.1.1, §7.2.5.1).
    var opposite: ICERole { self == .controlling ? .controlled : .controlling }
}

/// Short-term credentials of one side of an ICE session (RFC 8445 §5.3, RFC 8839 §5.4).
public struct ICECredentials: Sendable, Hashable {
    /// The username fragment (`a=ice-ufrag`).
    public var ufrag: String
    /// The password (`a=ice-pwd`).
    public var password: String

    /// Credentials from signalling or configuration.
    public init(ufrag: String, password: String) {
        self.ufrag = ufrag
        self.password = password
    }

    /// RFC 8445 §5.3: at least 24 bits of randomness; 8 ice-chars carry 48 bits.
    static let ufragLength = 8
    /// RFC 8445 §5.3: at least 128 bits of randomness; 24 ice-chars carry 144 bits.
    static let passwordLength = 24
    /// RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/" (64 symbols, 6 bits each).
    static let iceCharacters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")

    /// Cryptographically random credentials (SystemRandomNumberGenerator): an 8-character ufrag
    /// and a 24-character password, ice-chars only.
    public static func random() -> ICECredentials {
        var generator = SystemRandomNumberGenerator()
        return ICECredentials(
            ufrag: randomString(length: ufragLength, using: &generator),
            password: randomString(length: passwordLength, using: &generator))
    }

    private static func randomString(length: Int, using generator: inout SystemRandomNumberGenerator) -> String {
        String((0..<length).map { _ in iceCharacters[Int.random(in: iceCharacters.indices, using: &generator)] })
    }
}

/// Every timer of the agent; tests shorten them to run fast.
public struct ICETiming: Sendable, Hashable {
    /// Ta (RFC 8445 §14.2): at most one new check every `pacing`.
    public var pacing: Duration
    /// Initial RTO of a check or server-reflexive request (RFC 8445 §14.3: at least 500 ms for
    /// checks; the agent uses MAX(this, Ta × number of waiting and in-progress pairs)). Doubles on
    /// every retransmission (RFC 8489 §6.2.1).
    public var initialRetransmissionTimeout: Duration
    /// Rc (RFC 8489 §6.2.1): total transmissions of a request before its transaction fails.
    public var maximumRetransmissions: Int
    /// How long the controlling agent waits after the first pair succeeds for a better one
    /// before nominating (RFC 8445 §8.1.1 leaves this to the agent). Skipped when the valid pair is
    /// already the best pair that has not failed.
    public var nominationDelay: Duration
    /// RFC 7675 §5.1: consent checks every 5 s, randomized to 0.8–1.2 × this value.
    public var consentInterval: Duration
    /// No consent response or authenticated request for this long → `disconnected`.
    public var consentDisconnectedAfter: Duration
    /// RFC 7675 §5.1: no consent for 30 s → `failed`, and the agent stops using the pair.
    public var consentFailedAfter: Duration
    /// A STUN server that has not answered after this long is given up (srflx gathering).
    public var gatheringTimeout: Duration

    /// Timing with every value given.
    public init(
        pacing: Duration, initialRetransmissionTimeout: Duration, maximumRetransmissions: Int,
        nominationDelay: Duration, consentInterval: Duration, consentDisconnectedAfter: Duration,
        consentFailedAfter: Duration, gatheringTimeout: Duration
    ) {
        self.pacing = pacing
        self.initialRetransmissionTimeout = initialRetransmissionTimeout
        self.maximumRetransmissions = maximumRetransmissions
        self.nominationDelay = nominationDelay
        self.consentInterval = consentInterval
        self.consentDisconnectedAfter = consentDisconnectedAfter
        self.consentFailedAfter = consentFailedAfter
        self.gatheringTimeout = gatheringTimeout
    }

    /// Ta 5 ms (RFC 8445 §14.2 suggests 50 ms and allows other values for the data at hand: a
    /// check is ~100 bytes, so 5 ms is 20 KB/s, while 50 ms cost loopback setup two 50 ms
    /// waits; docs/ICE.md), RTO 500 ms (§14.3), Rc 7 (RFC 8489 §6.2.1), nomination delay
    /// 50 ms, consent every 4–6 s (RFC 7675 §5.1), disconnected after 8 s without liveness (a
    /// consent round can take up to 6 s, so one lost round plus margin), failed after 30 s
    /// (RFC 7675 §5.1), server-reflexive gathering timeout 5 s.
    public static let `default` = ICETiming(
        pacing: .milliseconds(5), initialRetransmissionTimeout: .milliseconds(500), maximumRetransmissions: 7,
        nominationDelay: .milliseconds(50), consentInterval: .seconds(5), consentDisconnectedAfter: .seconds(8),
        consentFailedAfter: .seconds(30), gatheringTimeout: .seconds(5))
}

/// Bounds on everything a peer or the network can make the agent store.
public struct ICELimits: Sendable, Hashable {
    /// Signalled remote candidates kept (peer-reflexive ones are bounded separately); more throw
    /// ``ICEError/Reason/tooManyCandidates``. Browsers signal a handful per interface.
    public var maximumRemoteCandidates: Int
    /// Local candidates (host, server-reflexive, peer-reflexive); one host candidate per socket.
    public var maximumLocalCandidates: Int
    /// RFC 8445 §6.1.2.5: the checklist is capped (100 suggested); beyond it the lowest-priority
    /// pairs are dropped.
    public var maximumCandidatePairs: Int
    /// Remote peer-reflexive candidates learned from authenticated checks (RFC 8445 §7.3.1.3);
    /// beyond it requests are still answered but no candidate is learned (counted).
    public var maximumPeerReflexiveCandidates: Int
    /// Datagrams waiting for ``ICEAgent/pollTransmit()``; beyond it new ones are dropped (counted),
    /// so an undrained agent under a request flood stays bounded.
    public var maximumQueuedTransmits: Int

    /// Limits with every value given.
    public init(
        maximumRemoteCandidates: Int, maximumLocalCandidates: Int, maximumCandidatePairs: Int,
        maximumPeerReflexiveCandidates: Int, maximumQueuedTransmits: Int
    ) {
        self.maximumRemoteCandidates = maximumRemoteCandidates
        self.maximumLocalCandidates = maximumLocalCandidates
        self.maximumCandidatePairs = maximumCandidatePairs
        self.maximumPeerReflexiveCandidates = maximumPeerReflexiveCandidates
        self.maximumQueuedTransmits = maximumQueuedTransmits
    }

    /// 64 remote, 32 local, 100 pairs (RFC 8445 §6.1.2.5), 16 peer-reflexive, 256 queued datagrams.
    public static let `default` = ICELimits(
        maximumRemoteCandidates: 64, maximumLocalCandidates: 32, maximumCandidatePairs: 100,
        maximumPeerReflexiveCandidates: 16, maximumQueuedTransmits: 256)
}

/// How an ``ICEAgent`` behaves.
public struct ICEConfiguration: Sendable {
    /// The initial role; a conflict with the peer is resolved by tie-breaker (RFC 8445 §7.3.1.1).
    public var role: ICERole
    /// STUN servers for server-reflexive candidates; empty by default (never a public server).
    public var stunServers: [TransportAddress]
    /// Timers.
    public var timing: ICETiming
    /// Bounds.
    public var limits: ICELimits

    /// A configuration.
    public init(role: ICERole, stunServers: [TransportAddress] = [], timing: ICETiming = .default, limits: ICELimits = .default) {
        self.role = role
        self.stunServers = stunServers
        self.timing = timing
        self.limits = limits
    }
}
