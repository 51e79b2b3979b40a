/// An ICE candidate (RFC 8839 §5.1), as carried in an `a=candidate` line or
/// trickled as the `candidate` string of an `RTCIceCandidate`.
///
/// Keywords (`typ`, `raddr`, `rport`, the candidate types) are matched
/// case-insensitively and serialized in lower case; the transport keeps its
/// spelling (Firefox writes `UDP`, Chromium `udp`). Extension pairs keep
/// their order, including RFC 6544's `tcptype`.
public struct ICECandidate: Sendable, Hashable, CustomStringConvertible {
    /// Groups candidates that share a base and server (1–32 ice-chars).
    public var foundation: String
    /// The component: 1 for RTP or data, 2 for RTCP (RFC 8839 allows 1–256).
    public var componentID: UInt16
    /// The transport protocol.
    public var transport: Transport
    /// The candidate's priority (RFC 8445 §5.1.2).
    public var priority: UInt32
    /// The connection address: IPv4, IPv6, or a host name such as an mDNS
    /// `<uuid>.local` name.
    public var address: String
    /// The port.
    public var port: UInt16
    /// The candidate type.
    public var kind: Kind
    /// The `raddr` value: the base or related address of a reflexive or relayed candidate.
    public var relatedAddress: String?
    /// The `rport` value: the related port.
    public var relatedPort: UInt16?
    /// The extension pairs after the mandatory fields, in their original
    /// order, such as `tcptype active`, `generation 0`, `network-cost 50`.
    public var extensions: [Extension]

    /// Creates a candidate.
    public init(
        foundation: String,
        componentID: UInt16 = 1,
        transport: Transport = .udp,
        priority: UInt32,
        address: String,
        port: UInt16,
        kind: Kind,
        relatedAddress: String? = nil,
        relatedPort: UInt16? = nil,
        extensions: [Extension] = []
    ) {
        self.foundation = foundation
        self.componentID = componentID
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.kind = kind
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// Parses a trickled candidate string. Accepts `candidate:…` (the form
    /// of `RTCIceCandidate.candidate`), `a=candidate:…` (an SDP line without
    /// its terminator) and the bare attribute value.
    public init(parsing text: String) throws(CandidateParseError) {
        let bytes = ArraySlice(text.utf8)
        guard !bytes.isEmpty else { throw CandidateParseError(.empty) }
        guard bytes.count <= SDPLimits.maximumLineLength else { throw CandidateParseError(.tooLong) }
        let attribute = bytes.removingPrefix("a=") ?? bytes
        self = try Self.parse(attributeValue: attribute.removingPrefix("candidate:") ?? attribute)
    }

    /// The text after `candidate:`.
    public var attributeValue: String {
        var text = foundation
        text.reserveCapacity(128)
        func appendWord(_ word: String) {
            text.append(" ")
            text.append(word)
        }
        appendWord(String(componentID))
        appendWord(transport.name)
        appendWord(String(priority))
        appendWord(address)
        appendWord(String(port))
        appendWord("typ")
        appendWord(kind.name)
        if let relatedAddress {
            appendWord("raddr")
            appendWord(relatedAddress)
        }
        if let relatedPort {
            appendWord("rport")
            appendWord(String(relatedPort))
        }
        for pair in extensions {
            appendWord(pair.name)
            appendWord(pair.value)
        }
        return text
    }

    /// `candidate:<attributeValue>`, the form trickle signalling and
    /// `RTCIceCandidate.candidate` use.
    public var candidateString: String { "candidate:\(attributeValue)" }

    /// The same as ``candidateString``.
    public var description: String { candidateString }

    /// The `tcptype` extension (RFC 6544 §4.5), if present.
    public var tcpType: TCPType? { extensionValue(named: "tcptype").flatMap(TCPType.init(rawValue:)) }
    /// The `generation` extension libwebrtc adds, if present and numeric.
    public var generation: UInt32? { extensionValue(named: "generation").flatMap { parseDecimal($0.utf8) } }
    /// The `ufrag` extension libwebrtc adds, if present.
    public var ufrag: String? { extensionValue(named: "ufrag") }
    /// The `network-id` extension libwebrtc adds, if present and numeric.
    public var networkID: UInt16? { extensionValue(named: "network-id").flatMap { parseDecimal($0.utf8) } }
    /// The `network-cost` extension libwebrtc adds, if present and numeric.
    public var networkCost: UInt16? { extensionValue(named: "network-cost").flatMap { parseDecimal($0.utf8) } }

    /// Whether the address is an mDNS host name (ends in `.local`), which
    /// browsers use to hide local IP addresses.
    public var isMDNS: Bool { ASCII.equalsIgnoringCase(address.utf8.suffix(6), ".local".utf8) }

    /// The value of the first extension called `name`.
    public func extensionValue(named name: String) -> String? {
        extensions.first { $0.name == name }?.value
    }
}

extension ICECandidate {
    /// One `name value` extension pair (RFC 8839 §5.1 `cand-extension`).
    public struct Extension: Sendable, Hashable {
        /// The name, a token.
        public var name: String
        /// The value, visible ASCII characters.
        public var value: String

