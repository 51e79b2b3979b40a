/// Why the agent refused an input.
///
/// Only caller mistakes and exceeded limits throw; hostile or useless network input (and remote
/// TCP candidates, which this UDP-only agent ignores) is dropped and counted in
/// ``ICEStatistics/dropped`` instead.
public struct ICEError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of refusal.
    public enum Reason: Sendable, Hashable {
        /// A candidate limit of ``ICELimits`` is reached.
        case tooManyCandidates
        /// The candidate's address is neither an IP address nor an mDNS `.local` name, its port is 0,
        /// or a local base is unusable (port 0).
        case invalidCandidate
        /// The agent is closed.
        case closed
    }

    /// Why.
    public var reason: Reason

    /// An error for `reason`.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// A human-readable explanation.
    public var description: String {
        switch reason {
        case .tooManyCandidates: "ICE: candidate limit reached"
        case .invalidCandidate: "ICE: invalid candidate"
        case .closed: "ICE: agent closed"
        }
    }
}
