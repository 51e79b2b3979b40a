/// Builds a ``SessionDescription`` from the lines of a ``LineLexer``.
enum SDPParser {
    static func parse(_ input: some Collection<UInt8>) throws(SDPParseError) -> SessionDescription {
        // Size first, so oversized input costs nothing more than this check.
        guard input.count <= SDPLimits.maximumDescriptionSize else {
            throw SDPParseError(line: 0, reason: .inputTooLarge)
        }
        guard !input.isEmpty else { throw SDPParseError(line: 0, reason: .emptyInput) }
        var lexer = LineLexer(Array(input))

        // RFC 8866 §5: a description starts with v=, o= and s=, in that order.
        guard let versionLine = try lexer.next(), versionLine.type == SDPLineType.version.asciiValue else {
            throw SDPParseError(line: 1, reason: .missingVersion)
        }
        // RFC 8866 §5.1: "v=0"; there is no other version.
        guard versionLine.value.equals("0") else { throw SDPParseError(line: 1, reason: .unsupportedVersion) }
        guard let originLine = try lexer.next(), originLine.type == SDPLineType.origin.asciiValue else {
            throw SDPParseError(line: 2, reason: .missingOrigin)
        }
        guard let origin = Origin(lineValue: originLine.value) else {
            throw SDPParseError(line: originLine.number, reason: .invalidOrigin)
        }
        guard let nameLine = try lexer.next(), nameLine.type == SDPLineType.sessionName.asciiValue else {
            throw SDPParseError(line: 3, reason: .missingSessionName)
        }

        var session = SessionDescription(origin: origin, sessionName: nameLine.value.string, fields: [])
        var section = SectionBuilder()
        while let line = try lexer.next() {
            switch line.type {
            case SDPLineType.media.asciiValue:
                section.finish(into: &session)
                guard session.media.count < SDPLimits.maximumMediaSections else {
                    throw SDPParseError(line: line.number, reason: .tooManyMediaSections)
                }
                guard let media = MediaDescription(lineValue: line.value) else {
                    throw SDPParseError(line: line.number, reason: .invalidMediaLine)
                }
                section = SectionBuilder(media: media)
            case SDPLineType.version.asciiValue, SDPLineType.origin.asciiValue, SDPLineType.sessionName.asciiValue:
                throw SDPParseError(line: line.number, reason: .unexpectedLine(SDPLineType(letter: line.type)))
            default:
                try section.append(line)
            }
        }
        section.finish(into: &session)
        return session
    }
}

/// Collects the fields of the section being parsed — the session level until
/// the first `m=` line, then each media section — and enforces the
/// per-section limits. Fields go into a local array and are moved into the
/// description once the section ends, so appending never copies a section.
private struct SectionBuilder {
    /// The media section's `m=` line, or `nil` at the session level.
    private let media: MediaDescription?
    private var fields: [SDPField] = []
    private var candidateCount = 0

    init(media: MediaDescription? = nil) {
        self.media = media
    }

    mutating func append(_ line: SDPLine) throws(SDPParseError) {
        guard fields.count < SDPLimits.maximumFieldsPerSection else {
            throw SDPParseError(line: line.number, reason: .tooManyFields)
        }
        guard line.type == SDPLineType.attribute.asciiValue else {
            fields.append(.line(type: SDPLineType(letter: line.type), value: line.value.string))
            return
        }
        let attribute = try SDPAttribute.parse(line.value, line: line.number)
        if case .candidate = attribute {
            candidateCount += 1
            guard candidateCount <= SDPLimits.maximumCandidatesPerSection else {
                throw SDPParseError(line: line.number, reason: .tooManyCandidates)
            }
        }
        fields.append(.attribute(attribute))
    }

    /// Stores the finished section in `session`.
    consuming func finish(into session: inout SessionDescription) {
        guard var media else {
            session.fields = fields
            return
        }
        media.fields = fields
        session.media.append(media)
    }
}
