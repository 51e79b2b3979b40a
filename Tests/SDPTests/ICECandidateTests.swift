import SDP
import Testing

@Suite("ICE candidates")
struct ICECandidateTests {
    @Test("a Chromium host candidate exposes every field and extension")
    func chromiumHost() throws {
        let text = "candidate:465884777 1 udp 2122260223 127.0.0.1 48446 typ host generation 0 network-id 1 network-cost 50"
        let candidate = try ICECandidate(parsing: text)
        #expect(candidate.foundation == "465884777")
        #expect(candidate.componentID == 1)
        #expect(candidate.transport == .udp)
        #expect(candidate.priority == 2_122_260_223)
        #expect(candidate.address == "127.0.0.1")
        #expect(candidate.port == 48446)
        #expect(candidate.kind == .host)
        #expect(candidate.relatedAddress == nil)
        #expect(candidate.relatedPort == nil)
        #expect(candidate.tcpType == nil)
        #expect(candidate.generation == 0)
        #expect(candidate.networkID == 1)
        #expect(candidate.networkCost == 50)
        #expect(candidate.ufrag == nil)
        #expect(!candidate.isMDNS)
        #expect(candidate.candidateString == text)
        #expect(candidate.description == text)
    }

    @Test("a TCP candidate's tcptype keeps its position among the extensions")
    func tcpType() throws {
        let value = "3849192189 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id 1"
        let candidate = try ICECandidate(parsing: value)
        #expect(candidate.transport == .tcp)
        #expect(candidate.tcpType == .active)
        #expect(candidate.extensions.map(\.name) == ["tcptype", "generation", "network-id"])
        #expect(candidate.attributeValue == value)
        for type in ICECandidate.TCPType.allCases {
            #expect(try ICECandidate(parsing: "1 1 TCP 1 192.0.2.1 9 typ host tcptype \(type.rawValue)").tcpType == type)
        }
    }

    @Test("reflexive and relayed candidates carry raddr and rport")
    func relatedAddress() throws {
        let srflx = try ICECandidate(
            parsing: "candidate:842163049 1 udp 1677729535 203.0.113.7 51234 typ srflx raddr 192.168.1.20 rport 51234 generation 0 ufrag abcd network-cost 999")
        #expect(srflx.kind == .serverReflexive)
        #expect(srflx.relatedAddress == "192.168.1.20")
        #expect(srflx.relatedPort == 51234)
        #expect(srflx.ufrag == "abcd")
        #expect(srflx.networkCost == 999)
        let relay = try ICECandidate(parsing: "candidate:5 1 udp 41885695 198.51.100.2 3478 typ relay raddr 0.0.0.0 rport 0")
        #expect(relay.kind == .relay)
        #expect(relay.relatedAddress == "0.0.0.0")
        #expect(relay.relatedPort == 0)
        #expect(relay.extensions.isEmpty)
        #expect(try ICECandidate(parsing: "1 1 udp 1 192.0.2.1 9 typ prflx").kind == .peerReflexive)
        #expect(try ICECandidate(parsing: "1 1 udp 1 192.0.2.1 9 typ raddr-only rport 9").relatedPort == 9)
    }

    @Test("IPv6 and mDNS addresses are accepted")
    func addresses() throws {
        let ipv6 = try ICECandidate(parsing: "candidate:3 1 udp 2113939711 2001:db8::1 51236 typ host generation 0")
        #expect(ipv6.address == "2001:db8::1")
        #expect(!ipv6.isMDNS)
        let zoned = try ICECandidate(parsing: "candidate:3 1 udp 1 fe80::1%eth0 51236 typ host")
        #expect(zoned.address == "fe80::1%eth0")
        let mdns = try ICECandidate(
            parsing: "candidate:2 1 udp 2113937151 0b5f6ed0-2d4e-4a77-9f5e-c4e6b4ac9a2e.local 51234 typ host generation 0")
        #expect(mdns.address == "0b5f6ed0-2d4e-4a77-9f5e-c4e6b4ac9a2e.local")
        #expect(mdns.isMDNS)
        #expect(try ICECandidate(parsing: "1 1 udp 1 HOST.LOCAL 9 typ host").isMDNS)
        #expect(try !ICECandidate(parsing: "1 1 udp 1 local 9 typ host").isMDNS)
    }

    @Test("the a= and candidate: prefixes are both optional")
    func prefixes() throws {
        let value = "1 1 udp 2122260223 192.0.2.1 50000 typ host"
        let expected = try ICECandidate(parsing: value)
        #expect(try ICECandidate(parsing: "candidate:" + value) == expected)
        #expect(try ICECandidate(parsing: "a=candidate:" + value) == expected)
        #expect(expected.attributeValue == value)
    }

