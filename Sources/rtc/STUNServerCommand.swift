#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import ICETransport
import NIOCore
import NIOPosix
import STUN

/// `rtc stun-server`: a STUN binding server (RFC 8489) on UDP, until SIGINT or SIGTERM.
struct STUNServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stun-server",
        abstract: "Answer STUN binding requests (RFC 8489) on UDP until SIGINT or SIGTERM.",
        discussion: """
            Prints 'listening on ADDRESS' for each socket once it is bound (port 0 picks a free \
            port). Answers Binding requests with XOR-MAPPED-ADDRESS and FINGERPRINT; ignores \
            everything else.
            """
    )

    @Option(help: "An address to listen on, such as 127.0.0.1:3478 or [::1]:3478. Repeatable.")
    var listen: [ListenAddress] = [ListenAddress(TransportAddress(ip: .v4(IPv4Address(127, 0, 0, 1)), port: 3478))]

    @Option(help: "Log one line each time this many more requests have been answered.")
    var logEvery: Int?

    @Option(help: "The SOFTWARE attribute of responses; empty for none.")
    var software = "swift-webrtc rtc stun-server"

    func run() throws {
        // Block the signals before any thread starts so every thread inherits the mask and only
        // `sigwait` below receives them.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        var services: [STUNBindingService] = []
        for address in listen {
            let service = try failing { () throws(ServerError) in
                try start(address.value, group: group)
            }
            services.append(service)
            print("listening on \(service.socket.localAddress)")
            fflush(nil)  // all output streams: scripts wait for this line
        }
        var received: Int32 = 0
        sigwait(&signals, &received)
        for service in services {
            let loop = group.next()
            try? loop.makeFutureWithTask { await service.close() }.wait()
        }
    }

    private func start(_ address: TransportAddress, group: MultiThreadedEventLoopGroup) throws(ServerError) -> STUNBindingService {
        let software = software.isEmpty ? nil : software
        let logEvery = logEvery
        do {
            return try group.next().makeFutureWithTask {
                try await STUNBindingService.start(listeningOn: address, group: group, software: software, logEvery: logEvery)
            }.wait()
        } catch {
            throw ServerError(description: "cannot listen on \(address): \(error)")
        }
    }
}

/// Why the server could not start.
private struct ServerError: Error, CustomStringConvertible {
    let description: String
}

/// An `IPv4:port` or `[IPv6]:port` command-line argument.
struct ListenAddress: ExpressibleByArgument {
    let value: TransportAddress

    init(_ value: TransportAddress) {
        self.value = value
    }

    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let port = UInt16(argument[argument.index(after: colon)...]) else {
            return nil
        }
        var host = argument[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            guard let ip = IPv6Address(String(host)) else { return nil }
            value = TransportAddress(ip: .v6(ip), port: port)
        } else {
            guard let ip = IPv4Address(String(host)) else { return nil }
            value = TransportAddress(ip: .v4(ip), port: port)
        }
    }

    var defaultValueDescription: String { value.description }
}
