/// An `a=` attribute (RFC 8866 §5.13). The attributes a data channel needs
/// are typed and strictly validated; every other attribute is kept verbatim
/// as ``other(name:value:)``.
///
/// Parsing never produces ``other(name:value:)`` for a name that has a typed
/// case, so the typed accessors of ``SDPFieldContainer`` see every such
/// attribute of a parsed description.
public enum SDPAttribute: Sendable, Hashable, CustomStringConvertible {
    /// `a=ice-ufrag` (RFC 8839 §5.4): 1–256 ice-chars.
    ///
    /// RFC 8839 asks for at least 4 characters; browsers enforce that when
    /// applying a description, but this codec accepts any grammatical length
    /// so that what a peer sent can still be inspected and reported.
    case iceUfrag(String)
    /// `a=ice-pwd` (RFC 8839 §5.4): 1–256 ice-chars (RFC 8839 asks for at
    /// least 22; see ``iceUfrag(_:)`` for why that is not enforced here).
    case icePwd(String)
    /// `a=ice-options` (RFC 8839 §5.6): one or more option tags such as `trickle`.
    case iceOptions([String])
    /// `a=ice-lite` (RFC 8839 §5.3), a flag.
    case iceLite
    /// `a=fingerprint` (RFC 8122 §5).
    case fingerprint(Fingerprint)
    /// `a=setup` (RFC 8842 §3, RFC 4145 §4).
    case setup(SetupRole)
    /// `a=mid` (RFC 5888 §4): the identification tag of a media section.
    case mid(String)
    /// `a=group` (RFC 5888 §5), such as `BUNDLE 0 1` (RFC 9143).
    case group(SDPGroup)
    /// `a=sctp-port` (RFC 8841 §5.2).
    case sctpPort(UInt16)
    /// `a=max-message-size` (RFC 8841 §6.2); 0 means no limit.
    case maxMessageSize(UInt64)
    /// `a=candidate` (RFC 8839 §5.1). Stored out of line so that every other
    /// field stays small.
    indirect case candidate(ICECandidate)
    /// `a=end-of-candidates` (RFC 8840 §8.2), a flag.
    case endOfCandidates
    /// `a=sctpmap`, the legacy data-channel form of
    /// draft-ietf-mmusic-sctp-sdp-05 still accepted by browsers.
    case sctpmap(SCTPMap)
    /// Any other attribute: its name and its value exactly as written, or
    /// `nil` for a flag attribute (`a=sendrecv`). An empty value (`a=x:`) is
    /// distinct from no value (`a=x`).
    case other(name: String, value: String?)

    /// The attribute name, such as `ice-ufrag`.
    public var name: String {
        switch self {
        case .iceUfrag: "ice-ufrag"
        case .icePwd: "ice-pwd"
        case .iceOptions: "ice-options"
        case .iceLite: "ice-lite"
        case .fingerprint: "fingerprint"
        case .setup: "setup"
        case .mid: "mid"
        case .group: "group"
        case .sctpPort: "sctp-port"
        case .maxMessageSize: "max-message-size"
        case .candidate: "candidate"
        case .endOfCandidates: "end-of-candidates"
        case .sctpmap: "sctpmap"
        case .other(let name, _): name
        }
    }

    /// The serialized value after the colon, or `nil` for a flag attribute.
    public var value: String? {
        switch self {
        case .iceUfrag(let text), .icePwd(let text), .mid(let text): text
        case .iceOptions(let options): options.joined(separator: " ")
        case .iceLite, .endOfCandidates: nil
        case .fingerprint(let fingerprint): fingerprint.attributeValue
        case .setup(let role): role.rawValue
        case .group(let group): group.attributeValue
        case .sctpPort(let port): String(port)
        case .maxMessageSize(let size): String(size)
        case .candidate(let candidate): candidate.attributeValue
        case .sctpmap(let map): map.attributeValue
        case .other(_, let value): value
        }
    }

    /// The text after `a=`: `name` or `name:value`.
    public var description: String {
        var text = ""
        write(to: &text)
        return text
    }

    /// Appends `name` or `name:value` to `text`.
    func write(to text: inout String) {
        text.append(name)
        if let value {
            text.append(":")
            text.append(value)
        }
    }
}

