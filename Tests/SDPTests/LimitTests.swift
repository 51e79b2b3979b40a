import SDP
import Testing

/// `header` followed by `count` lines (the three header lines included),
/// split into media sections of 1000 lines so that only the line limit can
/// be the one exceeded.
private func description(lineCount count: Int) -> String {
    var text = header
    for index in 0..<(count - 3) {
        text += index.isMultiple(of: 1000) ? "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n" : "a=x\r\n"
    }
    return text
}

/// A valid description of exactly `size` bytes, padded with `a=x-pad` lines
/// of at most about 2 KiB.
private func description(byteCount size: Int) -> String {
    var text = header
    var count = text.utf8.count
    while count < size {
        let remaining = size - count
        let lineLength = remaining > 2058 ? 2048 : remaining
        text += "a=x-pad:" + String(repeating: "p", count: lineLength - 10) + "\r\n"
        count += lineLength
    }
    return text
}

@Suite("Limits")
struct LimitTests {
    @Test("a description of exactly the maximum size parses; one byte more is rejected as a whole")
    func descriptionSize() throws {
        let largest = description(byteCount: SDPLimits.maximumDescriptionSize)
        #expect(largest.utf8.count == SDPLimits.maximumDescriptionSize)
        #expect(try SessionDescription(parsing: largest).fields.count > 100)
        let tooLarge = description(byteCount: SDPLimits.maximumDescriptionSize + 1)
        #expect(parseError(tooLarge) == SDPParseError(line: 0, reason: .inputTooLarge))
        #expect(throws: SDPParseError(line: 0, reason: .inputTooLarge)) {
            try SessionDescription(parsing: Array(tooLarge.utf8))
        }
    }

    @Test("100 MB of input is rejected without being read")
    func hugeInputRejectedQuickly() {
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: SDPParseError(line: 0, reason: .inputTooLarge)) {
                try SessionDescription(parsing: repeatElement(UInt8(ascii: "a"), count: 100_000_000))
            }
        }
        #expect(elapsed < .milliseconds(250))
    }

    @Test("descriptions at the size and line limits parse in bounded time (no quadratic work)")
    func parsingTimeIsBounded() throws {
        let clock = ContinuousClock()
        for text in [description(byteCount: SDPLimits.maximumDescriptionSize),
            description(lineCount: SDPLimits.maximumLineCount)]
        {
            var parsed: SessionDescription?
            let elapsed = try clock.measure { parsed = try SessionDescription(parsing: text) }
            #expect(parsed != nil)
            // Linear parsing takes milliseconds even unoptimized; quadratic work
            // over 16 Ki lines or 256 KiB would take far longer.
            #expect(elapsed < .seconds(3))
        }
    }

    @Test("a line of exactly the maximum length parses; one byte more is an error")
    func lineLength() throws {
        let prefix = "a=x:"
        let longest = prefix + String(repeating: "v", count: SDPLimits.maximumLineLength - prefix.utf8.count)
        #expect(try parse(longest).fields.count == 1)
        #expect(parseError(lines: longest + "v") == SDPParseError(line: 4, reason: .lineTooLong))
    }

    @Test("the line count is bounded")
    func lineCount() throws {
        #expect(try SessionDescription(parsing: description(lineCount: SDPLimits.maximumLineCount)).media.count == 17)
        #expect(parseError(description(lineCount: SDPLimits.maximumLineCount + 1))
            == SDPParseError(line: SDPLimits.maximumLineCount + 1, reason: .tooManyLines))
    }

    @Test("the number of media sections is bounded")
    func mediaSections() throws {
        let section = "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
        let most = header + String(repeating: section, count: SDPLimits.maximumMediaSections)
        #expect(try SessionDescription(parsing: most).media.count == SDPLimits.maximumMediaSections)
        #expect(parseError(most + section)
            == SDPParseError(line: 3 + SDPLimits.maximumMediaSections + 1, reason: .tooManyMediaSections))
    }

    @Test("the number of fields per section is bounded, at session and media level")
    func fieldsPerSection() throws {
        let fields = String(repeating: "a=x\r\n", count: SDPLimits.maximumFieldsPerSection)
        #expect(try SessionDescription(parsing: header + fields).fields.count == SDPLimits.maximumFieldsPerSection)
        #expect(parseError(header + fields + "a=x\r\n")
            == SDPParseError(line: 3 + SDPLimits.maximumFieldsPerSection + 1, reason: .tooManyFields))
        let media = header + "m=audio 9 RTP/AVP 0\r\n" + fields
        #expect(try SessionDescription(parsing: media).media[0].fields.count == SDPLimits.maximumFieldsPerSection)
        #expect(parseError(media + "b=AS:1\r\n")
            == SDPParseError(line: 4 + SDPLimits.maximumFieldsPerSection + 1, reason: .tooManyFields))
    }

    @Test("the number of candidates per section is bounded")
    func candidatesPerSection() throws {
        let section = header + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
        let candidates = (0..<SDPLimits.maximumCandidatesPerSection).map {
            "a=candidate:\($0) 1 udp 1 192.0.2.1 \($0) typ host\r\n"
        }.joined()
        #expect(try SessionDescription(parsing: section + candidates).media[0].candidates.count
            == SDPLimits.maximumCandidatesPerSection)
        #expect(parseError(section + candidates + "a=candidate:x 1 udp 1 192.0.2.1 1 typ host\r\n")
            == SDPParseError(line: 4 + SDPLimits.maximumCandidatesPerSection + 1, reason: .tooManyCandidates))
    }

    @Test("the number of extension pairs per candidate is bounded")
    func candidateExtensions() throws {
        let base = "candidate:1 1 udp 1 192.0.2.1 9 typ host"
        let most = base + String(repeating: " k v", count: SDPLimits.maximumCandidateExtensions)
        #expect(try ICECandidate(parsing: most).extensions.count == SDPLimits.maximumCandidateExtensions)
        #expect(candidateError(most + " k v") == .tooManyExtensions)
    }

    @Test("a trickled candidate string longer than a line is rejected")
    func candidateLength() {
        let padded = "candidate:1 1 udp 1 192.0.2.1 9 typ host"
            + String(repeating: " ", count: SDPLimits.maximumLineLength)
        #expect(candidateError(padded) == .tooLong)
    }
}
