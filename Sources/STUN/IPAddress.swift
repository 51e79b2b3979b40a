/// An IPv4 address stored inline as a 32-bit integer (192.0.2.1 is `0xC000_0201`).
public struct IPv4Address: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// The address in host integer form; the most significant byte is the first octet.
    public var rawValue: UInt32

    /// Creates an address from its integer form.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Creates an address from its four octets, first octet first.
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) &<< 24 | UInt32(b) &<< 16 | UInt32(c) &<< 8 | UInt32(d)
    }

    /// Parses strict dotted-decimal text: exactly four decimal octets 0...255 without leading
    /// zeros (RFC 3986 §3.2.2 `dec-octet`), nothing else. Returns `nil` otherwise.
    public init?(_ text: String) {
        guard let value = Self.parse(Array(text.utf8)[...]) else { return nil }
        rawValue = value
    }

    /// Dotted-decimal parser shared with IPv6's embedded-IPv4 form (RFC 4291 §2.2 form 3).
    static func parse(_ text: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var index = text.startIndex
        for part in 0..<4 {
            if part > 0 {
                guard index < text.endIndex, text[index] == UInt8(ascii: ".") else { return nil }
                index += 1
            }
            var octet: UInt32 = 0
            var digitCount = 0
            while index < text.endIndex, text[index] >= UInt8(ascii: "0"), text[index] <= UInt8(ascii: "9") {
                // A leading zero may only stand alone ("0", not "01").
                guard !(digitCount == 1 && octet == 0) else { return nil }
                octet = octet * 10 + UInt32(text[index] - UInt8(ascii: "0"))
                digitCount += 1
                guard octet <= 255 else { return nil }
                index += 1
            }
            guard digitCount > 0 else { return nil }
            value = value &<< 8 | octet
        }
        return index == text.endIndex ? value : nil
    }

    /// Dotted-decimal text, e.g. `"192.0.2.1"`.
    public var description: String {
        "\(rawValue &>> 24).\((rawValue &>> 16) & 0xFF).\((rawValue &>> 8) & 0xFF).\(rawValue & 0xFF)"
    }
}

/// An IPv6 address stored inline as two 64-bit halves (most significant byte first).
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// Bytes 0..<8 of the address, big-endian.
    public var high: UInt64
    /// Bytes 8..<16 of the address, big-endian.
    public var low: UInt64

    /// Creates an address from its two halves.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates an address from its eight 16-bit groups; `nil` unless exactly eight are given.
    public init?(groups: [UInt16]) {
        guard groups.count == 8 else { return nil }
        high = 0
        low = 0
        for (index, group) in groups.enumerated() {
            if index < 4 {
                high = high &<< 16 | UInt64(group)
            } else {
                low = low &<< 16 | UInt64(group)
            }
        }
    }

    /// Parses RFC 4291 §2.2 text: eight groups of 1–4 hex digits, at most one `::` standing for
    /// one or more zero groups, and optionally dotted-decimal IPv4 as the last 32 bits.
    /// Zone identifiers, brackets, prefixes and whitespace are rejected. Returns `nil` when invalid.
    public init?(_ text: String) {
        let utf8 = Array(text.utf8)
        // "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is the longest valid form.
        guard utf8.count <= 45 else { return nil }
        let colon = UInt8(ascii: ":")
        var doubleColon: Int?
        for index in utf8.indices.dropLast() where utf8[index] == colon && utf8[index + 1] == colon {
            guard doubleColon == nil else { return nil }
            doubleColon = index
        }
        let groups: [UInt16]
        if let doubleColon {
            guard let head = Self.parseGroups(utf8[..<doubleColon], allowsIPv4: false),
                  let tail = Self.parseGroups(utf8[(doubleColon + 2)...], allowsIPv4: true),
                  head.count + tail.count <= 7
            else { return nil }
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = Self.parseGroups(utf8[...], allowsIPv4: true) else { return nil }
            groups = all
        }
        self.init(groups: groups)
    }

    /// Parses colon-separated hex groups (and a trailing dotted IPv4 if allowed); empty text is no groups.
    private static func parseGroups(_ text: ArraySlice<UInt8>, allowsIPv4: Bool) -> [UInt16]? {
        guard !text.isEmpty else { return [] }
        var groups: [UInt16] = []
        var fieldStart = text.startIndex
        while groups.count < 8 {
            let fieldEnd = text[fieldStart...].firstIndex(of: UInt8(ascii: ":")) ?? text.endIndex
            let field = text[fieldStart..<fieldEnd]
            if fieldEnd == text.endIndex, allowsIPv4, field.contains(UInt8(ascii: ".")) {
                guard let ipv4 = IPv4Address.parse(field) else { return nil }
                return groups + [UInt16(truncatingIfNeeded: ipv4 &>> 16), UInt16(truncatingIfNeeded: ipv4)]
            }
            guard let group = parseHexGroup(field) else { return nil }
            groups.append(group)
            guard fieldEnd < text.endIndex else { return groups }
            fieldStart = fieldEnd + 1
        }
        return nil
    }

    /// One to four hexadecimal digits.
    private static func parseHexGroup(_ field: ArraySlice<UInt8>) -> UInt16? {
        guard (1...4).contains(field.count) else { return nil }
        var value: UInt16 = 0
        for byte in field {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value &<< 4 | UInt16(digit)
        }
        return value
    }

    /// The 16-bit group at `index` (0...7).
    private func group(at index: Int) -> UInt16 {
        let half = index < 4 ? high : low
        return UInt16(truncatingIfNeeded: half &>> UInt64(48 - 16 * (index & 3)))
    }

    /// Whether this is an IPv4-mapped address `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
    public var isIPv4Mapped: Bool {
        high == 0 && low &>> 32 == 0xFFFF
    }

    /// Canonical RFC 5952 text: lowercase hex without leading zeros (§4.1, §4.3), the longest run
    /// of two or more zero groups — the first if tied — compressed to `::` (§4.2), and
    /// IPv4-mapped addresses in mixed notation `::ffff:192.0.2.1` (§5).
    public var description: String {
        if isIPv4Mapped {
            return "::ffff:" + IPv4Address(rawValue: UInt32(truncatingIfNeeded: low)).description
        }
        var bestStart = 0
        var bestLength = 1  // §4.2.2: a single zero group is not compressed.
        var index = 0
        while index < 8 {
            var end = index
            while end < 8, group(at: end) == 0 {
                end += 1
            }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = max(end, index + 1)
        }
        func hex(_ range: Range<Int>) -> String {
            range.map { String(group(at: $0), radix: 16) }.joined(separator: ":")
        }
        guard bestLength > 1 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}

