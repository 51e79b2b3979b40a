import DTLS
import SDP

/// Why the `a=setup` values of an offer and an answer do not give a DTLS role.
public struct SetupNegotiationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `a=setup` value that cannot be used.
    public var value: SetupRole
    /// Whether it came in an offer (else in an answer).
    public var inOffer: Bool

    /// A one-line explanation.
    public var description: String {
        "a=setup:\(value.rawValue) is not allowed in \(inOffer ? "an offer" : "an answer") (RFC 8842 §5)"
    }
}

/// The DTLS roles of an offer/answer exchange, from `a=setup` (RFC 8842 §5, JSEP RFC 9429 §5.2.1
/// and §5.3.1): the offerer says `actpass` and lets the answerer choose; the answerer chooses
/// `active` (it becomes the DTLS client) unless the offer insists on a role.
public enum SetupNegotiation {
    /// RFC 9429 §5.2.1: an offer carries `a=setup:actpass`.
    public static let offerSetup: SetupRole = .actpass

    /// The `a=setup` of our answer to an offer with `offered` (RFC 8842 §5.3): `active` for
    /// `actpass` (JSEP's default, RFC 9429 §5.3.1), the opposite role for `active` or `passive`.
    public static func answerSetup(toOffer offered: SetupRole) throws(SetupNegotiationError) -> SetupRole {
        switch offered {
        case .actpass, .passive: .active
        case .active: .passive
        // RFC 8842 §5.2: holdconn is not used in WebRTC offers: no DTLS association could start.
        case .holdconn: throw SetupNegotiationError(value: offered, inOffer: true)
        }
    }

    /// Our DTLS role once both values are known. `local` is what we sent, `remote` what the peer
    /// sent; exactly one side of the exchange is the offer.
    public static func dtlsRole(local: SetupRole, remote: SetupRole, weOffered: Bool) throws(SetupNegotiationError) -> DTLSRole {
        // The answer's value decides (RFC 8842 §5.3): `active` connects, i.e. is the DTLS client.
        let answer = weOffered ? remote : local
        switch answer {
        case .active: return weOffered ? .server : .client
        case .passive: return weOffered ? .client : .server
        // RFC 8842 §5.3: an answer must not say actpass (or holdconn for a live association).
        case .actpass, .holdconn: throw SetupNegotiationError(value: answer, inOffer: false)
        }
    }
}
