import SDP
import STUN

/// A candidate pair's checklist state (RFC 8445 §6.1.2.6).
public enum ICEPairState: Sendable, Hashable {
    /// Waiting for a pair of the same foundation to finish.
    case frozen
    /// Ready to be checked.
    case waiting
    /// A check is outstanding.
    case inProgress
    /// A check succeeded: the pair is valid.
    case succeeded
    /// The check failed.
    case failed
}

/// Counters and round-trip times of one candidate pair.
public struct ICEPairStatistics: Sendable, Hashable {
    /// The local base (socket).
    public var local: TransportAddress
    /// The remote address.
    public var remote: TransportAddress
    /// The local candidate.
    public var localCandidate: ICECandidate
    /// The remote candidate.
    public var remoteCandidate: ICECandidate
    /// The checklist state.
    public var state: ICEPairState
    /// Whether the pair is nominated (RFC 8445 §8.1.1).
    public var nominated: Bool
    /// The pair priority (RFC 8445 §6.1.2.3).
    public var priority: UInt64
    /// The latest round-trip time of a check or consent request.
    public var lastRoundTripTime: Duration?
    /// Smoothed round-trip time (RFC 6298 §2 weights: 7/8 old, 1/8 new).
    public var smoothedRoundTripTime: Duration?
    /// Binding requests sent (retransmissions included).
    public var requestsSent = 0
    /// Authenticated binding requests received.
    public var requestsReceived = 0
    /// Binding responses sent.
    public var responsesSent = 0
    /// Authenticated binding responses received.
    public var responsesReceived = 0
    /// Application bytes sent (``ICEAgent/recordApplicationData(sent:received:now:)``; selected pair only).
    public var bytesSent = 0
    /// Application bytes received (selected pair only).
    public var bytesReceived = 0

    /// RFC 6298 §2.3 smoothing of a new round-trip sample.
    mutating func recordRoundTrip(_ sample: Duration) {
        lastRoundTripTime = sample
        smoothedRoundTripTime = smoothedRoundTripTime.map { $0 * 7 / 8 + sample / 8 } ?? sample
    }
}

/// Packets and inputs the agent discarded, by reason. Every hostile input lands in one of these.
public struct ICEDropCounters: Sendable, Hashable {
    /// Not a valid STUN message (random bytes, truncated, bad length).
    public var malformed = 0
    /// Not a Binding message, or a Binding indication (keepalive).
    public var unsupportedMessage = 0
    /// FINGERPRINT missing or wrong (RFC 8445 §7.3, RFC 8489 §7.3).
    public var badFingerprint = 0
    /// Requests answered 400: USERNAME or MESSAGE-INTEGRITY missing, or a malformed attribute.
    public var badRequests = 0
    /// Requests answered 401: unknown USERNAME or wrong MESSAGE-INTEGRITY (RFC 8489 §9.1.3).
    public var unauthenticatedRequests = 0
    /// Requests answered 420 (RFC 8489 §6.3.1.1).
    public var unknownAttributeRequests = 0
    /// Responses matching no outstanding transaction.
    public var unmatchedResponses = 0
    /// Responses whose MESSAGE-INTEGRITY failed, or with unknown comprehension-required attributes.
    public var unauthenticatedResponses = 0
    /// Datagrams not queued because ``ICELimits/maximumQueuedTransmits`` was reached.
    public var transmitQueueFull = 0
    /// Peer-reflexive candidates not learned: ``ICELimits/maximumPeerReflexiveCandidates``.
    public var peerReflexiveLimit = 0
    /// Pairs not formed: ``ICELimits/maximumCandidatePairs`` (lowest priority dropped).
    public var pairLimit = 0
    /// Remote candidates ignored: TCP, a component other than 1, or another generation's `ufrag`.
    public var ignoredCandidates = 0
    /// Checks not started because ``ICEAgent/maximumOutstandingTransactions`` were outstanding.
    public var transactionLimit = 0
}

/// A snapshot of the agent's counters.
public struct ICEStatistics: Sendable, Hashable {
    /// The pairs of the current checklist, highest priority first.
    public var pairs: [ICEPairStatistics] = []
    /// The selected pair (consent and application-data counters), if any.
    public var selectedPair: ICEPairStatistics?
    /// Local candidates of the current generation.
    public var localCandidateCount = 0
    /// Remote candidates, peer-reflexive included.
    public var remoteCandidateCount = 0
    /// Remote peer-reflexive candidates learned from checks (RFC 8445 §7.3.1.3); signalled
    /// candidates of type `prflx` are not among them.
    public var peerReflexiveCandidateCount = 0
    /// Outstanding STUN transactions.
    public var outstandingTransactions = 0
    /// Datagrams waiting for ``ICEAgent/pollTransmit()``.
    public var queuedTransmits = 0
    /// Discarded inputs by reason.
    public var dropped = ICEDropCounters()
}
