import SDP
import Testing

/// Parses one attribute line placed at session level (line 4).
private func attribute(_ line: String) throws -> SDPAttribute {
    try #require(try parse(line).attributes.first)
}

/// The error for one attribute line placed at session level (line 4).
private func attributeError(_ line: String) -> SDPParseError? {
    parseError(lines: line)
}

private func invalid(_ name: String) -> SDPParseError {
    SDPParseError(line: 4, reason: .invalidAttribute(name: name))
}

@Suite("Typed attributes")
struct AttributeTests {
    @Test("ICE credentials accept ice-chars of any grammatical length")
    func iceCredentials() throws {
        #expect(try attribute("a=ice-ufrag:B7ly") == .iceUfrag("B7ly"))
        #expect(try attribute("a=ice-pwd:W93Ne/5LGzzxyEkOPMEXPoYi") == .icePwd("W93Ne/5LGzzxyEkOPMEXPoYi"))
        #expect(try attribute("a=ice-pwd:XXjxO+ynlPQ+cUVUW5TaVq") == .icePwd("XXjxO+ynlPQ+cUVUW5TaVq"))
        // Shorter than RFC 8839's minimums: kept, for the ICE layer to judge.
        #expect(try attribute("a=ice-ufrag:ab") == .iceUfrag("ab"))
        #expect(try attribute("a=ice-pwd:short") == .icePwd("short"))
        let longest = String(repeating: "a", count: 256)
        #expect(try attribute("a=ice-pwd:\(longest)") == .icePwd(longest))
    }

    @Test("ICE credentials outside the ice-char grammar are errors",
        arguments: [
            "a=ice-ufrag:ufrag_data", "a=ice-ufrag:", "a=ice-ufrag", "a=ice-ufrag:ab cd",
            "a=ice-ufrag:" + String(repeating: "a", count: 257),
        ])
    func invalidUfrag(line: String) {
        #expect(attributeError(line) == invalid("ice-ufrag"))
    }

    @Test("ice-pwd outside the grammar is an error")
    func invalidPassword() {
        #expect(attributeError("a=ice-pwd:pwd-data-with-dashes!") == invalid("ice-pwd"))
    }

