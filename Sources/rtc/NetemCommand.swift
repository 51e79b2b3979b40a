import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import NetworkEmulation
import STUN
import ToolSupport

/// `rtc netem`: a UDP relay that impairs what it carries, in place of the kernel's `netem`.
struct NetemCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netem",
        abstract: "Relay UDP between a client and a target with loss, delay, jitter, duplication, a rate limit or an MTU.",
        discussion: """
            Datagrams to --listen go to --forward from a socket of the relay's own; the target's \
            answers to that socket go back to the last client address seen. Each direction is \
            impaired on its own, with the same settings. Announce the --listen address as the \
            target's candidate and the target sees the relay as a peer-reflexive one: every \
            datagram between the peers then crosses the relay. Prints 'relaying LISTEN -> FORWARD' \
            once bound and, at SIGINT or SIGTERM, one JSON line with what each direction did. \
            --blackout-at S drops every datagram, both ways, from S seconds after the first one for \
            --blackout-for seconds (a path that goes dark and comes back).
            """
    )

    @Option(help: "Where clients send (port 0: any free port).")
    var listen = ListenAddress(TransportAddress(ip: .v4(IPv4Address(127, 0, 0, 1)), port: 0))

    @Option(help: "Where the relay sends what clients sent.")
    var forward: ListenAddress

    @Option(help: "Probability that a datagram is lost (0 to 1).")
    var loss = 0.0

    @Option(help: "One-way delay in milliseconds.")
    var delay = 0.0

    @Option(help: "Uniform jitter in ± milliseconds (reorders datagrams closer together than it).")
    var jitter = 0.0

    @Option(help: "Probability that a datagram arrives twice (0 to 1).")
    var duplicate = 0.0

    @Option(help: "Rate limit in bytes per second (default: none).")
    var rate: Int?

    @Option(help: "Datagrams larger than this many bytes are dropped (default: none).")
    var mtu: Int?

    @Option(help: "Seed of the impairment's random choices (the same seed, the same losses).")
    var seed: UInt64 = 1

    @Option(help: "Drop everything, both ways, from this many seconds after the first datagram...")
    var blackoutAt: Double?

    @Option(help: "... for this many seconds.")
    var blackoutFor = 10.0

    func validate() throws {
        guard (0...1).contains(loss), (0...1).contains(duplicate) else { throw ValidationError("--loss and --duplicate are probabilities: 0 to 1") }
        guard delay >= 0, jitter >= 0 else { throw ValidationError("--delay and --jitter must not be negative") }
        guard (rate ?? 1) > 0, (mtu ?? 1) > 0 else { throw ValidationError("--rate and --mtu must be positive") }
        guard (blackoutAt ?? 0) >= 0, blackoutFor >= 0 else { throw ValidationError("--blackout-at and --blackout-for must not be negative") }
    }

    func run() async throws {
        let termination = TerminationSignal()
        let impairment = Impairment(
            loss: loss, delay: .microseconds(Int64(delay * 1000)), jitter: .microseconds(Int64(jitter * 1000)),
            duplication: duplicate, bytesPerSecond: rate, mtu: mtu)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let relay: NetemRelay
        do {
            relay = try await NetemRelay.start(
                listen: listen.value, forward: forward.value, impairment: impairment, seed: seed,
                blackout: blackoutAt.map { Duration.milliseconds(Int64($0 * 1000)) ..< Duration.milliseconds(Int64(($0 + blackoutFor) * 1000)) },
                group: group)
        } catch {
            printError("cannot relay \(listen.value) -> \(forward.value): \(error)")
            try? await group.shutdownGracefully()
            throw ExitCode(1)
        }
        // Scripts wait for this line: unbuffered.
        writeFully(STDOUT_FILENO, "relaying \(relay.listenAddress) -> \(forward.value)\n")
        await termination.wait()
        let (up, down) = await relay.stop()
        writeFully(STDOUT_FILENO, JSON.object([
            "to_target": up.json, "to_client": down.json, "blacked_out": .integer(Int64(await relay.blackedOut)),
        ]).compact() + "\n")
        try? await group.shutdownGracefully()
    }
}

extension ImpairmentCounters {
    fileprivate var json: JSON {
        .object([
            "sent": .integer(Int64(sent)), "lost": .integer(Int64(lost)), "duplicated": .integer(Int64(duplicated)),
            "dropped": .integer(Int64(dropped)), "delivered": .integer(Int64(delivered)),
            "reordered": .integer(Int64(reordered)),
        ])
    }
}

/// The relay: two UDP sockets on one event loop and an ``ImpairedPath`` per direction. All its
/// state lives on that loop.
private final class NetemRelay: @unchecked Sendable {
    private let loop: any EventLoop
    private let target: SocketAddress
    private var listenChannel: (any Channel)?
    private var forwardChannel: (any Channel)?
    private var toTarget: ImpairedPath
    private var toClient: ImpairedPath
    private var client: SocketAddress?
    private var timer: Scheduled<Void>?
    /// When nothing passes, counted from the first datagram.
    private let blackout: Range<Duration>?
    private var firstDatagram: ContinuousClock.Instant?
    private var blackedOutCount = 0

