/// SCTP Payload Protocol Identifiers used by WebRTC data channels (RFC 8831 §8, IANA registry).
///
/// Only the identifiers this layer sends are cases. The deprecated partial-message identifiers 52
/// (WebRTC String Partial) and 54 (WebRTC Binary Partial) are recognised on receipt and dropped
/// (RFC 8831 §6.6, §8); every other value is unknown and dropped.
public enum PayloadProtocolIdentifier: UInt32, Sendable, Hashable {
    /// WebRTC DCEP: a ``DCEPMessage`` (RFC 8832 §8.1).
    case dcep = 50
    /// WebRTC String: a UTF-8 text message.
    case string = 51
    /// WebRTC Binary: a binary message.
    case binary = 53
    /// WebRTC String Empty: an empty text message, sent as one ignored zero byte (RFC 8831 §6.6).
    case emptyString = 56
    /// WebRTC Binary Empty: an empty binary message, sent as one ignored zero byte (RFC 8831 §6.6).
    case emptyBinary = 57

    /// WebRTC String Partial, deprecated (RFC 8831 §8): dropped on receipt.
    static let deprecatedStringPartial: UInt32 = 52
    /// WebRTC Binary Partial, deprecated (RFC 8831 §8): dropped on receipt.
    static let deprecatedBinaryPartial: UInt32 = 54
}

/// One whole application message on a data channel (W3C `RTCDataChannel` `send` / `onmessage`).
public enum DataChannelMessage: Sendable, Hashable {
    /// A text message, carried as UTF-8 with PPID 51 (or 56 when empty).
    case text(String)
    /// A binary message, carried with PPID 53 (or 57 when empty).
    case binary([UInt8])

    /// The application payload size in bytes (UTF-8 bytes for text); what message-size limits apply to.
    public var byteCount: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let bytes): bytes.count
        }
    }

    /// The PPID and SCTP user message that carry this message.
    ///
    /// RFC 8831 §6.6: SCTP cannot send an empty user message, so an empty message is sent with
    /// PPID 56 or 57 and a single zero byte, which the receiver ignores.
    var wireFormat: (ppid: PayloadProtocolIdentifier, data: [UInt8]) {
        switch self {
        case .text(let text) where text.isEmpty: (.emptyString, [0])
        case .text(let text): (.string, Array(text.utf8))
        case .binary(let bytes) where bytes.isEmpty: (.emptyBinary, [0])
        case .binary(let bytes): (.binary, bytes)
        }
    }

    /// The message carried by a received user message, or `nil` when a text payload is not valid
    /// UTF-8 (RFC 8831 §8: PPID 51 carries UTF-8) or `ppid` is DCEP, which carries no user message.
    /// Empty-message payloads are ignored (RFC 8831 §6.6).
    init?(ppid: PayloadProtocolIdentifier, payload: [UInt8]) {
        switch ppid {
        case .string:
            guard let text = validatedUTF8(payload) else { return nil }
            self = .text(text)
        case .binary: self = .binary(payload)
        case .emptyString: self = .text("")
        case .emptyBinary: self = .binary([])
        case .dcep: return nil
        }
    }
}

/// `bytes` as a `String` if they are valid UTF-8, else `nil` (no replacement characters).
func validatedUTF8<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String? {
    let text = String(decoding: bytes, as: UTF8.self)
    // Decoding replaces invalid sequences with U+FFFD, which changes the bytes: compare to detect it.
    return text.utf8.elementsEqual(bytes) ? text : nil
}