    @Test("upper-case keywords are accepted; the transport keeps its spelling")
    func letterCase() throws {
        let firefox = try ICECandidate(parsing: "candidate:0 1 UDP 2122252543 192.0.2.10 54321 TYP HOST")
        #expect(firefox.transport == .udp)
        #expect(firefox.transport.name == "UDP")
        #expect(firefox.kind == .host)
        #expect(firefox.attributeValue == "0 1 UDP 2122252543 192.0.2.10 54321 typ host")
        #expect(Set([ICECandidate.Transport("UDP"), .udp, ICECandidate.Transport("Udp")]).count == 1)
        #expect(ICECandidate.Transport("sctp") != .udp)
        #expect(ICECandidate.Kind(name: "SrFlx") == .serverReflexive)
        #expect(ICECandidate.Kind(name: "Custom") == .other("custom"))
    }

    @Test("aiortc's 32-character foundations are accepted, 33 are not")
    func foundationLength() throws {
        let aiortc = "candidate:16572de626da4e5384a0ce2d0d93678a 1 udp 2130706431 127.0.0.1 42897 typ host"
        #expect(try ICECandidate(parsing: aiortc).foundation.count == 32)
        #expect(candidateError("candidate:16572de626da4e5384a0ce2d0d93678ab 1 udp 1 127.0.0.1 1 typ host")
            == .invalidFoundation)
    }

    @Test("component IDs and priorities are range-checked")
    func numericRanges() throws {
        #expect(try ICECandidate(parsing: "1 256 udp 4294967295 192.0.2.1 65535 typ host").componentID == 256)
        #expect(try ICECandidate(parsing: "1 2 udp 0 192.0.2.1 0 typ host").priority == 0)
    }

    @Test("each grammar violation has its own reason",
        arguments: [
            ("", CandidateParseError.Reason.empty),
            ("candidate:", .empty),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ\thost", .invalidCharacter),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ host\r\n", .invalidCharacter),
            ("candidate:1 1 udp 1 hôte.local 9 typ host", .invalidCharacter),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ", .missingFields),
            ("candidate:f_o 1 udp 1 192.0.2.1 9 typ host", .invalidFoundation),
            ("candidate:1 0 udp 1 192.0.2.1 9 typ host", .invalidComponentID),
            ("candidate:1 257 udp 1 192.0.2.1 9 typ host", .invalidComponentID),
            ("candidate:1 x udp 1 192.0.2.1 9 typ host", .invalidComponentID),
            ("candidate:1 1 u@p 1 192.0.2.1 9 typ host", .invalidTransport),
            ("candidate:1 1 udp 4294967296 192.0.2.1 9 typ host", .invalidPriority),
            ("candidate:1 1 udp -1 192.0.2.1 9 typ host", .invalidPriority),
            ("candidate:1 1 udp 1 192.0.2.1/24 9 typ host", .invalidAddress),
            ("candidate:1 1 udp 1 [::1] 9 typ host", .invalidAddress),
            ("candidate:1 1 udp 1 192.0.2.1 65536 typ host", .invalidPort),
            ("candidate:1 1 udp 1 192.0.2.1 9 type host", .missingType),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ ho@st", .invalidType),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1/8 rport 9", .invalidRelatedAddress),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ srflx raddr 10.0.0.1 rport x", .invalidRelatedPort),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ host generation", .unpairedExtension),
            ("candidate:1 1 udp 1 192.0.2.1 9 typ host gener@tion 0", .invalidExtensionName),
            ("candidate:1 1 tcp 1 192.0.2.1 9 typ host tcptype client", .invalidTCPType),
        ])
    func invalid(text: String, reason: CandidateParseError.Reason) {
        #expect(candidateError(text) == reason)
    }

    @Test("an invalid a=candidate line fails the description, naming line and reason")
    func invalidInDescription() {
        let error = parseError(lines: "t=0 0", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
            "a=candidate:1 1 udp 1 192.0.2.1 99999 typ host")
        #expect(error == SDPParseError(line: 6, reason: .invalidCandidate(.invalidPort)))
        #expect(error?.description == "line 6: malformed a=candidate attribute: invalid port")
        #expect(parseError(lines: "a=candidate") == SDPParseError(line: 4, reason: .invalidAttribute(name: "candidate")))
    }

    @Test("candidates built in code serialize in RFC 8839 field order")
    func builtInCode() throws {
        let candidate = ICECandidate(
            foundation: "7", componentID: 1, transport: .tcp, priority: 1_518_280_447, address: "192.0.2.3",
            port: 9, kind: .serverReflexive, relatedAddress: "10.0.0.3", relatedPort: 40000,
            extensions: [.init(name: "tcptype", value: "passive"), .init(name: "generation", value: "1")])
        #expect(candidate.candidateString
            == "candidate:7 1 tcp 1518280447 192.0.2.3 9 typ srflx raddr 10.0.0.3 rport 40000 tcptype passive generation 1")
        #expect(try ICECandidate(parsing: candidate.candidateString) == candidate)
        #expect(candidate.tcpType == .passive)
        #expect(candidate.generation == 1)
        #expect(candidate.extensionValue(named: "missing") == nil)
    }
}
