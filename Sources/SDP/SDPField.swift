/// One line of a session description other than `v=`, `o=`, `s=` and `m=`,
/// kept in its original position so that order survives a round trip.
public enum SDPField: Sendable, Hashable, CustomStringConvertible {
    /// An `a=` line. Parsing always produces this case for `a=` lines.
    case attribute(SDPAttribute)
    /// Any other line (`t=`, `c=`, `b=`, `i=`, and types unknown to RFC 8866,
    /// which §5 says to ignore and this module preserves), with its value as
    /// written.
    case line(type: SDPLineType, value: String)

    /// The line as it is serialized, without its line terminator, such as
    /// `a=mid:0` or `t=0 0`.
    public var description: String {
        var text = ""
        write(to: &text)
        return text
    }

    /// Appends the line and its CRLF terminator (RFC 8866 §5) to `text`.
    func writeLine(to text: inout String) {
        write(to: &text)
        text.append("\r\n")
    }

    /// Appends the line, without its terminator, to `text`.
    func write(to text: inout String) {
        switch self {
        case .attribute(let attribute):
            text.append("a=")
            attribute.write(to: &text)
        case .line(let type, let value):
            text.append(type.character)
            text.append("=")
            text.append(value)
        }
    }
}

/// The one-letter type of an SDP line (RFC 8866 §5: "`<type>` is exactly one
/// case-significant character"), restricted to ASCII letters.
public struct SDPLineType: Sendable, Hashable, CustomStringConvertible {
    /// The ASCII code of the letter.
    public let asciiValue: UInt8

    /// The type for `letter`, or `nil` if it is not an ASCII letter.
    public init?(_ letter: Character) {
        guard let ascii = letter.asciiValue, ASCII.isLetter(ascii) else { return nil }
        asciiValue = ascii
    }

    /// Wraps a byte the caller has checked is an ASCII letter.
    init(letter: UInt8) {
        asciiValue = letter
    }

    /// The letter.
    public var character: Character { Character(Unicode.Scalar(asciiValue)) }

    /// The letter, as a string.
    public var description: String { String(character) }

    // RFC 8866 §5.1–§5.14: the line types it defines.
    /// `v=`, protocol version (§5.1).
    public static let version = SDPLineType(letter: 0x76)
    /// `o=`, origin (§5.2).
    public static let origin = SDPLineType(letter: 0x6F)
    /// `s=`, session name (§5.3).
    public static let sessionName = SDPLineType(letter: 0x73)
    /// `i=`, session or media title (§5.4).
    public static let information = SDPLineType(letter: 0x69)
    /// `u=`, URI (§5.5).
    public static let uri = SDPLineType(letter: 0x75)
    /// `e=`, email address (§5.6).
    public static let email = SDPLineType(letter: 0x65)
    /// `p=`, phone number (§5.6).
    public static let phone = SDPLineType(letter: 0x70)
    /// `c=`, connection data (§5.7).
    public static let connection = SDPLineType(letter: 0x63)
    /// `b=`, bandwidth (§5.8).
    public static let bandwidth = SDPLineType(letter: 0x62)
    /// `t=`, time active (§5.9).
    public static let timing = SDPLineType(letter: 0x74)
    /// `r=`, repeat times (§5.10).
    public static let repeatTimes = SDPLineType(letter: 0x72)
    /// `z=`, time zone adjustments (§5.11).
    public static let timeZones = SDPLineType(letter: 0x7A)
    /// `k=`, encryption key, obsolete (§5.12).
    public static let encryptionKey = SDPLineType(letter: 0x6B)
    /// `a=`, attribute (§5.13).
    public static let attribute = SDPLineType(letter: 0x61)
    /// `m=`, media description (§5.14).
    public static let media = SDPLineType(letter: 0x6D)
}
