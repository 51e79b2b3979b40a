import SDP
import STUN

/// The agent's connectivity (RFC 8445 §6.1.3, RFC 7675 §5.1; mirrors `RTCIceConnectionState`).
public enum ICEConnectionState: Sendable, Hashable {
    /// Nothing checked yet.
    case new
    /// Connectivity checks are running.
    case checking
    /// A pair is selected: data can flow.
    case connected
    /// The selected pair is nominated and the peer signalled end-of-candidates.
    case completed
    /// Consent has not been refreshed for ``ICETiming/consentDisconnectedAfter``; data may still be tried.
    case disconnected
    /// Every pair failed after end-of-candidates, or consent expired (RFC 7675 §5.1).
    case failed
    /// ``ICEAgent/close(now:)`` was called.
    case closed
}

/// Local candidate gathering (mirrors `RTCIceGatheringState`).
public enum ICEGatheringState: Sendable, Hashable {
    /// No socket added yet.
    case new
    /// Candidates are being gathered.
    case gathering
    /// Every candidate is known: signal end-of-candidates (RFC 8838 §8.2).
    case complete
}

/// The pair data flows on: the local candidate's base (the socket) and the remote address.
public struct ICESelectedPair: Sendable, Hashable {
    /// The local base address: which socket to send from.
    public var local: TransportAddress
    /// The remote address to send to.
    public var remote: TransportAddress
    /// The local candidate (host, or peer-reflexive sharing that base).
    public var localCandidate: ICECandidate
    /// The remote candidate.
    public var remoteCandidate: ICECandidate

    /// A selected pair.
    public init(local: TransportAddress, remote: TransportAddress, localCandidate: ICECandidate, remoteCandidate: ICECandidate) {
        self.local = local
        self.remote = remote
        self.localCandidate = localCandidate
        self.remoteCandidate = remoteCandidate
    }
}

/// Something the driver must act on, from ``ICEAgent/pollEvent()``.
public enum ICEEvent: Sendable, Hashable {
    /// A local candidate to signal to the peer (trickle, RFC 8838 §4).
    case localCandidate(ICECandidate)
    /// Gathering progressed; `.complete` means "signal end-of-candidates".
    case gatheringStateChanged(ICEGatheringState)
    /// The connection state changed.
    case connectionStateChanged(ICEConnectionState)
    /// Data must now flow on this pair.
    case selectedPairChanged(ICESelectedPair)
    /// The role changed after a role conflict (RFC 8445 §7.3.1.1, §7.2.5.1).
    case roleChanged(ICERole)
    /// A remote mDNS (`.local`) name needs resolving; answer with
    /// ``ICEAgent/resolveRemoteHostname(_:to:now:)`` (or never: peer-reflexive checks still work).
    case resolveHostname(String)
}

/// A datagram the driver must send: from the socket bound to `source`, to `destination`.
public struct ICETransmit: Sendable, Hashable {
    /// The local base (socket) to send from.
    public var source: TransportAddress
    /// Where to send.
    public var destination: TransportAddress
    /// The STUN message.
    public var payload: [UInt8]

    /// A datagram.
    public init(source: TransportAddress, destination: TransportAddress, payload: [UInt8]) {
        self.source = source
        self.destination = destination
        self.payload = payload
    }
}
