import NIOCore
import NIOPosix
import STUN

/// Options applied to every UDP socket this module opens.
public struct UDPSocketOptions: Sendable, Hashable {
    /// Requested `SO_RCVBUF` in bytes. The kernel caps it (`net.core.rmem_max` on Linux, which a
    /// network namespace cannot raise); the value obtained is reported in statistics. Large
    /// buffers absorb bursts that the default (~208 KiB on Linux) drops.
    public var receiveBufferSize: Int
    /// Requested `SO_SNDBUF` in bytes, capped like ``receiveBufferSize``.
    public var sendBufferSize: Int
    /// How many datagrams one `recvmmsg` call may read (Linux; other systems read one at a time).
    public var vectorReadMessageCount: Int
    /// The largest datagram received whole; a longer one is truncated by the kernel and then fails
    /// STUN or DTLS validation. 2048 bytes covers every datagram of a 1500-byte-MTU path.
    public var maximumDatagramSize: Int

    /// Creates options.
    public init(
        receiveBufferSize: Int = 4 << 20, sendBufferSize: Int = 4 << 20,
        vectorReadMessageCount: Int = 32, maximumDatagramSize: Int = 2048
    ) {
        self.receiveBufferSize = receiveBufferSize
        self.sendBufferSize = sendBufferSize
        self.vectorReadMessageCount = vectorReadMessageCount
        self.maximumDatagramSize = maximumDatagramSize
    }

    /// 4 MiB buffers, 32 datagrams a read, 2048-byte datagrams.
    public static let `default` = UDPSocketOptions()
}

/// Facts about one bound UDP socket.
public struct UDPSocketInfo: Sendable, Hashable {
    /// The address the socket is bound to (with the ephemeral port the kernel chose).
    public var localAddress: TransportAddress
    /// `SO_RCVBUF` as `getsockopt` reports it after the request (Linux reports twice the usable
    /// size, capped by `net.core.rmem_max`).
    public var receiveBufferSize: Int
    /// `SO_SNDBUF` as `getsockopt` reports it after the request.
    public var sendBufferSize: Int
}

/// Who receives the datagrams of a socket. Called on the socket's event loop only.
protocol DatagramReceiver: AnyObject {
    /// One datagram arrived on the socket bound to `localAddress`.
    func receive(_ datagram: AddressedEnvelope<ByteBuffer>, on channel: Channel, localAddress: TransportAddress)
    /// The current batch of reads (one `recvmmsg` round) is over: a good moment to flush writes.
    func readComplete()
    /// The socket reported an error (for example ICMP port unreachable surfacing as
    /// `ECONNREFUSED`); UDP sockets stay open.
    func socketError(_ error: any Error)
}

/// Forwards a socket's pipeline events to its ``DatagramReceiver``. Installed before the socket
/// is bound, so no datagram reaches the pipeline without it.
private final class DatagramReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let receiver: any DatagramReceiver
    /// Known once the socket is bound (``channelActive(context:)``), before any read.
    private var localAddress: TransportAddress?

    init(receiver: any DatagramReceiver) {
        self.receiver = receiver
    }

    func channelActive(context: ChannelHandlerContext) {
        localAddress = context.channel.localAddress.flatMap(TransportAddress.init)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let localAddress else { return }
        receiver.receive(unwrapInboundIn(data), on: context.channel, localAddress: localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        receiver.readComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        receiver.socketError(error)
    }
}

/// A bound UDP socket: its channel and what the kernel granted.
struct UDPSocket: Sendable {
    let channel: Channel
    let info: UDPSocketInfo

    /// Binds a UDP socket on `eventLoop` to `address` (port 0 for an ephemeral port) with
    /// `options`, then attaches `receiver`, which must be confined to `eventLoop`.
    static func bind<Receiver: DatagramReceiver>(
        to address: SocketAddress,
        on eventLoop: any EventLoop,
        options: UDPSocketOptions,
        receiver: NIOLoopBound<Receiver>
    ) async throws -> UDPSocket {
        #if os(Linux) || os(FreeBSD) || os(Android)
        // NIO's vector read splits one receive buffer evenly between the messages of a `recvmmsg`.
        let receiveAllocation = options.maximumDatagramSize * max(1, options.vectorReadMessageCount)
        #else
        let receiveAllocation = options.maximumDatagramSize
        #endif
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(clamping: options.receiveBufferSize))
            .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(clamping: options.sendBufferSize))
            .channelOption(.datagramVectorReadMessageCount, value: options.vectorReadMessageCount)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: receiveAllocation))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramReceiverHandler(receiver: receiver.value))
                }
            }
            .bind(to: address)
            .get()
        do {
            return try await channel.eventLoop.submit {
                guard let local = channel.localAddress.flatMap(TransportAddress.init) else {
                    throw ChannelError.unknownLocalAddress
                }
                let receiveBuffer = try channel.syncOptions?.getOption(.socketOption(.so_rcvbuf)) ?? 0
                let sendBuffer = try channel.syncOptions?.getOption(.socketOption(.so_sndbuf)) ?? 0
                return UDPSocket(
                    channel: channel,
                    info: UDPSocketInfo(
                        localAddress: local, receiveBufferSize: Int(receiveBuffer), sendBufferSize: Int(sendBuffer)))
            }.get()
        } catch {
            try? await channel.close()
            throw error
        }
    }
}
