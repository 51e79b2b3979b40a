import SDP
import Testing

@Suite("Session description structure")
struct SessionDescriptionTests {
    @Test("a minimal description exposes version, origin, name and fields")
    func minimal() throws {
        let description = try parse("t=0 0")
        #expect(description.version == 0)
        #expect(description.origin == Origin(sessionID: "1", sessionVersion: "2"))
        #expect(description.sessionName == "-")
        #expect(description.fields == [.line(type: .timing, value: "0 0")])
        #expect(description.media.isEmpty)
    }

    @Test("bare LF line endings and a missing final newline parse like CRLF")
    func lineEndings() throws {
        let crlf = try SessionDescription(parsing: firefoxStyleOffer)
        let lf = try SessionDescription(parsing: firefoxStyleOffer.replacingCRLF(with: "\n"))
        var unterminated = firefoxStyleOffer
        unterminated.removeLast()  // "\r\n" is one Character
        #expect(lf == crlf)
        #expect(try SessionDescription(parsing: unterminated) == crlf)
        #expect(lf.serialized() == firefoxStyleOffer)
    }

    @Test("parsing from bytes and from a string agree")
    func bytesAndString() throws {
        let fromString = try SessionDescription(parsing: firefoxStyleOffer)
        #expect(try SessionDescription(parsing: Array(firefoxStyleOffer.utf8)) == fromString)
        #expect(try SessionDescription(parsing: firefoxStyleOffer.utf8) == fromString)
    }

    @Test("a Firefox-shaped offer exposes its session and media attributes")
    func firefoxShape() throws {
        let description = try SessionDescription(parsing: firefoxStyleOffer)
        #expect(description.origin.username == "mozilla...THIS_IS_SDPARTA-99.0")
        #expect(description.origin.sessionID == "6411394282594934209")
        #expect(description.fingerprints.map(\.algorithm) == [.sha256])
        #expect(description.iceOptions == ["trickle"])
        #expect(description.bundleGroup == SDPGroup(semantics: "BUNDLE", identificationTags: ["0"]))
        let media = try #require(description.media.first)
        #expect(media.isDataChannel)
        #expect(media.formats == ["webrtc-datachannel"])
        #expect(media.iceUfrag == "a1b2c3d4")
        #expect(media.icePwd == "0123456789abcdef0123456789abcdef")
        #expect(media.fingerprints.isEmpty)
        #expect(media.setup == .actpass)
        #expect(media.mid == "0")
        #expect(media.sctpPort == 5000)
        #expect(media.maxMessageSize == 1_073_741_823)
        #expect(media.candidates.count == 3)
        #expect(media.hasEndOfCandidates)
        #expect(!media.isICELite)
        #expect(description.serialized() == firefoxStyleOffer)
    }

    @Test("line types are single ASCII letters")
    func lineTypes() {
        #expect(SDPLineType("t") == .timing)
        #expect(SDPLineType("Z")?.description == "Z")
        #expect(SDPLineType("1") == nil)
        #expect(SDPLineType("é") == nil)
        #expect(SDPField.line(type: .bandwidth, value: "AS:30").description == "b=AS:30")
        #expect(SDPField.attribute(.setup(.passive)).description == "a=setup:passive")
        #expect(Origin(sessionID: "1", sessionVersion: "2").description == "- 1 2 IN IP4 127.0.0.1")
    }

    @Test("a missing t= line is accepted")
    func missingTiming() throws {
        let description = try parse("m=application 9 UDP/DTLS/SCTP webrtc-datachannel")
        #expect(description.fields.isEmpty)
        #expect(description.media.count == 1)
    }