extension SDPAttribute {
    /// Parses the text after `a=`.
    // RFC 8866 §5.13: attribute = (attribute-name ":" attribute-value) / attribute-name
    static func parse(_ text: ArraySlice<UInt8>, line: Int) throws(SDPParseError) -> SDPAttribute {
        let colon = text.firstIndex(of: ASCII.colon)
        let nameBytes = text[..<(colon ?? text.endIndex)]
        let value = colon.map { text[($0 + 1)...] }
        let name = nameBytes.string
        guard nameBytes.isToken else { throw SDPParseError(line: line, reason: .invalidAttribute(name: name)) }
        if name == "candidate" {
            guard let value else { throw SDPParseError(line: line, reason: .invalidAttribute(name: name)) }
            do throws(CandidateParseError) {
                return .candidate(try ICECandidate.parse(attributeValue: value))
            } catch {
                throw SDPParseError(line: line, reason: .invalidCandidate(error.reason))
            }
        }
        guard let attribute = typed(name: name, value: value) else {
            throw SDPParseError(line: line, reason: .invalidAttribute(name: name))
        }
        return attribute
    }

    /// The attribute for `name` and `value`, or `nil` if `name` has a typed
    /// case and `value` does not match its grammar.
    private static func typed(name: String, value: ArraySlice<UInt8>?) -> SDPAttribute? {
        guard let parse = typedParsers[name] else { return .other(name: name, value: value?.string) }
        return parse(value)
    }

    /// The value parser of each typed attribute but `candidate`, by name: one
    /// hash lookup instead of comparing every name in turn.
    private static let typedParsers: [String: @Sendable (ArraySlice<UInt8>?) -> SDPAttribute?] = [
        // Flags (RFC 8839 §5.3, RFC 8840 §8.2) must not carry a value.
        "ice-lite": { $0 == nil ? .iceLite : nil },
        "end-of-candidates": { $0 == nil ? .endOfCandidates : nil },
        "ice-ufrag": { $0.flatMap(iceCredential).map(SDPAttribute.iceUfrag) },
        "ice-pwd": { $0.flatMap(iceCredential).map(SDPAttribute.icePwd) },
        "ice-options": { $0.flatMap(iceOptions).map(SDPAttribute.iceOptions) },
        "fingerprint": { $0.flatMap(Fingerprint.init(attributeValue:)).map(SDPAttribute.fingerprint) },
        "setup": { $0.flatMap(SetupRole.init(attributeValue:)).map(SDPAttribute.setup) },
        // RFC 5888 §4: identification-tag = token
        "mid": { $0.flatMap { $0.isToken ? $0.string : nil }.map(SDPAttribute.mid) },
        "group": { $0.flatMap(SDPGroup.init(attributeValue:)).map(SDPAttribute.group) },
        // RFC 8841 §5.2: sctp-port-attr = "a=sctp-port:" portnumber; portnumber = 1*5DIGIT
        "sctp-port": { $0.flatMap { parseDecimal($0, as: UInt16.self) }.map(SDPAttribute.sctpPort) },
        // RFC 8841 §6.2: max-message-size-attr = "a=max-message-size:" 1*DIGIT
        "max-message-size": { $0.flatMap { parseDecimal($0, as: UInt64.self) }.map(SDPAttribute.maxMessageSize) },
        "sctpmap": { $0.flatMap(SCTPMap.init(attributeValue:)).map(SDPAttribute.sctpmap) },
    ]

    // RFC 8839 §5.4: ice-ufrag / ice-pwd = 4*256ice-char / 22*256ice-char (minimums relaxed, see iceUfrag)
    private static func iceCredential(_ text: ArraySlice<UInt8>) -> String? {
        guard (1...256).contains(text.count), text.allSatisfy(ASCII.isICECharacter) else { return nil }
        return text.string
    }

    // RFC 8839 §5.6: ice-options = ice-option-tag *(SP ice-option-tag). The tags
    // are checked as RFC 8866 tokens rather than ice-chars because deployed
    // stacks use hyphenated option names. Commas are taken as separators too:
    // libdatachannel (through libjuice) writes `ice2,trickle`; serialization uses
    // spaces.
    private static func iceOptions(_ text: ArraySlice<UInt8>) -> [String]? {
        let tags = text.words.flatMap { $0.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true) }
        guard !tags.isEmpty, tags.allSatisfy(\.isToken) else { return nil }
        return tags.map(\.string)
    }
}
