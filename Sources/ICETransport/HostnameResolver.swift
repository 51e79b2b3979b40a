#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import STUN

/// Looks up the mDNS `.local` names (RFC 6762) that browsers put in candidates to hide local
/// addresses, through the system resolver: `getaddrinfo` answers them when the system has an
/// mDNS resolver (nss-mdns on Linux, built in on macOS) and fails quickly otherwise.
enum HostnameResolver {
    /// Whether `name` is worth a lookup: a DNS name of at most 253 bytes whose labels are 1–63
    /// letters, digits and hyphens, ending in `.local` (RFC 6762 §3). Only such names are looked
    /// up, so a remote peer cannot make us send unicast DNS queries for names of its choosing.
    static func isMDNSName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count <= 253 else { return false }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2, let last = labels.last,
              String(decoding: last, as: UTF8.self).lowercased() == "local"
        else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.count) && label.allSatisfy { byte in
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
            }
        }
    }

    /// The addresses `getaddrinfo` returns for `name`, in its order, without duplicates; empty
    /// on failure. Blocks: call it on a thread pool.
    static func lookup(_ name: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(name, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var addresses: [IPAddress] = []
        var entry = list
        while let current = entry {
            entry = current.pointee.ai_next
            guard let raw = current.pointee.ai_addr else { continue }
            let socketAddress: SocketAddress
            switch current.pointee.ai_family {
            case AF_INET:
                socketAddress = SocketAddress(raw.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }, host: name)
            case AF_INET6:
                socketAddress = SocketAddress(raw.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }, host: name)
            default:
                continue
            }
            if let ip = TransportAddress(socketAddress)?.ip, !addresses.contains(ip) {
                addresses.append(ip)
            }
        }
        return addresses
    }
}

extension TimeAmount {
    /// `duration` in nanoseconds, saturating; negative durations become zero.
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else {
            self = .zero
            return
        }
        let (whole, multiplyOverflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, addOverflow) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        self = .nanoseconds(multiplyOverflow || addOverflow ? .max : total)
    }
}