/// An IPv4 or IPv6 address, stored inline (no heap allocation).
public enum IPAddress: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    /// An IPv4 address.
    case v4(IPv4Address)
    /// An IPv6 address.
    case v6(IPv6Address)

    /// Parses strict dotted-decimal IPv4 or RFC 4291 IPv6 text; `nil` if it is neither.
    public init?(_ text: String) {
        if let v4 = IPv4Address(text) {
            self = .v4(v4)
        } else if let v6 = IPv6Address(text) {
            self = .v6(v6)
        } else {
            return nil
        }
    }

    /// Dotted decimal for IPv4, RFC 5952 canonical text for IPv6.
    public var description: String {
        switch self {
        case .v4(let address): address.description
        case .v6(let address): address.description
        }
    }
}

/// An IP address and port (RFC 8489 §3 "transport address", minus the transport protocol).
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    /// The IP address.
    public var ip: IPAddress
    /// The port.
    public var port: UInt16

    /// Creates a transport address.
    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// `"192.0.2.1:32853"` or `"[2001:db8::1]:32853"`.
    public var description: String {
        switch ip {
        case .v4(let address): "\(address):\(port)"
        case .v6(let address): "[\(address)]:\(port)"
        }
    }

    /// RFC 8489 §14.2: X-Port is the port XOR the cookie's top 16 bits; an IPv4 X-Address is the
    /// address XOR the magic cookie; an IPv6 X-Address is the address XOR cookie ‖ transaction ID.
    /// XOR is an involution, so this both obfuscates and recovers.
    func xored(with transactionID: STUNTransactionID) -> TransportAddress {
        let cookie = STUNMessageView.magicCookie
        let xoredPort = port ^ UInt16(truncatingIfNeeded: cookie &>> 16)
        switch ip {
        case .v4(let address):
            return TransportAddress(ip: .v4(IPv4Address(rawValue: address.rawValue ^ cookie)), port: xoredPort)
        case .v6(let address):
            let high = address.high ^ (UInt64(cookie) &<< 32 | UInt64(transactionID.high))
            return TransportAddress(ip: .v6(IPv6Address(high: high, low: address.low ^ transactionID.low)), port: xoredPort)
        }
    }
}
