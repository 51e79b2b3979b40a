/// A media section: an `m=` line and the fields after it (RFC 8866 §5.14).
public struct MediaDescription: Sendable, Hashable, SDPFieldContainer {
    /// The media type, such as `application`, `audio` or `video`.
    public var media: String
    /// The transport port; 9 (discard) in browser descriptions, 0 for a
    /// rejected section.
    public var port: UInt16
    /// The number of ports from the `<port>/<number>` form, if present.
    public var portCount: UInt16?
    /// The transport protocol, such as `UDP/DTLS/SCTP`, `DTLS/SCTP` or
    /// `UDP/TLS/RTP/SAVPF`.
    public var proto: String
    /// The media formats: `webrtc-datachannel`, the SCTP port in the legacy
    /// data-channel form, or RTP payload types.
    public var formats: [String]
    /// The lines after the `m=` line, in order.
    public var fields: [SDPField]

    /// Creates a media section.
    public init(
        media: String,
        port: UInt16 = 9,
        portCount: UInt16? = nil,
        proto: String,
        formats: [String],
        fields: [SDPField] = []
    ) {
        self.media = media
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.fields = fields
    }

    /// The protocols that carry SCTP over DTLS: RFC 8841 §4.1 and the legacy
    /// `DTLS/SCTP` of draft-ietf-mmusic-sctp-sdp-05.
    public static let dataChannelProtocols = ["UDP/DTLS/SCTP", "TCP/DTLS/SCTP", "DTLS/SCTP"]

    /// Whether this is a data-channel section: `application` media over one of
    /// ``dataChannelProtocols`` (compared ignoring case).
    public var isDataChannel: Bool {
        media == "application"
            && Self.dataChannelProtocols.contains { ASCII.equalsIgnoringCase($0.utf8, proto.utf8) }
    }

    /// The SCTP port of a data-channel section in either form: `a=sctp-port`
    /// (RFC 8841 §5.2) or, failing that, the legacy `a=sctpmap`.
    public var dataChannelSCTPPort: UInt16? { sctpPort ?? sctpmap?.port }

    /// The `m=` value: media, port, protocol and formats.
    public var mediaLineValue: String {
        var text = media + " " + String(port)
        if let portCount { text += "/\(portCount)" }
        text += " " + proto
        for format in formats { text += " " + format }
        return text
    }

    func serialize(into text: inout String) {
        text.appendLine("m=\(mediaLineValue)")
        for field in fields { field.writeLine(to: &text) }
    }

    // RFC 8866 §5.14 / §9: media-field = %s"m" "=" media SP port ["/" integer] SP proto 1*(SP fmt)
    // proto = token *("/" token); fmt = token. A section without formats is
    // accepted (and kept) because some stacks write one for a rejected section.
    init?(lineValue text: ArraySlice<UInt8>) {
        let words = text.words
        guard words.count >= 3, words[0].isToken else { return nil }
        let portField = words[1]
        let slash = portField.firstIndex(of: ASCII.slash)
        guard let port = parseDecimal(portField[..<(slash ?? portField.endIndex)], as: UInt16.self) else {
            return nil
        }
        var portCount: UInt16?
        if let slash {
            guard let count = parseDecimal(portField[(slash + 1)...], as: UInt16.self) else { return nil }
            portCount = count
        }
        let protoParts = words[2].split(separator: ASCII.slash, omittingEmptySubsequences: false)
        guard protoParts.allSatisfy(\.isToken) else { return nil }
        let formats = words.dropFirst(3)
        guard formats.allSatisfy(\.isToken) else { return nil }
        self.init(
            media: words[0].string, port: port, portCount: portCount, proto: words[2].string,
            formats: formats.map(\.string))
    }
}
