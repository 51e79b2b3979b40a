#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import STUN

/// Which local addresses become host candidates (RFC 8445 §5.1.1.1), one UDP socket each.
public enum ICEHostAddressPolicy: Sendable, Hashable {
    /// Every address of every interface that is up, except loopback addresses (RFC 8445
    /// §5.1.1.1: loopback addresses are not included), with the families chosen; IPv6 link-local
    /// addresses (fe80::/10) only when `linkLocalIPv6` is set.
    case automatic(ipv4: Bool = true, ipv6: Bool = true, linkLocalIPv6: Bool = false)
    /// The loopback addresses the kernel reports (127.0.0.1 and ::1): for tests and local demos.
    case loopback
    /// Exactly these addresses; starting fails with ``ICETransportError/addressNotLocal(_:)`` if
    /// one is not an address of an interface that is up.
    case addresses([IPAddress])

    /// A local address to bind, with the interface index an IPv6 link-local address needs.
    struct Binding: Hashable {
        var address: TransportAddress
        var scopeID: UInt32
    }

    /// The local addresses this policy selects now, in interface order: what an
    /// ``ICETransport`` started with it would bind (tools use it to fall back to ``loopback``
    /// on a host with no other interface up).
    public func addresses() throws -> [IPAddress] {
        try bindings().map(\.address.ip)
    }

    /// The addresses to bind (port 0), without duplicates, in interface order.
    ///
    /// Interfaces come from the kernel (`getifaddrs` through NIO's `System.enumerateDevices()`),
    /// never from `/sys/class/net`, which a network namespace does not virtualise.
    func bindings() throws -> [Binding] {
        let upInterfaces = try Self.interfacesUp()
        var bindings: [Binding] = []
        for device in try System.enumerateDevices() where upInterfaces.contains(device.name) {
            guard let socketAddress = device.address, let address = TransportAddress(socketAddress) else { continue }
            guard admits(address.ip) else { continue }
            let scopeID = address.ip.isLinkLocalIPv6 ? UInt32(clamping: device.interfaceIndex) : 0
            bindings.append(Binding(address: TransportAddress(ip: address.ip, port: 0), scopeID: scopeID))
        }
        if case .addresses(let addresses) = self,
           let missing = addresses.first(where: { ip in !bindings.contains { $0.address.ip == ip } }) {
            throw ICETransportError.addressNotLocal(missing)
        }
        return unique(bindings)
    }

    private func admits(_ ip: IPAddress) -> Bool {
        switch self {
        case .loopback:
            return ip.isLoopback
        case .automatic(let ipv4, let ipv6, let linkLocalIPv6):
            guard !ip.isLoopback else { return false }
            switch ip {
            case .v4: return ipv4
            case .v6: return ipv6 && (linkLocalIPv6 || !ip.isLinkLocalIPv6)
            }
        case .addresses(let addresses):
            return addresses.contains(ip)
        }
    }

    private func unique(_ bindings: [Binding]) -> [Binding] {
        var seen = Set<TransportAddress>()
        return bindings.filter { seen.insert($0.address).inserted }
    }

    /// Names of the interfaces flagged `IFF_UP`. NIO's `NIONetworkDevice` carries no flags, and an
    /// administratively down interface keeps its IPv4 addresses, so they are read here.
    private static func interfacesUp() throws -> Set<String> {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else {
            throw IOError(errnoCode: errno, reason: "getifaddrs")
        }
        defer { freeifaddrs(list) }
        var names = Set<String>()
        var entry = list
        while let current = entry {
            if current.pointee.ifa_flags & UInt32(IFF_UP) != 0, let name = current.pointee.ifa_name {
                names.insert(String(cString: name))
            }
            entry = current.pointee.ifa_next
        }
        return names
    }
}
