/// One `<type>=<value>` line of a description, as a view into the input.
struct SDPLine {
    /// The 1-based line number.
    let number: Int
    /// The type letter.
    let type: UInt8
    /// The bytes after `=`, without the line terminator.
    let value: ArraySlice<UInt8>
}

/// Splits a description into lines, enforcing the byte-level rules and the
/// per-line limits in a single pass over the input.
struct LineLexer {
    private let bytes: [UInt8]
    private var position = 0
    private var lineNumber = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next line, or `nil` at the end of the input.
    mutating func next() throws(SDPParseError) -> SDPLine? {
        guard position < bytes.count else { return nil }
        lineNumber += 1
        guard lineNumber <= SDPLimits.maximumLineCount else { throw error(.tooManyLines) }

        // RFC 8866 §5: lines end in CRLF; a bare LF is accepted too (§5 asks
        // parsers to be tolerant), a bare CR is not. RFC 8866 §9 byte-string
        // excludes NUL, CR and LF.
        let start = position
        var end = start
        var terminatorLength = 0
        var isASCII = true
        while end < bytes.count {
            let byte = bytes[end]
            if byte == ASCII.lineFeed {
                terminatorLength = 1
                break
            }
            if byte == ASCII.carriageReturn {
                guard end + 1 < bytes.count, bytes[end + 1] == ASCII.lineFeed else {
                    throw error(.controlCharacter(byte))
                }
                terminatorLength = 2
                break
            }
            if byte == ASCII.nul { throw error(.controlCharacter(byte)) }
            if byte >= 0x80 { isASCII = false }
            end += 1
            if end - start > SDPLimits.maximumLineLength { throw error(.lineTooLong) }
        }
        position = end + terminatorLength

        let content = bytes[start..<end]
        // RFC 8866 §5: the description is UTF-8 text.
        guard isASCII || isValidUTF8(content) else { throw error(.invalidUTF8) }
        // RFC 8866 §5: <type>=<value>, where <type> is exactly one letter.
        guard content.count >= 2, ASCII.isLetter(content[start]), content[start + 1] == ASCII.equalsSign else {
            throw error(.malformedLine)
        }
        return SDPLine(number: lineNumber, type: content[start], value: content[(start + 2)...])
    }

    private func error(_ reason: SDPParseError.Reason) -> SDPParseError {
        SDPParseError(line: lineNumber, reason: reason)
    }
}