        /// Creates an extension pair.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A candidate's transport protocol (RFC 8839 §5.1 `transport`). Compares
    /// case-insensitively but keeps its original spelling for serialization.
    public struct Transport: Sendable, Hashable, CustomStringConvertible {
        /// The name as written, such as `udp` or `UDP`.
        public let name: String

        /// A transport called `name`.
        public init(_ name: String) {
            self.name = name
        }

        /// UDP (RFC 8839).
        public static let udp = Transport("udp")
        /// TCP (RFC 6544).
        public static let tcp = Transport("tcp")

        /// The name as written.
        public var description: String { name }

        /// Whether the names are equal ignoring ASCII case.
        public static func == (lhs: Transport, rhs: Transport) -> Bool {
            ASCII.equalsIgnoringCase(lhs.name.utf8, rhs.name.utf8)
        }

        /// Hashes the lower-cased name, consistently with `==`.
        public func hash(into hasher: inout Hasher) {
            for byte in name.utf8 { hasher.combine(ASCII.lowercased(byte)) }
            hasher.combine(name.utf8.count)
        }
    }

    /// A candidate type (RFC 8839 §5.1 `cand-type`).
    public enum Kind: Sendable, Hashable, CustomStringConvertible, CaseInsensitivelyNamed {
        /// `host`: an address of a local interface.
        case host
        /// `srflx`: an address a STUN server saw.
        case serverReflexive
        /// `prflx`: an address a peer's connectivity check revealed.
        case peerReflexive
        /// `relay`: an address on a TURN server.
        case relay
        /// Another type, by its lower-cased name.
        case other(String)

        /// The type for `name`, matched case-insensitively.
        public init(name: String) {
            self.init(nameBytes: ArraySlice(name.utf8))
        }

        static let known: [Kind] = [.host, .serverReflexive, .peerReflexive, .relay]

        /// The name as written in SDP, such as `srflx`.
        public var name: String {
            switch self {
            case .host: "host"
            case .serverReflexive: "srflx"
            case .peerReflexive: "prflx"
            case .relay: "relay"
            case .other(let name): name
            }
        }

        /// The name, as in ``name``.
        public var description: String { name }
    }