    private init(loop: any EventLoop, target: SocketAddress, impairment: Impairment, seed: UInt64, blackout: Range<Duration>?) {
        self.loop = loop
        self.target = target
        self.blackout = blackout
        toTarget = ImpairedPath(impairment, seed: seed)
        toClient = ImpairedPath(impairment, seed: seed &+ 1)
    }

    var listenAddress: String {
        listenChannel?.localAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
    }

    static func start(
        listen: TransportAddress, forward: TransportAddress, impairment: Impairment, seed: UInt64,
        blackout: Range<Duration>?, group: MultiThreadedEventLoopGroup
    ) async throws -> NetemRelay {
        let loop = group.next()
        let target = try SocketAddress(ipAddress: "\(forward.ip)", port: Int(forward.port))
        let relay = NetemRelay(loop: loop, target: target, impairment: impairment, seed: seed, blackout: blackout)
        let listening = try await relay.bind(host: "\(listen.ip)", port: Int(listen.port)) { relay.fromClient($0) }
        // The socket the target sees and answers: of the target's address family, any port.
        let unspecified: String
        switch forward.ip {
        case .v4: unspecified = "0.0.0.0"
        case .v6: unspecified = "::"
        }
        let forwarding = try await relay.bind(host: unspecified, port: 0) { relay.fromTarget($0) }
        try await loop.submit {
            relay.listenChannel = listening
            relay.forwardChannel = forwarding
        }.get()
        return relay
    }

    /// Stops relaying; returns what each direction did.
    func stop() async -> (toTarget: ImpairmentCounters, toClient: ImpairmentCounters) {
        let counters = try? await loop.submit { () -> (ImpairmentCounters, ImpairmentCounters) in
            self.timer?.cancel()
            return (self.toTarget.counters, self.toClient.counters)
        }.get()
        try? await listenChannel?.close()
        try? await forwardChannel?.close()
        return counters ?? (ImpairmentCounters(), ImpairmentCounters())
    }

    private func bind(
        host: String, port: Int, onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            // The relay must lose only what it is told to: kernel buffers that hold a sender's whole
            // burst (the kernel caps them at net.core.rmem_max / wmem_max), and batched reads.
            .channelOption(.socketOption(.so_rcvbuf), value: 4 << 20)
            .channelOption(.socketOption(.so_sndbuf), value: 4 << 20)
            .channelOption(.datagramVectorReadMessageCount, value: 32)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 32 * 2_048))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Inbound(onDatagram)) }
            }
            .bind(host: host, port: port).get()
    }

    // MARK: On the loop

    /// Datagrams dropped by the blackout, both ways.
    var blackedOut: Int {
        get async { (try? await loop.submit { self.blackedOutCount }.get()) ?? 0 }
    }

    private func fromClient(_ datagram: AddressedEnvelope<ByteBuffer>) {
        client = datagram.remoteAddress
        guard passes() else { return }
        toTarget.send(Array(datagram.data.readableBytesView), now: .now)
        pump()
    }

    private func fromTarget(_ datagram: AddressedEnvelope<ByteBuffer>) {
        guard passes() else { return }
        toClient.send(Array(datagram.data.readableBytesView), now: .now)
        pump()
    }

    /// Whether a datagram arriving now gets through the blackout, if one is set.
    private func passes() -> Bool {
        let now = ContinuousClock.now
        let first = firstDatagram ?? now
        firstDatagram = first
        guard let blackout, blackout.contains(first.duration(to: now)) else { return true }
        blackedOutCount += 1
        return false
    }

    /// Sends what is due in both directions, then sleeps until the next datagram is.
    private func pump() {
        let now = ContinuousClock.now
        while let datagram = toTarget.receive(now: now) { write(datagram, to: target, on: forwardChannel) }
        while let datagram = toClient.receive(now: now) {
            if let client { write(datagram, to: client, on: listenChannel) }
        }
        timer?.cancel()
        timer = nil
        let next = [toTarget.nextDelivery, toClient.nextDelivery].compactMap { $0 }.min()
        if let next {
            timer = loop.scheduleTask(in: .nanoseconds(max(0, Int64(now.duration(to: next).nanosecondsApproximately)))) {
                self.pump()
            }
        }
    }

    private func write(_ datagram: [UInt8], to address: SocketAddress, on channel: (any Channel)?) {
        guard let channel else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: datagram)), promise: nil)
    }
}

/// Hands each datagram to the relay.
private final class Inbound: ChannelInboundHandler, Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let onDatagram: @Sendable (AddressedEnvelope<ByteBuffer>) -> Void

    init(_ onDatagram: @escaping @Sendable (AddressedEnvelope<ByteBuffer>) -> Void) {
        self.onDatagram = onDatagram
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        onDatagram(unwrapInboundIn(data))
    }
}

extension Duration {
    fileprivate var nanosecondsApproximately: Double {
        Double(components.seconds) * 1e9 + Double(components.attoseconds) * 1e-9
    }
}
