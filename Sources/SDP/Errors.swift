/// Why a session description could not be parsed, and on which line.
public struct SDPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// The input is longer than ``SDPLimits/maximumDescriptionSize``.
        case inputTooLarge
        /// The input is empty.
        case emptyInput
        /// A line is longer than ``SDPLimits/maximumLineLength``.
        case lineTooLong
        /// The input has more than ``SDPLimits/maximumLineCount`` lines.
        case tooManyLines
        /// The input has more than ``SDPLimits/maximumMediaSections`` `m=` lines.
        case tooManyMediaSections
        /// A section has more than ``SDPLimits/maximumFieldsPerSection`` fields.
        case tooManyFields
        /// A section has more than ``SDPLimits/maximumCandidatesPerSection`` candidates.
        case tooManyCandidates
        /// A line is not well-formed UTF-8.
        case invalidUTF8
        /// A line contains a NUL or a carriage return not followed by a line feed.
        case controlCharacter(UInt8)
        /// A line is not of the form `<letter>=<value>` (this includes empty lines).
        case malformedLine
        /// The first line is not `v=`.
        case missingVersion
        /// The `v=` line is not `v=0`.
        case unsupportedVersion
        /// The second line is not `o=`.
        case missingOrigin
        /// The `o=` line does not have the six fields of RFC 8866 §5.2.
        case invalidOrigin
        /// The third line is not `s=`.
        case missingSessionName
        /// A `v=`, `o=` or `s=` line appears after the first three lines.
        case unexpectedLine(SDPLineType)
        /// An `m=` line does not match RFC 8866 §5.14.
        case invalidMediaLine
        /// An attribute's name is not a token, or the value of an attribute
        /// this module types (see ``SDPAttribute``) does not match its grammar.
        case invalidAttribute(name: String)
        /// An `a=candidate` line does not match RFC 8839 §5.1.
        case invalidCandidate(CandidateParseError.Reason)

        /// A short English explanation.
        public var description: String {
            switch self {
            case .inputTooLarge: "description exceeds \(SDPLimits.maximumDescriptionSize) bytes"
            case .emptyInput: "description is empty"
            case .lineTooLong: "line exceeds \(SDPLimits.maximumLineLength) bytes"
            case .tooManyLines: "description exceeds \(SDPLimits.maximumLineCount) lines"
            case .tooManyMediaSections: "description exceeds \(SDPLimits.maximumMediaSections) media sections"
            case .tooManyFields: "section exceeds \(SDPLimits.maximumFieldsPerSection) fields"
            case .tooManyCandidates: "section exceeds \(SDPLimits.maximumCandidatesPerSection) candidates"
            case .invalidUTF8: "invalid UTF-8"
            case .controlCharacter(let byte): "forbidden control character 0x\(String(byte, radix: 16))"
            case .malformedLine: "line is not of the form <letter>=<value>"
            case .missingVersion: "expected v= line"
            case .unsupportedVersion: "only v=0 is supported"
            case .missingOrigin: "expected o= line"
            case .invalidOrigin: "malformed o= line"
            case .missingSessionName: "expected s= line"
            case .unexpectedLine(let type): "unexpected \(type)= line"
            case .invalidMediaLine: "malformed m= line"
            case .invalidAttribute(let name): "malformed a=\(name) attribute"
            case .invalidCandidate(let reason): "malformed a=candidate attribute: \(reason)"
            }
        }
    }

    /// The 1-based line number the error was found on, or 0 for errors about
    /// the input as a whole (``Reason/inputTooLarge``, ``Reason/emptyInput``).
    public let line: Int
    /// What was wrong.
    public let reason: Reason

    /// Creates an error for `line` (1-based; 0 for the whole input).
    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    /// `"line N: <reason>"`.
    public var description: String { "line \(line): \(reason)" }
}

/// Why an ICE candidate could not be parsed (RFC 8839 §5.1).
public struct CandidateParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Sendable, Hashable, CustomStringConvertible {
        /// The candidate string is empty (in trickle signalling, an empty
        /// candidate means end-of-candidates and is not a candidate).
        case empty
        /// The candidate string is longer than ``SDPLimits/maximumLineLength``.
        case tooLong
        /// The candidate contains a byte that is neither a space nor a visible ASCII character.
        case invalidCharacter
        /// Fewer than the eight mandatory fields are present.
        case missingFields
        /// The foundation is not 1–32 ice-chars.
        case invalidFoundation
        /// The component ID is not a number from 1 to 256.
        case invalidComponentID
        /// The transport is not a token.
        case invalidTransport
        /// The priority is not a decimal number that fits 32 bits.
        case invalidPriority
        /// The connection address contains characters no IP address or host name has.
        case invalidAddress
        /// The port is not a decimal number from 0 to 65535.
        case invalidPort
        /// The seventh field is not `typ`.
        case missingType
        /// The candidate type is not a token.
        case invalidType
        /// The `raddr` value is not a valid address.
        case invalidRelatedAddress
        /// The `rport` value is not a valid port.
        case invalidRelatedPort
        /// The extensions are not name-value pairs.
        case unpairedExtension
        /// An extension name is not a token.
        case invalidExtensionName
        /// More than ``SDPLimits/maximumCandidateExtensions`` extension pairs are present.
        case tooManyExtensions
        /// A `tcptype` extension is not `active`, `passive` or `so` (RFC 6544 §4.5).
        case invalidTCPType

        /// A short English explanation.
        public var description: String {
            switch self {
            case .empty: "empty candidate"
            case .tooLong: "candidate exceeds \(SDPLimits.maximumLineLength) bytes"
            case .invalidCharacter: "candidate contains a byte that is not a space or visible ASCII"
            case .missingFields: "fewer than eight fields"
            case .invalidFoundation: "foundation is not 1-32 ice-chars"
            case .invalidComponentID: "component ID is not 1-256"
            case .invalidTransport: "transport is not a token"
            case .invalidPriority: "priority is not a 32-bit number"
            case .invalidAddress: "invalid connection address"
            case .invalidPort: "invalid port"
            case .missingType: "expected typ"
            case .invalidType: "candidate type is not a token"
            case .invalidRelatedAddress: "invalid raddr"
            case .invalidRelatedPort: "invalid rport"
            case .unpairedExtension: "extension without a value"
            case .invalidExtensionName: "extension name is not a token"
            case .tooManyExtensions: "more than \(SDPLimits.maximumCandidateExtensions) extensions"
            case .invalidTCPType: "tcptype is not active, passive or so"
            }
        }
    }

    /// What was wrong.
    public let reason: Reason

    /// Creates an error for `reason`.
    public init(_ reason: Reason) {
        self.reason = reason
    }

    /// `"invalid ICE candidate: <reason>"`.
    public var description: String { "invalid ICE candidate: \(reason)" }
}
