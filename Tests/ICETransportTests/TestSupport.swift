import Foundation
import NIOCore
import NIOPosix
import STUN
import Testing

/// The test process's event loop group: two threads (the machine has two cores).
let testGroup = MultiThreadedEventLoopGroup.singleton

/// 127.0.0.1 with `port`.
func loopbackV4(port: UInt16 = 0) -> TransportAddress {
    TransportAddress(ip: .v4(IPv4Address(127, 0, 0, 1)), port: port)
}

/// ::1 with `port`.
func loopbackV6(port: UInt16 = 0) -> TransportAddress {
    TransportAddress(ip: .v6(IPv6Address(high: 0, low: 1)), port: port)
}

/// Thrown when a bounded wait runs out.
struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// A thread-safe queue that producers on any thread fill synchronously (in order) and a test
/// drains with a bounded wait. (An `AsyncStream` would not do: cancelling a timed-out `next()`
/// terminates the stream.)
final class Mailbox<Element: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var elements: [Element] = []
    private let capacity: Int

    /// A mailbox keeping at most `capacity` elements (newer ones are dropped beyond it).
    init(capacity: Int = 4096) {
        self.capacity = capacity
    }

    func put(_ element: Element) {
        lock.withLock {
            if elements.count < capacity { elements.append(element) }
        }
    }

    /// The oldest element, polling every 2 ms for at most `seconds`.
    func take(within seconds: Double, _ what: String) async throws -> Element {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let element: Element? = lock.withLock { elements.isEmpty ? nil : elements.removeFirst() }
            if let element { return element }
            guard ContinuousClock.now < deadline else { throw TimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}

/// A plain UDP socket for tests: sends bytes anywhere and collects what it receives.
final class UDPTestClient: Sendable {
    let channel: any Channel
    let localAddress: TransportAddress
    private let received = Mailbox<AddressedEnvelope<ByteBuffer>>()

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        let mailbox: Mailbox<AddressedEnvelope<ByteBuffer>>
        init(_ mailbox: Mailbox<AddressedEnvelope<ByteBuffer>>) {
            self.mailbox = mailbox
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            mailbox.put(unwrapInboundIn(data))
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    }

    /// Binds to `address` (port 0 for an ephemeral port).
    init(bindingTo address: TransportAddress = loopbackV4()) async throws {
        let collector = Collector(received)
        channel = try await DatagramBootstrap(group: testGroup)
            .channelInitializer { $0.pipeline.addHandler(collector) }
            .bind(to: SocketAddress(address))
            .get()
        guard let local = channel.localAddress.flatMap(TransportAddress.init) else {
            throw TimedOut(what: "a local address")
        }
        localAddress = local
    }

    /// Sends one datagram (flushed at once).
    func send(_ bytes: [UInt8], to destination: TransportAddress) async throws {
        let envelope = AddressedEnvelope(remoteAddress: SocketAddress(destination), data: ByteBuffer(bytes: bytes))
        try await channel.writeAndFlush(envelope).get()
    }

    /// Queues several datagrams and flushes once.
    func sendBatch(_ datagrams: [[UInt8]], to destination: TransportAddress) {
        for bytes in datagrams {
            channel.write(AddressedEnvelope(remoteAddress: SocketAddress(destination), data: ByteBuffer(bytes: bytes)), promise: nil)
        }
        channel.flush()
    }

    /// The next datagram received, waiting at most `seconds`.
    func receive(within seconds: Double = 5) async throws -> AddressedEnvelope<ByteBuffer> {
        try await received.take(within: seconds, "a datagram")
    }

    func close() async {
        try? await channel.close()
    }

    /// Runs `body` with a client bound to `address` and closes the client afterwards, whether
    /// `body` returns or throws.
    static func with<T>(bindingTo address: TransportAddress = loopbackV4(), _ body: (UDPTestClient) async throws -> T) async throws -> T {
        let client = try await UDPTestClient(bindingTo: address)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}

extension ByteBuffer {
    /// The readable bytes as an array.
    var bytes: [UInt8] { Array(readableBytesView) }
}
