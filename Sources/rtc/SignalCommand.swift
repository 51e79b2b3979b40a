#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Logging
import Signaling
import SignalingServer

/// `rtc signal`: the WebSocket signaling server of docs/signaling.md, with the browser page.
struct SignalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal",
        abstract: "Run the WebSocket signaling server (rooms, relay) and serve the browser page.",
        discussion: """
            Prints 'listening on http://HOST:PORT' once bound (port 0 picks a free port); the \
            page is at /, the WebSocket at /ws, health at /healthz. Runs until SIGINT or SIGTERM. \
            Protocol, limits and admission: docs/signaling.md.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port).")
    var port = 8080

    @Option(help: "Largest message in bytes.")
    var maxMessageBytes = SignalingLimits().maxMessageBytes

    @Option(help: "Sustained messages per second per connection.")
    var rate = SignalingLimits().messagesPerSecond

    @Option(help: "Messages a connection may send at once above the rate.")
    var burst = SignalingLimits().burst

    @Option(help: "Peers per room.")
    var roomSize = SignalingLimits().maxPeersPerRoom

    @Option(help: "Rooms on the server.")
    var maxRooms = SignalingLimits().maxRooms

    @Option(help: "Seconds of silence after which a connection is closed.")
    var idleTimeout = 60.0

    @Option(help: "Messages queued for one connection before it is dropped as a slow consumer.")
    var queue = SignalingLimits().outboundQueueMessages

    @Option(help: "Require this shared secret as the join token.")
    var secret: String?

    @Option(help: "Require join tokens signed with this key (see `rtc signal-token`).")
    var tokenKey: String?

    @Option(help: "An origin whose pages may connect besides the server's own ('*': any). Repeatable.")
    var allowOrigin: [String] = []

    @Option(help: "A directory whose files are served next to the built-in page. Repeatable.")
    var webRoot: [String] = []

    func validate() throws {
        guard secret == nil || tokenKey == nil else { throw ValidationError("--secret and --token-key exclude each other") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
        guard maxMessageBytes >= 1_024, rate > 0, burst > 0, roomSize > 0, maxRooms > 0, idleTimeout > 0, queue > 0 else {
            throw ValidationError("limits must be positive (--max-message-bytes at least 1024)")
        }
    }

    func run() async throws {
        let termination = TerminationSignal()
        var logger = Logger(label: "rtc.signal")
        logger.logLevel = .warning
        let admission: Admission = secret.map(Admission.sharedSecret) ?? tokenKey.map { .signedTokens(key: $0) } ?? .open
        let configuration = SignalingServerConfiguration(
            host: host, port: port,
            limits: SignalingLimits(
                maxMessageBytes: maxMessageBytes, messagesPerSecond: rate, burst: burst, maxPeersPerRoom: roomSize,
                maxRooms: maxRooms, idleTimeout: .milliseconds(Int64(idleTimeout * 1000)), outboundQueueMessages: queue),
            admission: admission, allowedOrigins: allowOrigin,
            staticDirectories: webRoot.map { URL(fileURLWithPath: $0) }, logger: logger)
        let server: SignalingServer
        do {
            server = try await SignalingServer.start(configuration)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        // Scripts wait for this line: unbuffered.
        writeFully(STDOUT_FILENO, "listening on http://\(host.contains(":") ? "[\(host)]" : host):\(server.port)\n")
        await termination.wait()
        await server.stop()
    }
}

/// `rtc signal-token`: a room token for a server started with `--token-key`.
struct SignalTokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "signal-token",
        abstract: "Print a signed join token for a room (docs/signaling.md, Admission)."
    )

    @Option(help: "The server's --token-key.")
    var key: String

    @Option(help: "The room the token admits to.")
    var room: String

    @Option(help: "Seconds until the token expires.")
    var ttl = 3_600

    func validate() throws {
        guard SignalingHub.isValidName(room) else { throw ValidationError("--room: 1 to 64 characters of A-Z a-z 0-9 . _ -") }
        guard ttl > 0 else { throw ValidationError("--ttl must be positive") }
    }

    func run() {
        let expiry = Int64(Date().timeIntervalSince1970) + Int64(ttl)
        print(SignedToken.make(room: room, expiry: expiry, key: key))
    }
}
