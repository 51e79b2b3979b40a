/// A whole session description (RFC 8866), as exchanged in offers and
/// answers (RFC 9429).
///
/// Lines this module does not type are kept verbatim and in order, so
/// `SessionDescription(parsing: description.serialized()) == description`
/// for every parsed description. Serializing reproduces the parsed text with
/// CRLF line endings, except that the `o=` and `m=` lines and typed
/// attributes are rewritten from their parsed values: there, letter case is
/// normalized (fingerprint hex upper case; hash-function names, setup roles
/// and candidate keywords lower case), runs of spaces become single spaces,
/// and numbers lose leading zeros. Browser output is already in this form.
public struct SessionDescription: Sendable, Hashable, CustomStringConvertible, SDPFieldContainer {
    /// The protocol version, from `v=`; always 0 for parsed descriptions.
    public var version: Int
    /// The `o=` line.
    public var origin: Origin
    /// The `s=` value (browsers write `-`).
    public var sessionName: String
    /// Every session-level line after `s=` and before the first `m=`, in
    /// order: `t=`, `c=`, `b=`, `a=` and the rest.
    public var fields: [SDPField]
    /// The media sections, in order.
    public var media: [MediaDescription]

    /// Creates a description.
    public init(
        version: Int = 0,
        origin: Origin,
        sessionName: String = "-",
        fields: [SDPField] = [.line(type: .timing, value: "0 0")],
        media: [MediaDescription] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.fields = fields
        self.media = media
    }

    /// Parses a description. Accepts CRLF or bare LF line endings and a last
    /// line without a terminator; rejects empty lines, NUL, bare CR and
    /// invalid UTF-8, and enforces ``SDPLimits``.
    public init(parsing text: String) throws(SDPParseError) {
        self = try SDPParser.parse(text.utf8)
    }

    /// Parses a description from its UTF-8 bytes. The size limit is checked
    /// before the bytes are read.
    public init(parsing bytes: some Collection<UInt8>) throws(SDPParseError) {
        self = try SDPParser.parse(bytes)
    }

    /// The description as text, with CRLF line endings (RFC 8866 §5).
    ///
    /// Values are written as stored, without validation: a value built by
    /// hand that contains a line break yields text that does not parse back.
    public func serialized() -> String {
        var text = ""
        text.reserveCapacity(256 + 64 * (fields.count + media.reduce(0) { $0 + 1 + $1.fields.count }))
        text.appendLine("v=\(version)")
        text.appendLine("o=\(origin)")
        text.appendLine("s=\(sessionName)")
        for field in fields { field.writeLine(to: &text) }
        for section in media { section.serialize(into: &text) }
        return text
    }

    /// The same as ``serialized()``.
    public var description: String { serialized() }

    /// Every `a=group` value, in order.
    public var groups: [SDPGroup] {
        var groups: [SDPGroup] = []
        for case .attribute(.group(let group)) in fields { groups.append(group) }
        return groups
    }

    /// The first `a=group:BUNDLE` group (RFC 9143 §7.1).
    public var bundleGroup: SDPGroup? {
        for case .attribute(.group(let group)) in fields where group.semantics == SDPGroup.bundleSemantics {
            return group
        }
        return nil
    }
}

/// The `o=` line (RFC 8866 §5.2):
/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
///
/// The session ID and version stay text: RFC 8866 only requires digits and
/// sets no bound, so numbers that overflow 64 bits and leading zeros survive.
public struct Origin: Sendable, Hashable, CustomStringConvertible {
    /// The user name; `-` in browser descriptions.
    public var username: String
    /// The session ID, decimal digits.
    public var sessionID: String
    /// The session version, decimal digits; incremented on each new offer or answer.
    public var sessionVersion: String
    /// The network type, `IN`.
    public var networkType: String
    /// The address type, `IP4` or `IP6`.
    public var addressType: String
    /// The originator's address; browsers write a placeholder such as `127.0.0.1`.
    public var unicastAddress: String

    /// Creates an origin.
    public init(
        username: String = "-",
        sessionID: String,
        sessionVersion: String,
        networkType: String = "IN",
        addressType: String = "IP4",
        unicastAddress: String = "127.0.0.1"
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.unicastAddress = unicastAddress
    }

    /// The `o=` value: the six fields separated by spaces.
    public var description: String {
        "\(username) \(sessionID) \(sessionVersion) \(networkType) \(addressType) \(unicastAddress)"
    }

    // RFC 8866 §5.2 / §9: origin-field = %s"o" "=" username SP sess-id SP sess-version SP
    //                     nettype SP addrtype SP unicast-address CRLF; sess-id = 1*DIGIT
    init?(lineValue text: ArraySlice<UInt8>) {
        let words = text.words
        guard words.count == 6,
            words[1].allSatisfy(ASCII.isDigit), words[2].allSatisfy(ASCII.isDigit),
            words[3].isToken, words[4].isToken
        else { return nil }
        self.init(
            username: words[0].string, sessionID: words[1].string, sessionVersion: words[2].string,
            networkType: words[3].string, addressType: words[4].string, unicastAddress: words[5].string)
    }
}
