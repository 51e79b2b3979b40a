import CUsrsctp

/// A usrsctp notification (RFC 6458 §6.1), parsed with bounds checks from the bytes the receive callback handed
/// over. The layout is usrsctp's (host byte order); offsets come from the imported C structs.
enum SCTPNotification: Equatable {
    /// `SCTP_ASSOC_CHANGE` with `sac_state` and the negotiated stream counts.
    case associationChange(state: UInt16, outboundStreams: UInt16, inboundStreams: UInt16)
    /// `SCTP_STREAM_RESET_EVENT` with `strreset_flags` and the stream list.
    case streamReset(flags: UInt16, streams: [UInt16])
    /// `SCTP_SENDER_DRY_EVENT`: everything we sent is acknowledged.
    case senderDry
    /// `SCTP_PARTIAL_DELIVERY_EVENT`: a partially delivered message was aborted.
    case partialDeliveryAborted(stream: UInt16)
    /// Anything else (counted, ignored).
    case other(type: UInt16)

    /// The largest stream list accepted in one reset notification (one per possible stream id).
    static let maximumResetStreams = 65_536

    init?(_ bytes: [UInt8]) {
        let parsed: SCTPNotification? = bytes.withUnsafeBytes { raw in
            func u16(_ offset: Int) -> UInt16? {
                guard offset >= 0, offset + 2 <= raw.count else { return nil }
                return raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
            }
            func u32(_ offset: Int) -> UInt32? {
                guard offset >= 0, offset + 4 <= raw.count else { return nil }
                return raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
            }
            // struct sctp_tlv { uint16_t sn_type; uint16_t sn_flags; uint32_t sn_length; }
            guard let type = u16(0), let length = u32(4), Int(length) <= raw.count else { return nil }
            switch Int32(type) {
            case SCTP_ASSOC_CHANGE:
                guard let state = u16(Self.offset(\sctp_assoc_change.sac_state)),
                    let outbound = u16(Self.offset(\sctp_assoc_change.sac_outbound_streams)),
                    let inbound = u16(Self.offset(\sctp_assoc_change.sac_inbound_streams))
                else { return nil }
                return .associationChange(state: state, outboundStreams: outbound, inboundStreams: inbound)
            case SCTP_STREAM_RESET_EVENT:
                // The stream list is the flexible array member after the fixed part.
                let listStart = MemoryLayout<sctp_stream_reset_event>.size
                guard let flags = u16(Self.offset(\sctp_stream_reset_event.strreset_flags)),
                    Int(length) >= listStart
                else { return nil }
                let count = min((Int(length) - listStart) / 2, Self.maximumResetStreams)
                var streams: [UInt16] = []
                streams.reserveCapacity(count)
                for index in 0..<count {
                    guard let stream = u16(listStart + 2 * index) else { return nil }
                    streams.append(stream)
                }
                return .streamReset(flags: flags, streams: streams)
            case SCTP_SENDER_DRY_EVENT:
                return .senderDry
            case SCTP_PARTIAL_DELIVERY_EVENT:
                guard let stream = u32(Self.offset(\sctp_pdapi_event.pdapi_stream)) else { return nil }
                return .partialDeliveryAborted(stream: UInt16(truncatingIfNeeded: stream))
            default:
                return .other(type: type)
            }
        }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Field offset in a C struct; `-1` (rejected by the bounds checks) if the layout has none.
    private static func offset<Root>(_ keyPath: PartialKeyPath<Root>) -> Int {
        MemoryLayout<Root>.offset(of: keyPath) ?? -1
    }
}
