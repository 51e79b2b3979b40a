#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import STUN

extension TransportAddress {
    /// The IP address and port of an IPv4 or IPv6 NIO socket address; `nil` for any other family.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) stays IPv6: the sockets this
    /// module opens are bound to one family each, so the kernel never reports one.
    public init?(_ socketAddress: SocketAddress) {
        switch socketAddress {
        case .v4(let address):
            let raw = address.address
            self.init(
                ip: .v4(IPv4Address(rawValue: UInt32(bigEndian: raw.sin_addr.s_addr))),
                port: UInt16(bigEndian: raw.sin_port))
        case .v6(let address):
            let raw = address.address
            let (high, low) = withUnsafeBytes(of: raw.sin6_addr) { bytes in
                (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self.init(
                ip: .v6(IPv6Address(high: UInt64(bigEndian: high), low: UInt64(bigEndian: low))),
                port: UInt16(bigEndian: raw.sin6_port))
        default:
            return nil
        }
    }
}

extension SocketAddress {
    /// The NIO socket address of `address`, built from a `sockaddr_in`/`sockaddr_in6` directly
    /// (no text formatting or parsing, which matters on the per-datagram send path).
    ///
    /// `scopeID` is the interface index an IPv6 link-local address needs (RFC 4007 §6); it is
    /// ignored for IPv4.
    public init(_ address: TransportAddress, scopeID: UInt32 = 0) {
        switch address.ip {
        case .v4(let ip):
            var raw = sockaddr_in()
            #if canImport(Darwin)
            raw.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
            #endif
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = address.port.bigEndian
            raw.sin_addr.s_addr = ip.rawValue.bigEndian
            self.init(raw, host: "")
        case .v6(let ip):
            var raw = sockaddr_in6()
            #if canImport(Darwin)
            raw.sin6_len = UInt8(MemoryLayout<sockaddr_in6>.size)
            #endif
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = address.port.bigEndian
            raw.sin6_scope_id = scopeID
            withUnsafeMutableBytes(of: &raw.sin6_addr) { bytes in
                bytes.storeBytes(of: ip.high.bigEndian, toByteOffset: 0, as: UInt64.self)
                bytes.storeBytes(of: ip.low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            self.init(raw, host: "")
        }
    }
}

extension IPAddress {
    /// Whether this is a loopback address: 127.0.0.0/8 (RFC 1122 §3.2.1.3) or `::1` (RFC 4291 §2.5.3).
    public var isLoopback: Bool {
        switch self {
        case .v4(let address): address.rawValue &>> 24 == 127
        case .v6(let address): address.high == 0 && address.low == 1
        }
    }

    /// Whether this is an IPv6 link-local unicast address, fe80::/10 (RFC 4291 §2.5.6).
    public var isLinkLocalIPv6: Bool {
        switch self {
        case .v4: false
        case .v6(let address): address.high &>> 54 == 0x3FA
        }
    }
}
