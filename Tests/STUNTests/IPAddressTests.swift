import Testing
import TestSupport
@testable import STUN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", 0x0000_0000 as UInt32), ("255.255.255.255", 0xFFFF_FFFF), ("192.0.2.1", 0xC000_0201), ("10.0.100.9", 0x0A00_6409),
    ])
    func validIPv4(text: String, value: UInt32) throws {
        let address = try #require(IPv4Address(text))
        #expect(address.rawValue == value)
        #expect(address.description == text)
        #expect(IPAddress(text) == .v4(address))
    }

    @Test(arguments: [
        "", "1", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.04", "01.2.3.4", "1..2.3", "1.2.3.", ".1.2.3", " 1.2.3.4",
        "1.2.3.4 ", "1.2.3.4/8", "0x1.2.3.4", "1.2.3.-4", "1.2.3.4a", "1111.2.3.4", "١.2.3.4",
    ])
    func invalidIPv4(text: String) {
        #expect(IPv4Address(text) == nil)
    }

    @Test(arguments: [
        // RFC 5952 §4 examples and edge cases: (input, canonical form).
        ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
        ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
        ("2001:db8:0000:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("2001:DB8::ABCD", "2001:db8::abcd"),
        ("2001:db8::0:1", "2001:db8::1"),
        ("0:0:0:0:0:0:0:0", "::"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("1:0:0:0:0:0:0:0", "1::"),
        ("0:0:0:0:0:0:0:1", "::1"),
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8:1234:5678:11:2233:4455:6677", "2001:db8:1234:5678:11:2233:4455:6677"),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
        ("0:0:0:0:0:FFFF:C000:0201", "::ffff:192.0.2.1"),
        ("::ffff:0.0.0.0", "::ffff:0.0.0.0"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("::192.0.2.1", "::c000:201"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("fe80::1:2", "fe80::1:2"),
        ("0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"),
    ])
    func validIPv6(text: String, canonical: String) throws {
        let address = try #require(IPv6Address(text))
        #expect(address.description == canonical)
        #expect(IPv6Address(canonical) == address)
        #expect(IPAddress(text) == .v6(address))
    }

    @Test(arguments: [
        "", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", "::1::", "1:::2", ":1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8:", "12345::", "g::", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "1.2.3.4::", "::1.2.3.4:1",
        "::256.1.1.1", "1:2:3:4:5:6:7:1.2.3.4", "fe80::1%eth0", "[::1]", "::1/128", " ::1", "::1 ", "::01.2.3.4",
        "1:2:3:4:5:6:7:8:1.2.3.4", "0000:0000:0000:0000:0000:0000:0000:0000:0", "::ffff:1.2.3",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555",
    ])
    func invalidIPv6(text: String) {
        #expect(IPv6Address(text) == nil)
        #expect(IPAddress(text) == nil)
    }

    @Test func groupsInitializer() {
        #expect(IPv6Address(groups: [0x2001, 0xDB8, 0, 0, 0, 0, 0, 1]) == IPv6Address(high: 0x2001_0DB8_0000_0000, low: 1))
        #expect(IPv6Address(groups: [1, 2, 3]) == nil)
    }

    @Test func transportAddressDescription() throws {
        #expect(TransportAddress(ip: .v4(IPv4Address(1, 2, 3, 4)), port: 5).description == "1.2.3.4:5")
        #expect(TransportAddress(ip: try #require(IPAddress("2001:db8::1")), port: 443).description == "[2001:db8::1]:443")
    }

    #if canImport(Glibc)
    /// Random addresses (zero-heavy, to exercise `::` placement) against glibc's inet_pton/inet_ntop.
    @Test func randomAddressesAgreeWithGlibc() throws {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<3000 {
            let groups = (0..<8).map { _ in Bool.random(using: &rng) ? 0 : UInt16.random(in: 0...UInt16.max, using: &rng) >> (Int.random(in: 0...15, using: &rng)) }
            let address = try #require(IPv6Address(groups: groups))
            let bytes = groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }

            // Our text parses in glibc to the same bytes.
            var parsed = [UInt8](repeating: 0, count: 16)
            #expect(inet_pton(AF_INET6, address.description, &parsed) == 1)
            #expect(parsed == bytes, "\(address)")

            // glibc's text parses in ours to the same address.
            var text = [CChar](repeating: 0, count: 64)
            #expect(inet_ntop(AF_INET6, bytes, &text, 64) != nil)
            let glibcText = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(IPv6Address(glibcText) == address, "\(glibcText)")
            // Same RFC 5952 text, except glibc's IPv4-compatible "::a.b.c.d" style.
            if groups[0..<6].contains(where: { $0 != 0 }) {
                #expect(glibcText == address.description)
            }
        }
    }
    #endif
}
