/// Named size limits applied by the STUN decoder and encoder.
///
/// The decoder is linear and allocation-free, so limits exist to bound work per packet and to
/// reject values the RFCs forbid, not to protect memory.
public enum STUNLimits {
    /// Size of the fixed STUN header (RFC 8489 §5).
    public static let headerSize = 20

    /// Largest message accepted or produced: the 20-byte header plus the largest 16-bit message
    /// length that is a multiple of four (65532), i.e. 65552 bytes — the protocol maximum
    /// (RFC 8489 §5). UDP payloads never exceed 65507 bytes, but STUN over TCP/TLS framing
    /// (RFC 8489 §6.2.2) can carry up to the protocol maximum, and decoding cost is linear anyway,
    /// so the decoder does not impose a tighter bound; ICE messages are far smaller in practice.
    public static let maximumMessageSize = 20 + 65_532

    /// Maximum number of attributes (including ignored ones) the decoder walks before rejecting
    /// the message with ``STUNDecodeError/tooManyAttributes(limit:)``. Accessors rescan the TLV list,
    /// so this bounds their cost; real STUN/ICE/TURN messages carry fewer than 20.
    public static let maximumAttributeCount = 128

    /// Maximum byte length of USERNAME, REALM, NONCE, SOFTWARE and the ERROR-CODE reason phrase.
    /// RFC 8489 §14.3, §14.8–§14.10 and §14.14 ask senders for fewer than 509 bytes but require
    /// receivers to accept up to 763 bytes for RFC 5389 compatibility. The codec enforces 763 bytes
    /// on both decode and encode, so every decodable message can be re-encoded; keeping outgoing
    /// values under 509 bytes is the caller's responsibility.
    public static let maximumTextLength = 763
}
