import ICETransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import STUN

/// One configured ICE server URL, as far as this stack can use it.
enum ICEServerURL: Hashable {
    /// `stun:host[:port]` (RFC 7064 §3.1; 3478 by default).
    case stun(host: String, port: UInt16)
    /// Anything else: `turn:`, `turns:`, `stuns:` (no TURN or TLS support yet) or malformed.
    case unsupported(String)

    /// The default STUN port (RFC 8489 §9).
    static let defaultPort: UInt16 = 3478

    /// Classifies `url`. The host may be a name, an IPv4 literal or a bracketed IPv6 literal.
    init(_ url: String) {
        let lowered = url.lowercased()
        guard lowered.hasPrefix("stun:") else {
            self = .unsupported(url)
            return
        }
        var rest = Substring(url.dropFirst("stun:".count))
        let host: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                self = .unsupported(url)
                return
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            rest = rest[rest.index(after: close)...]
        } else {
            let colon = rest.firstIndex(of: ":") ?? rest.endIndex
            host = rest[..<colon]
            rest = rest[colon...]
        }
        var port = Self.defaultPort
        if rest.hasPrefix(":") {
            guard let parsed = UInt16(rest.dropFirst()), parsed != 0 else {
                self = .unsupported(url)
                return
            }
            port = parsed
        } else if !rest.isEmpty {
            self = .unsupported(url)
            return
        }
        self = host.isEmpty ? .unsupported(url) : .stun(host: String(host), port: port)
    }

    /// The STUN server addresses of `servers`, and the URLs that cannot be used. IP literals are
    /// used as they are; host names are resolved with `getaddrinfo` on NIO's thread pool, each
    /// bounded by `timeout` (a name not resolved in time counts as unusable).
    static func resolve(
        _ servers: [ICEServer], timeout: Duration, on eventLoop: any EventLoop
    ) async -> (addresses: [TransportAddress], unusable: [String]) {
        var addresses: [TransportAddress] = []
        var unusable: [String] = []
        for url in servers.flatMap(\.urls) {
            guard case let .stun(host, port) = ICEServerURL(url) else {
                unusable.append(url)
                continue
            }
            if let ip = IPAddress(host) {
                addresses.append(TransportAddress(ip: ip, port: port))
            } else if let resolved = try? await lookup(host, port: port, timeout: timeout, on: eventLoop).get() {
                addresses.append(resolved)
            } else {
                unusable.append(url)
            }
        }
        return (addresses, unusable)
    }

    /// Resolves `host` on the thread pool; the future fails after `timeout` if no answer came.
    private static func lookup(_ host: String, port: UInt16, timeout: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<TransportAddress> {
        let promise = eventLoop.makePromise(of: TransportAddress.self)
        // Whichever of the answer and the timeout comes first completes the promise, once.
        let completed = NIOLockedValueBox(false)
        let complete: @Sendable (Result<TransportAddress, any Error>) -> Void = { result in
            guard completed.withLockedValue({ done in defer { done = true }; return !done }) else { return }
            promise.completeWith(result)
        }
        let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
            complete(.failure(ICEServerUnresolvable()))
        }
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { () throws -> TransportAddress in
            let address = try SocketAddress.makeAddressResolvingHost(host, port: Int(port))
            guard let transportAddress = TransportAddress(address) else { throw ICEServerUnresolvable() }
            return transportAddress
        }.whenComplete { result in
            timer.cancel()
            complete(result)
        }
        return promise.futureResult
    }
}

/// A STUN server's name did not resolve to an IP address in time.
struct ICEServerUnresolvable: Error {}
