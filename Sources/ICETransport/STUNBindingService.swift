import Logging
import NIOCore
import NIOPosix
import STUN

/// A ``STUNBindingServer`` on a real UDP socket (SwiftNIO), for tests and `rtc stun-server`.
///
/// Every datagram is answered (or ignored) on the socket's event loop; the responses of one
/// `recvmmsg` batch go out with one flush (`sendmmsg`).
public final class STUNBindingService: Sendable {
    /// The bound socket: address (with the port the kernel chose for port 0) and buffer sizes.
    public let socket: UDPSocketInfo
    private let channel: any Channel
    private let responder: NIOLoopBound<Responder>

    private init(socket: UDPSocket, responder: NIOLoopBound<Responder>) {
        self.socket = socket.info
        self.channel = socket.channel
        self.responder = responder
    }

    /// Binds a UDP socket to `address` on one of `group`'s event loops and starts answering.
    ///
    /// - Parameters:
    ///   - address: Where to listen; port 0 picks an ephemeral port (see ``socket``).
    ///   - software: The SOFTWARE attribute of the responses, or `nil` for none.
    ///   - logEvery: Log one line each time this many more requests have been answered; `nil` logs nothing.
    ///   - logger: Where those lines go.
    public static func start(
        listeningOn address: TransportAddress,
        group: any EventLoopGroup,
        software: String? = "swift-webrtc",
        options: UDPSocketOptions = .default,
        logEvery: Int? = nil,
        logger: Logger = Logger(label: "ICETransport.STUNBindingService")
    ) async throws -> STUNBindingService {
        let eventLoop = group.next()
        let responder = try await eventLoop.submit {
            NIOLoopBound(Responder(server: STUNBindingServer(software: software), logEvery: logEvery, logger: logger), eventLoop: eventLoop)
        }.get()
        let socket = try await UDPSocket.bind(
            to: SocketAddress(address), on: eventLoop, options: options,
            receiver: responder)
        return STUNBindingService(socket: socket, responder: responder)
    }

    /// The server's counters so far.
    public func statistics() async throws -> STUNBindingServer.Statistics {
        try await channel.eventLoop.submit { [responder] in responder.value.server.statistics }.get()
    }

    /// Closes the socket. Idempotent.
    public func close() async {
        try? await channel.close()
    }
}

/// The loop-confined state of a ``STUNBindingService``.
private final class Responder: DatagramReceiver {
    var server: STUNBindingServer
    private let logEvery: Int?
    private let logger: Logger
    /// The socket written to since the last flush.
    private var unflushed: (any Channel)?

    init(server: STUNBindingServer, logEvery: Int?, logger: Logger) {
        self.server = server
        self.logEvery = logEvery.map { max(1, $0) }
        self.logger = logger
    }

    func receive(_ datagram: AddressedEnvelope<ByteBuffer>, on channel: any Channel, localAddress: TransportAddress) {
        guard let source = TransportAddress(datagram.remoteAddress) else { return }
        let response = datagram.data.withUnsafeReadableBytes { server.respond(to: $0, from: source) }
        guard let response else { return }
        channel.write(AddressedEnvelope(remoteAddress: datagram.remoteAddress, data: channel.allocator.buffer(bytes: response)), promise: nil)
        unflushed = channel
        let answered = server.statistics.bindingRequestsAnswered
        if let logEvery, answered % logEvery == 0 {
            logger.info("answered \(answered) binding requests, ignored \(server.statistics.ignored) packets")
        }
    }

    func readComplete() {
        unflushed?.flush()
        unflushed = nil
    }

    func socketError(_ error: any Error) {
        logger.debug("socket error: \(error)")
    }
}
