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
    /// How many datagrams one `recvmmsg` call may read once the socket has seen a burst (Linux;
    /// other systems read one at a time). Until then it reads one datagram per call into one
    /// ``maximumDatagramSize`` buffer: the vector read's buffer (count × size, 64 KiB by default)
    /// is most of an idle connection's memory, and only traffic needs it.
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
    /// The vector-read settings to switch to at the first burst; `nil` once switched (or where
    /// vector reads do not exist).
    private var pendingVectorReads: (messageCount: Int, allocation: Int)?
    /// Datagrams read since the last `channelReadComplete`.
    private var datagramsInBatch = 0
    /// Consecutive wake-ups that read as many datagrams as NIO reads per wake-up.
    private var fullBatches = 0
    /// How many consecutive full wake-ups make a burst. A handshake flight (DTLS certificates,
    /// SCTP's INIT exchange) fills one or two wake-ups of four; bulk traffic fills them all.
    static let burstWakeUps = 4

    init(receiver: any DatagramReceiver, vectorReads: (messageCount: Int, allocation: Int)?) {
        self.receiver = receiver
        self.pendingVectorReads = vectorReads
    }

    func channelActive(context: ChannelHandlerContext) {
        localAddress = context.channel.localAddress.flatMap(TransportAddress.init)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        datagramsInBatch += 1
        guard let localAddress else { return }
        receiver.receive(unwrapInboundIn(data), on: context.channel, localAddress: localAddress)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        let batch = datagramsInBatch
        datagramsInBatch = 0
        receiver.readComplete()
        switchToVectorReadsOnBurst(context: context, batch: batch)
    }

    /// One-datagram reads stop at NIO's `maxMessagesPerRead` per wake-up: a batch that reached it
    /// probably left datagrams queued, and ``burstWakeUps`` such batches in a row mean traffic
    /// flows, so `recvmmsg` pays off from now on. The switch is one way: NIO's receive-buffer pool
    /// keeps its largest buffer for the channel's lifetime.
    private func switchToVectorReadsOnBurst(context: ChannelHandlerContext, batch: Int) {
        guard let vectorReads = pendingVectorReads, let options = context.channel.syncOptions,
            let perWakeUp = try? options.getOption(.maxMessagesPerRead)
        else { return }
        fullBatches = batch >= Int(perWakeUp) ? fullBatches + 1 : 0
        guard fullBatches >= Self.burstWakeUps else { return }
        pendingVectorReads = nil
        // A failure leaves the socket reading one datagram at a time, which is slower, not wrong.
        try? options.setOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: vectorReads.allocation))
        try? options.setOption(.datagramVectorReadMessageCount, value: vectorReads.messageCount)
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
        let vectorReads =
            options.vectorReadMessageCount > 1
            ? (messageCount: options.vectorReadMessageCount,
                allocation: options.maximumDatagramSize * options.vectorReadMessageCount)
            : nil
        #else
        let vectorReads: (messageCount: Int, allocation: Int)? = nil
        #endif
        // Reads start one datagram at a time (count 0: no vector-read state at all); the handler
        // switches to vector reads at the first burst.
        let channel = try await DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(clamping: options.receiveBufferSize))
            .channelOption(.socketOption(.so_sndbuf), value: SocketOptionValue(clamping: options.sendBufferSize))
            .channelOption(.datagramVectorReadMessageCount, value: 0)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: options.maximumDatagramSize))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DatagramReceiverHandler(receiver: receiver.value, vectorReads: vectorReads))
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