    /// The role of a TCP candidate (RFC 6544 §4.5).
    public enum TCPType: String, Sendable, Hashable, CaseIterable {
        /// Opens outgoing connections only.
        case active
        /// Accepts incoming connections only.
        case passive
        /// Simultaneous open.
        case so
    }
}

extension ICECandidate {
    // RFC 8839 §5.1:
    // candidate-attribute = "candidate" ":" foundation SP component-id SP transport SP
    //                       priority SP connection-address SP port SP cand-type
    //                       [SP rel-addr] [SP rel-port] *(SP cand-extension)
    // cand-type = "typ" SP candidate-types; rel-addr = "raddr" SP connection-address;
    // rel-port = "rport" SP port; cand-extension = extension-att-name SP extension-att-value
    static func parse(attributeValue text: ArraySlice<UInt8>) throws(CandidateParseError) -> ICECandidate {
        guard !text.isEmpty else { throw CandidateParseError(.empty) }
        guard text.allSatisfy({ $0 == ASCII.space || ASCII.isVisible($0) }) else {
            throw CandidateParseError(.invalidCharacter)
        }
        let words = text.words
        guard words.count >= 8 else { throw CandidateParseError(.missingFields) }

        // foundation = 1*32ice-char
        guard (1...32).contains(words[0].count), words[0].allSatisfy(ASCII.isICECharacter) else {
            throw CandidateParseError(.invalidFoundation)
        }
        // component-id = 1*3DIGIT, and RFC 8839 §5.1 bounds it to 1–256
        guard let componentID = parseDecimal(words[1], as: UInt16.self), (1...256).contains(componentID) else {
            throw CandidateParseError(.invalidComponentID)
        }
        // transport = "UDP" / transport-extension; transport-extension = token
        guard words[2].isToken else { throw CandidateParseError(.invalidTransport) }
        // priority = 1*10DIGIT, carried in a 32-bit STUN attribute
        guard let priority = parseDecimal(words[3], as: UInt32.self) else {
            throw CandidateParseError(.invalidPriority)
        }
        guard isConnectionAddress(words[4]) else { throw CandidateParseError(.invalidAddress) }
        guard let port = parseDecimal(words[5], as: UInt16.self) else { throw CandidateParseError(.invalidPort) }
        guard ASCII.equalsIgnoringCase(words[6], "typ".utf8) else { throw CandidateParseError(.missingType) }
        guard words[7].isToken else { throw CandidateParseError(.invalidType) }

        var candidate = ICECandidate(
            foundation: words[0].string, componentID: componentID, transport: Transport(words[2].string),
            priority: priority, address: words[4].string, port: port, kind: Kind(nameBytes: words[7]))

        var index = 8
        if index + 1 < words.count, ASCII.equalsIgnoringCase(words[index], "raddr".utf8) {
            guard isConnectionAddress(words[index + 1]) else { throw CandidateParseError(.invalidRelatedAddress) }
            candidate.relatedAddress = words[index + 1].string
            index += 2
        }
        if index + 1 < words.count, ASCII.equalsIgnoringCase(words[index], "rport".utf8) {
            guard let relatedPort = parseDecimal(words[index + 1], as: UInt16.self) else {
                throw CandidateParseError(.invalidRelatedPort)
            }
            candidate.relatedPort = relatedPort
            index += 2
        }

        let remaining = words.count - index
        guard remaining.isMultiple(of: 2) else { throw CandidateParseError(.unpairedExtension) }
        guard remaining / 2 <= SDPLimits.maximumCandidateExtensions else {
            throw CandidateParseError(.tooManyExtensions)
        }
        candidate.extensions.reserveCapacity(remaining / 2)
        while index < words.count {
            // extension-att-name = token; extension-att-value = *VCHAR (checked above)
            guard words[index].isToken else { throw CandidateParseError(.invalidExtensionName) }
            let pair = Extension(name: words[index].string, value: words[index + 1].string)
            // RFC 6544 §4.5: tcp-type-ext = "tcptype" SP tcp-type
            if pair.name == "tcptype", TCPType(rawValue: pair.value) == nil {
                throw CandidateParseError(.invalidTCPType)
            }
            candidate.extensions.append(pair)
            index += 2
        }
        return candidate
    }

    // RFC 8839 §5.1 connection-address (RFC 8866 §9): an IPv4 or IPv6 address
    // or an FQDN. Checked by character set only: letters, digits and
    // `.`, `:`, `-`, `_`, `%` (IPv6 zone) cover every form stacks emit.
    private static func isConnectionAddress(_ text: ArraySlice<UInt8>) -> Bool {
        text.allSatisfy { byte in
            ASCII.isLetter(byte) || ASCII.isDigit(byte) || byte == 0x2E || byte == ASCII.colon
                || byte == 0x2D || byte == 0x5F || byte == 0x25
        }
    }
}