    @Test("ice-options keeps every tag; an empty list is an error")
    func iceOptions() throws {
        #expect(try attribute("a=ice-options:ice2 trickle") == .iceOptions(["ice2", "trickle"]))
        #expect(try parse("a=ice-options:trickle", "a=ice-options:renomination").iceOptions
            == ["trickle", "renomination"])
        #expect(attributeError("a=ice-options:") == invalid("ice-options"))
        #expect(attributeError("a=ice-options") == invalid("ice-options"))
    }

    @Test("flag attributes reject values")
    func flags() throws {
        #expect(try attribute("a=ice-lite") == .iceLite)
        #expect(try parse("a=ice-lite").isICELite)
        #expect(try attribute("a=end-of-candidates") == .endOfCandidates)
        #expect(try parse("a=end-of-candidates").hasEndOfCandidates)
        #expect(attributeError("a=ice-lite:yes") == invalid("ice-lite"))
        #expect(attributeError("a=end-of-candidates:") == invalid("end-of-candidates"))
    }

    @Test("fingerprints decode hex for every known hash function",
        arguments: [
            (HashFunction.sha1, 20), (.sha224, 28), (.sha256, 32), (.sha384, 48), (.sha512, 64), (.md5, 16),
            (.md2, 16),
        ])
    func fingerprintLengths(algorithm: HashFunction, length: Int) throws {
        let digest = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37) }
        let fingerprint = Fingerprint(algorithm: algorithm, bytes: digest)
        #expect(algorithm.digestLength == length)
        #expect(try attribute("a=fingerprint:\(fingerprint.attributeValue)") == .fingerprint(fingerprint))
        let tooShort = Fingerprint(algorithm: algorithm, bytes: Array(digest.dropLast()))
        #expect(attributeError("a=fingerprint:\(tooShort.attributeValue)") == invalid("fingerprint"))
    }

    @Test("fingerprint names and hex are case-insensitive and serialize canonically")
    func fingerprintCase() throws {
        let hex = "4a:ad:b9:b1:3f:82:18:3b:54:02:12:df:3e:5d:49:6b:19:e5:7c:ab"
        let parsed = try attribute("a=fingerprint:SHA-1 \(hex)")
        guard case .fingerprint(let fingerprint) = parsed else {
            Issue.record("expected a fingerprint, got \(parsed)")
            return
        }
        #expect(fingerprint.algorithm == .sha1)
        #expect(fingerprint.bytes.prefix(3) == [0x4A, 0xAD, 0xB9])
        #expect(parsed.value == "sha-1 " + hex.uppercased())
        #expect(HashFunction(name: "Sha-256") == .sha256)
    }

    @Test("unknown hash functions are kept with any digest length")
    func fingerprintUnknownAlgorithm() throws {
        #expect(try attribute("a=fingerprint:SHA3-256 AB:CD")
            == .fingerprint(Fingerprint(algorithm: .other("sha3-256"), bytes: [0xAB, 0xCD])))
        #expect(HashFunction.other("sha3-256").digestLength == nil)
    }

    @Test("malformed fingerprints are errors",
        arguments: [
            "a=fingerprint:sha-256 ZZ", "a=fingerprint:sha-256", "a=fingerprint:sha-1 AB:", "a=fingerprint:x ABC",
            "a=fingerprint:x AB-CD", "a=fingerprint:x A:BC", "a=fingerprint:x AB:CD extra", "a=fingerprint:",
            "a=fingerprint:x@y AB",
        ])
    func invalidFingerprint(line: String) {
        #expect(attributeError(line) == invalid("fingerprint"))
    }

    @Test("setup roles parse case-insensitively; unknown roles are errors")
    func setup() throws {
        for role in SetupRole.allCases {
            #expect(try attribute("a=setup:\(role.rawValue)") == .setup(role))
        }
        #expect(try attribute("a=setup:ACTPASS") == .setup(.actpass))
        #expect(attributeError("a=setup:client") == invalid("setup"))
        #expect(attributeError("a=setup:") == invalid("setup"))
    }

    @Test("mid is a token")
    func mid() throws {
        #expect(try attribute("a=mid:0") == .mid("0"))
        #expect(try attribute("a=mid:sdparta_0") == .mid("sdparta_0"))
        #expect(attributeError("a=mid:") == invalid("mid"))
        #expect(attributeError("a=mid:a b") == invalid("mid"))
    }

    @Test("group semantics and tags are tokens")
    func group() throws {
        #expect(try attribute("a=group:BUNDLE 0 1 2")
            == .group(SDPGroup(semantics: "BUNDLE", identificationTags: ["0", "1", "2"])))
        #expect(attributeError("a=group:") == invalid("group"))
        #expect(attributeError("a=group:BUNDLE 0 \"1\"") == invalid("group"))
    }

    @Test("sctp-port is a 16-bit decimal")
    func sctpPort() throws {
        #expect(try attribute("a=sctp-port:5000") == .sctpPort(5000))
        #expect(try attribute("a=sctp-port:65535") == .sctpPort(65535))
        for bad in ["abc", "65536", "-1", "", "+5", "50 00"] {
            #expect(attributeError("a=sctp-port:\(bad)") == invalid("sctp-port"))
        }
    }

    @Test("max-message-size is a 64-bit decimal")
    func maxMessageSize() throws {
        #expect(try attribute("a=max-message-size:262144") == .maxMessageSize(262_144))
        #expect(try attribute("a=max-message-size:0") == .maxMessageSize(0))
        #expect(try attribute("a=max-message-size:18446744073709551615") == .maxMessageSize(.max))
        #expect(attributeError("a=max-message-size:18446744073709551616") == invalid("max-message-size"))
        #expect(attributeError("a=max-message-size:1e6") == invalid("max-message-size"))
    }

    @Test("legacy sctpmap has a port, an application and optional streams")
    func sctpmap() throws {
        #expect(try attribute("a=sctpmap:5000 webrtc-datachannel 1024")
            == .sctpmap(SCTPMap(port: 5000, application: "webrtc-datachannel", streams: 1024)))
        #expect(try attribute("a=sctpmap:5000 webrtc-datachannel") == .sctpmap(SCTPMap(port: 5000)))
        for bad in ["x webrtc-datachannel", "5000", "5000 webrtc-datachannel many", "5000 a b c"] {
            #expect(attributeError("a=sctpmap:\(bad)") == invalid("sctpmap"))
        }
    }

    @Test("other attributes keep their name and exact value")
    func otherAttributes() throws {
        #expect(try attribute("a=sendrecv") == .other(name: "sendrecv", value: nil))
        #expect(try attribute("a=x-empty:") == .other(name: "x-empty", value: ""))
        #expect(try attribute("a=fmtp:111 minptime=10;useinbandfec=1")
            == .other(name: "fmtp", value: "111 minptime=10;useinbandfec=1"))
        #expect(try attribute("a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level")
            == .other(name: "extmap", value: "1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"))
        // Attribute names are case-sensitive: this is not a=mid, so no typing.
        #expect(try attribute("a=MID:x y") == .other(name: "MID", value: "x y"))
    }

    @Test("attribute names must be tokens")
    func invalidNames() {
        #expect(attributeError("a=") == invalid(""))
        #expect(attributeError("a=:value") == invalid(""))
        #expect(attributeError("a=two words:value") == invalid("two words"))
    }

    @Test("every typed attribute serializes to the text it was parsed from",
        arguments: [
            "ice-ufrag:B7ly", "ice-pwd:MvUNCIc6p0gs6kOmYoWOmvmO", "ice-options:ice2 trickle", "ice-lite",
            "fingerprint:sha-256 86:E8:39:9D:8C:5D:BC:0A:BF:9F:90:CF:F0:B4:4D:8C:C9:58:ED:F0:A5:DC:64:4B:81:2E:7B:85:37:C7:7B:53",
            "setup:passive", "mid:data", "group:BUNDLE 0 1", "sctp-port:5000", "max-message-size:1073741823",
            "candidate:3849192189 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id 1 network-cost 50",
            "end-of-candidates", "sctpmap:5000 webrtc-datachannel 256", "rtcp-xr:rcvr-rtt=all",
        ])
    func attributeRoundTrip(text: String) throws {
        #expect(try attribute("a=" + text).description == text)
    }
}

@Suite("ice-options separators")
struct ICEOptionsSeparatorTests {
    @Test("comma-separated ice-options (libjuice's form) parse as separate tags and serialize with spaces")
    func commaSeparated() throws {
        let description = try parse("t=0 0", "a=ice-options:ice2,trickle")
        #expect(description.iceOptions == ["ice2", "trickle"])
        #expect(description.serialized().contains("a=ice-options:ice2 trickle\r\n"))
        #expect(parseError(lines: "a=ice-options:,") == SDPParseError(line: 4, reason: .invalidAttribute(name: "ice-options")))
    }
}
