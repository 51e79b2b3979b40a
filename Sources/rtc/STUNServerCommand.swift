#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Dispatch
import ICETransport
import NIOCore
import NIOPosix
import STUN

/// `rtc stun-server`: a STUN binding server (RFC 8489) on UDP, until SIGINT or SIGTERM.
struct STUNServerCommand: AsyncParsableCommand {
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

    func run() async throws {
        // Signals are taken over before anything listens, so SIGINT/SIGTERM always end the
        // server cleanly, whichever thread the kernel delivers them to.
        let termination = TerminationSignal()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var services: [STUNBindingService] = []
        for address in listen {
            let service = try failing { () throws(ServerError) in
                try start(address.value, group: group)
            }
            services.append(service)
            // Scripts wait for this line: unbuffered.
            writeFully(STDOUT_FILENO, "listening on \(service.socket.localAddress)\n")
        }
        await termination.wait()
        for service in services {
            await service.close()
        }
        try await group.shutdownGracefully()
    }

    private func start(_ address: TransportAddress, group: MultiThreadedEventLoopGroup) throws(ServerError) -> STUNBindingService {
        let software = software.isEmpty ? nil : software
        let logEvery = logEvery
        do {
            // Binding is quick and happens once: waiting for it here keeps the error typed.
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

/// SIGINT and SIGTERM, taken over from their default action (which ends the process at once)
/// and turned into something to await.
final class TerminationSignal {
    private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Void>

    init() {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self)
        self.stream = stream
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield() }
            source.resume()
            return source
        }
    }

    /// Returns at the first SIGINT or SIGTERM.
    func wait() async {
        for await _ in stream { return }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
