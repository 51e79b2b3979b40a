/// The DTLS role an endpoint takes (RFC 8842 §3, using the values of RFC 4145 §4).
/// Parsed case-insensitively, serialized in lower case; unknown roles are
/// errors, as RFC 4145 defines no way to extend them.
public enum SetupRole: String, Sendable, Hashable, CaseIterable {
    /// The endpoint initiates the DTLS handshake (is the client).
    case active
    /// The endpoint waits for the handshake (is the server).
    case passive
    /// The endpoint can take either role; offers use this (RFC 8842 §5.2).
    case actpass
    /// The endpoint does not want a connection now.
    case holdconn

    // RFC 4145 §4: setup-attr = "a=setup:" role; ABNF literals are case-insensitive,
    // and there is no extension mechanism, so unknown roles are errors.
    init?(attributeValue text: ArraySlice<UInt8>) {
        self.init(rawValue: text.lowercasedString)
    }
}

/// A media-section grouping (RFC 5888 §5), such as a BUNDLE group (RFC 9143).
public struct SDPGroup: Sendable, Hashable {
    /// The semantics, such as `BUNDLE` or `LS`.
    public var semantics: String
    /// The `a=mid` values of the grouped sections, in order; may be empty
    /// (`a=group:BUNDLE` is legal).
    public var identificationTags: [String]

    /// Creates a group.
    public init(semantics: String, identificationTags: [String]) {
        self.semantics = semantics
        self.identificationTags = identificationTags
    }

    /// The semantics of a BUNDLE group (RFC 9143 §7.1).
    public static let bundleSemantics = "BUNDLE"

    /// The attribute value: semantics followed by the tags.
    var attributeValue: String {
        ([semantics] + identificationTags).joined(separator: " ")
    }

    // RFC 5888 §5: group-attribute = "a=group:" semantics *(SP identification-tag)
    init?(attributeValue text: ArraySlice<UInt8>) {
        let words = text.words
        guard let semantics = words.first, words.allSatisfy(\.isToken) else { return nil }
        self.init(semantics: semantics.string, identificationTags: words.dropFirst().map(\.string))
    }
}

/// The legacy `a=sctpmap` attribute of draft-ietf-mmusic-sctp-sdp-05 §4.1,
/// which pairs with an `m=application <port> DTLS/SCTP <sctp-port>` line, as
/// in `a=sctpmap:5000 webrtc-datachannel 1024`.
public struct SCTPMap: Sendable, Hashable {
    /// The SCTP port (the `sctpmap-number`, matching the `m=` line's format).
    public var port: UInt16
    /// The application protocol, `webrtc-datachannel` for data channels.
    public var application: String
    /// The optional third field: the number of streams in the draft, which
    /// some stacks filled with other numbers, hence 32 bits.
    public var streams: UInt32?

    /// Creates a legacy SCTP map.
    public init(port: UInt16, application: String = "webrtc-datachannel", streams: UInt32? = nil) {
        self.port = port
        self.application = application
        self.streams = streams
    }

    var attributeValue: String {
        var text = "\(port) \(application)"
        if let streams { text += " \(streams)" }
        return text
    }

    // draft-ietf-mmusic-sctp-sdp-05 §4.1: sctpmap-attr = "a=sctpmap:" sctpmap-number app [streams]
    init?(attributeValue text: ArraySlice<UInt8>) {
        let words = text.words
        guard (2...3).contains(words.count),
            let port = parseDecimal(words[0], as: UInt16.self),
            words[1].isToken
        else { return nil }
        var streams: UInt32?
        if words.count == 3 {
            guard let count = parseDecimal(words[2], as: UInt32.self) else { return nil }
            streams = count
        }
        self.init(port: port, application: words[1].string, streams: streams)
    }
}
