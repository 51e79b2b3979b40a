// Byte-level helpers shared by the parsers. Everything parses UTF-8 bytes
// directly: no Foundation, no intermediate strings for tokens that are only
// checked or converted to numbers.

/// ASCII code points and character classes used by the SDP grammars.
enum ASCII {
    static let nul: UInt8 = 0x00
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let slash: UInt8 = 0x2F
    static let colon: UInt8 = 0x3A
    static let equalsSign: UInt8 = 0x3D

    static func isLetter(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte)
    }

    /// RFC 5234 Appendix B.1: VCHAR, the visible (printing) characters.
    static func isVisible(_ byte: UInt8) -> Bool {
        (0x21...0x7E).contains(byte)
    }

    // RFC 8866 §9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A...0x2B, 0x2D...0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: true
        default: false
        }
    }

    // RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/"
    static func isICECharacter(_ byte: UInt8) -> Bool {
        isLetter(byte) || isDigit(byte) || byte == 0x2B || byte == slash
    }

    static func lowercased(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte | 0x20 : byte
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 0x30 + nibble : 0x41 + nibble - 10
    }

    /// Whether two ASCII strings are equal ignoring letter case.
    static func equalsIgnoringCase(_ lhs: some Sequence<UInt8>, _ rhs: some Sequence<UInt8>) -> Bool {
        lhs.elementsEqual(rhs) { lowercased($0) == lowercased($1) }
    }
}

/// Parses a non-empty run of decimal digits, rejecting signs, spaces and
/// values that overflow `T`.
func parseDecimal<T: FixedWidthInteger & UnsignedInteger>(
    _ digits: some Collection<UInt8>, as _: T.Type = T.self
) -> T? {
    guard !digits.isEmpty else { return nil }
    var value: T = 0
    for byte in digits {
        guard ASCII.isDigit(byte) else { return nil }
        let (shifted, shiftOverflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, addOverflow) = shifted.addingReportingOverflow(T(byte - 0x30))
        guard !shiftOverflow, !addOverflow else { return nil }
        value = sum
    }
    return value
}

// RFC 3629 §4: well-formed UTF-8 — no overlong forms, no surrogates, nothing
// above U+10FFFF.
func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
    var index = bytes.startIndex
    while index < bytes.endIndex {
        let lead = bytes[index]
        if lead < 0x80 {
            index += 1
            continue
        }
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: return false
        }
        guard bytes.endIndex - index >= length, secondRange.contains(bytes[index + 1]) else { return false }
        for continuation in bytes[(index + 2)..<(index + length)] where continuation & 0xC0 != 0x80 {
            return false
        }
        index += length
    }
    return true
}

extension ArraySlice<UInt8> {
    /// The bytes as a string; callers only use this on validated UTF-8.
    var string: String { String(decoding: self, as: UTF8.self) }

    /// The bytes with ASCII letters lower-cased, as a string.
    var lowercasedString: String { String(decoding: lazy.map(ASCII.lowercased), as: UTF8.self) }

    // RFC 8866 §9: token = 1*(token-char)
    var isToken: Bool { !isEmpty && allSatisfy(ASCII.isTokenCharacter) }

    /// The space-separated words, ignoring runs of spaces (as libwebrtc and
    /// Pion do) so that sloppy spacing is not an error.
    var words: [ArraySlice<UInt8>] {
        // Hand-written loops: the generic `split` calls a closure per byte and
        // grows its result one reallocation at a time.
        var count = 0
        var previous = ASCII.space
        for byte in self {
            if previous == ASCII.space, byte != ASCII.space { count += 1 }
            previous = byte
        }
        var words: [ArraySlice<UInt8>] = []
        words.reserveCapacity(count)
        var index = startIndex
        while index < endIndex {
            if self[index] == ASCII.space {
                index += 1
                continue
            }
            let start = index
            while index < endIndex, self[index] != ASCII.space { index += 1 }
            words.append(self[start..<index])
        }
        return words
    }

    /// The bytes after `prefix` if they start with it, else `nil`.
    func removingPrefix(_ prefix: String) -> ArraySlice<UInt8>? {
        starts(with: prefix.utf8) ? dropFirst(prefix.utf8.count) : nil
    }

    func equals(_ literal: String) -> Bool { elementsEqual(literal.utf8) }
}

extension String {
    /// Appends one SDP line with its CRLF terminator (RFC 8866 §5).
    mutating func appendLine(_ line: String) {
        append(line)
        append("\r\n")
    }
}

/// A value named by a case-insensitive token (a hash function, a candidate type), with a case
/// for names this module does not know, kept lower-cased.
protocol CaseInsensitivelyNamed {
    /// The values with a known name.
    static var known: [Self] { get }
    /// The value's name as serialized.
    var name: String { get }
    /// A value for a name not in ``known``.
    static func other(_ name: String) -> Self
}

extension CaseInsensitivelyNamed {
    init(nameBytes: ArraySlice<UInt8>) {
        self = Self.known.first { ASCII.equalsIgnoringCase($0.name.utf8, nameBytes) }
            ?? .other(nameBytes.lowercasedString)
    }
}