    @Test("unknown line types and attributes survive in their original order")
    func unknownFieldsPreserved() throws {
        let lines = [
            "t=0 0", "x=experimental", "a=flag", "a=empty:", "a=msid-semantic: WMS", "Q=upper case type",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111", "b=AS:30", "a=rtpmap:111 opus/48000/2", "y=", "a=mid:a1",
        ]
        let text = header + lines.map { $0 + "\r\n" }.joined()
        let description = try SessionDescription(parsing: text)
        #expect(description.fields == [
            .line(type: .timing, value: "0 0"),
            .line(type: try #require(SDPLineType("x")), value: "experimental"),
            .attribute(.other(name: "flag", value: nil)),
            .attribute(.other(name: "empty", value: "")),
            .attribute(.other(name: "msid-semantic", value: " WMS")),
            .line(type: try #require(SDPLineType("Q")), value: "upper case type"),
        ])
        let audio = try #require(description.media.first)
        #expect(audio.fields == [
            .line(type: .bandwidth, value: "AS:30"),
            .attribute(.other(name: "rtpmap", value: "111 opus/48000/2")),
            .line(type: try #require(SDPLineType("y")), value: ""),
            .attribute(.mid("a1")),
        ])
        #expect(!audio.isDataChannel)
        #expect(description.serialized() == text)
    }

    @Test("the legacy DTLS/SCTP form with a=sctpmap is typed")
    func legacySCTPMap() throws {
        let description = try parse(
            "t=0 0", "m=application 9 DTLS/SCTP 5000", "a=mid:data", "a=sctpmap:5000 webrtc-datachannel 1024")
        let media = try #require(description.media.first)
        #expect(media.isDataChannel)
        #expect(media.proto == "DTLS/SCTP")
        #expect(media.formats == ["5000"])
        #expect(media.sctpPort == nil)
        #expect(media.sctpmap == SCTPMap(port: 5000, application: "webrtc-datachannel", streams: 1024))
        #expect(media.dataChannelSCTPPort == 5000)
        #expect(media.attributes.last?.description == "sctpmap:5000 webrtc-datachannel 1024")
    }

    @Test("data-channel detection covers the three SCTP protocols and nothing else",
        arguments: [
            ("application", "UDP/DTLS/SCTP", true), ("application", "TCP/DTLS/SCTP", true),
            ("application", "DTLS/SCTP", true), ("application", "udp/dtls/sctp", true),
            ("application", "UDP/TLS/RTP/SAVPF", false), ("audio", "UDP/DTLS/SCTP", false),
        ])
    func dataChannelDetection(media: String, proto: String, expected: Bool) {
        #expect(MediaDescription(media: media, proto: proto, formats: ["webrtc-datachannel"]).isDataChannel == expected)
    }

    @Test("m= lines with a port count, and without formats, parse")
    func mediaLineForms() throws {
        let description = try parse("m=audio 49170/2 RTP/AVP 0 8", "m=application 0 UDP/DTLS/SCTP")
        #expect(description.media[0].port == 49170)
        #expect(description.media[0].portCount == 2)
        #expect(description.media[0].formats == ["0", "8"])
        #expect(description.media[1].port == 0)
        #expect(description.media[1].formats.isEmpty)
        #expect(description.media[0].mediaLineValue == "audio 49170/2 RTP/AVP 0 8")
    }

    @Test("malformed m= lines are errors naming the line",
        arguments: [
            "m=application", "m=application 9", "m=application x UDP/DTLS/SCTP webrtc-datachannel",
            "m=application 65536 UDP/DTLS/SCTP webrtc-datachannel", "m=application 9/ UDP/DTLS/SCTP 5000",
            "m=application 9 UDP//SCTP webrtc-datachannel", "m=application 9 UDP/DTLS/SCTP web\"rtc",
        ])
    func invalidMediaLine(line: String) {
        #expect(parseError(lines: "t=0 0", line) == SDPParseError(line: 5, reason: .invalidMediaLine))
    }

    @Test("session IDs keep their digits, even beyond 64 bits")
    func longSessionID() throws {
        let text = "v=0\r\no=- 123456789012345678901234567890 007 IN IP6 ::1\r\ns=-\r\n"
        let description = try SessionDescription(parsing: text)
        #expect(description.origin.sessionID == "123456789012345678901234567890")
        #expect(description.origin.sessionVersion == "007")
        #expect(description.origin.addressType == "IP6")
        #expect(description.serialized() == text)
    }

    @Test("malformed o= lines are errors on line 2",
        arguments: [
            "o=- 1 2 IN IP4", "o=- 1 2 IN IP4 127.0.0.1 extra", "o=- x 2 IN IP4 127.0.0.1",
            "o=- 1 -2 IN IP4 127.0.0.1", "o=",
        ])
    func invalidOrigin(line: String) {
        #expect(parseError("v=0\r\n\(line)\r\ns=-\r\n") == SDPParseError(line: 2, reason: .invalidOrigin))
    }

    @Test("v=, o= and s= must open the description in order")
    func headerOrder() {
        #expect(parseError("o=- 1 2 IN IP4 127.0.0.1\r\n") == SDPParseError(line: 1, reason: .missingVersion))
        #expect(parseError("v=1\r\n") == SDPParseError(line: 1, reason: .unsupportedVersion))
        #expect(parseError("v=0\r\n") == SDPParseError(line: 2, reason: .missingOrigin))
        #expect(parseError("v=0\r\ns=-\r\n") == SDPParseError(line: 2, reason: .missingOrigin))
        #expect(parseError("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n") == SDPParseError(line: 3, reason: .missingSessionName))
        #expect(parseError("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nt=0 0\r\n")
            == SDPParseError(line: 3, reason: .missingSessionName))
    }

    @Test("a second v=, o= or s= line is an error naming it")
    func repeatedHeaderLines() {
        #expect(parseError(lines: "t=0 0", "v=0") == SDPParseError(line: 5, reason: .unexpectedLine(.version)))
        #expect(parseError(lines: "m=audio 9 RTP/AVP 0", "o=- 1 2 IN IP4 127.0.0.1")
            == SDPParseError(line: 5, reason: .unexpectedLine(.origin)))
        #expect(parseError(lines: "s=again") == SDPParseError(line: 4, reason: .unexpectedLine(.sessionName)))
    }

    @Test("errors describe themselves as line and reason")
    func errorDescription() {
        let error = parseError(lines: "t=0 0", "a=sctp-port:abc")
        #expect(error?.description == "line 5: malformed a=sctp-port attribute")
        #expect(SDPParseError(line: 0, reason: .inputTooLarge).description
            == "line 0: description exceeds 262144 bytes")
    }

    @Test("groups and the BUNDLE group are found at session level")
    func groups() throws {
        let description = try parse("a=group:LS a1 v1", "a=group:BUNDLE a1 v1 d1", "a=group:BUNDLE")
        #expect(description.groups.map(\.semantics) == ["LS", "BUNDLE", "BUNDLE"])
        #expect(description.bundleGroup?.identificationTags == ["a1", "v1", "d1"])
        #expect(description.groups[2].identificationTags.isEmpty)
        #expect(description.fields.last?.description == "a=group:BUNDLE")
    }

    @Test("a description built in code serializes with CRLF and parses back")
    func builtInCode() throws {
        let fingerprint = Fingerprint(algorithm: .sha256, bytes: Array(0..<32))
        let candidate = ICECandidate(
            foundation: "1", priority: 2_122_260_223, address: "192.0.2.1", port: 50000, kind: .host,
            extensions: [.init(name: "generation", value: "0")])
        let description = SessionDescription(
            origin: Origin(sessionID: "4611731400430051336", sessionVersion: "2"),
            fields: [.line(type: .timing, value: "0 0"), .attribute(.group(SDPGroup(semantics: "BUNDLE", identificationTags: ["0"])))],
            media: [
                MediaDescription(
                    media: "application", proto: "UDP/DTLS/SCTP", formats: ["webrtc-datachannel"],
                    fields: [
                        .line(type: .connection, value: "IN IP4 0.0.0.0"), .attribute(.candidate(candidate)),
                        .attribute(.iceUfrag("abcd")), .attribute(.icePwd("0123456789012345678901")),
                        .attribute(.iceOptions(["trickle"])), .attribute(.fingerprint(fingerprint)),
                        .attribute(.setup(.actpass)), .attribute(.mid("0")), .attribute(.sctpPort(5000)),
                        .attribute(.maxMessageSize(262_144)),
                    ])
            ])
        let text = description.serialized()
        #expect(text == """
            v=0\r
            o=- 4611731400430051336 2 IN IP4 127.0.0.1\r
            s=-\r
            t=0 0\r
            a=group:BUNDLE 0\r
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
            c=IN IP4 0.0.0.0\r
            a=candidate:1 1 udp 2122260223 192.0.2.1 50000 typ host generation 0\r
            a=ice-ufrag:abcd\r
            a=ice-pwd:0123456789012345678901\r
            a=ice-options:trickle\r
            a=fingerprint:sha-256 \(fingerprint.hexDigest)\r
            a=setup:actpass\r
            a=mid:0\r
            a=sctp-port:5000\r
            a=max-message-size:262144\r

            """)
        #expect(try SessionDescription(parsing: text) == description)
        #expect(description.description == text)
    }
}

extension String {
    func replacingCRLF(with replacement: String) -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
