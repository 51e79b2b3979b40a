/// What a packet arriving on an ICE/DTLS socket is, by its first byte (RFC 7983 §7).
public enum PacketKind: Sendable, Hashable, CaseIterable {
    /// 0–3: STUN.
    case stun
    /// 16–19: ZRTP.
    case zrtp
    /// 20–63: DTLS.
    case dtls
    /// 64–79: TURN ChannelData.
    case turnChannel
    /// 128–191: RTP or RTCP.
    case rtpOrRTCP
    /// Any other first byte, or an empty packet: drop it (RFC 7983 §7).
    case unknown

    /// Classifies by the first byte (RFC 7983 §7).
    public init(firstByte: UInt8) {
        switch firstByte {
        case 0...3: self = .stun
        case 16...19: self = .zrtp
        case 20...63: self = .dtls
        case 64...79: self = .turnChannel
        case 128...191: self = .rtpOrRTCP
        default: self = .unknown
        }
    }

    /// Classifies a packet; empty packets are ``unknown``.
    public init(classifying packet: UnsafeRawBufferPointer) {
        self = packet.first.map(PacketKind.init(firstByte:)) ?? .unknown
    }
}
