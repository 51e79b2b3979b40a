import DTLS
import DataChannel
import Foundation
import ICE
import ICETransport
import NIOCore
import NIOPosix
import SDP
import Testing
@testable import WebRTC

/// One side of a loopback connection: an ICE transport on 127.0.0.1 and the engine that runs
/// DTLS, SCTP and DCEP over it.
struct LoopbackPeer {
    let ice: ICETransport
    let engine: EngineHandle
    let engineEvents: AsyncStream<EngineEvent>

    static func start(
        role: ICERole, dtlsRole: DTLSRole, certificate: DTLSCertificate, remoteFingerprint: Fingerprint,
        group: any EventLoopGroup
    ) async throws -> LoopbackPeer {
        let loop = group.next()
        let slot = NIOLoopBoundBox.makeEmptyBox(valueType: ConnectionEngine.self, eventLoop: loop)
        let ice = try await ICETransport.start(
            configuration: ICETransportConfiguration(
                agent: ICEConfiguration(role: role), hostAddresses: .loopback,
                onApplicationData: { datagram in slot.value?.receive(datagram) }),
            group: loop)
        let (engineEvents, continuation) = AsyncStream.makeStream(of: EngineEvent.self)
        let engine = try await loop.submit {
            let transport = try DataChannelTransport(
                role: dtlsRole, certificate: certificate, remoteFingerprints: [remoteFingerprint], now: .now)
            let engine = ConnectionEngine(eventLoop: loop, maximumMessageSize: 262_144) { continuation.yield($0) }
            engine.attach(ice: ice)
            engine.attach(transport: transport, maximumMessageSize: 262_144)
            slot.value = engine
            return engine.makeHandle()
        }.get()
        return LoopbackPeer(ice: ice, engine: engine, engineEvents: engineEvents)
    }

    func openChannel(_ parameters: DataChannelParameters) async throws -> DataChannel {
        try await engine.eventLoop.submit { try engine.engine.value.openChannel(parameters) }.get()
    }

    func close() async {
        try? await engine.eventLoop.submit { engine.engine.value.close() }.get()
        await ice.close()
    }
}

/// The whole stack over real UDP on 127.0.0.1: ICE, then DTLS, SCTP and DCEP.
@Suite("Data channels over loopback UDP", .serialized)
struct LoopbackTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    /// Exchanges ICE credentials and trickled candidates between the two peers, starts DTLS on
    /// both once ICE selected a pair, and returns when both engines are connected (SCTP up).
    private func connect(_ a: LoopbackPeer, _ b: LoopbackPeer) async throws {
        try await a.ice.setRemoteCredentials(try await b.ice.localCredentials)
        try await b.ice.setRemoteCredentials(try await a.ice.localCredentials)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (local, remote) in [(a, b), (b, a)] {
                group.addTask {
                    var started = false
                    for await event in local.ice.events {
                        switch event {
                        case .localCandidate(let candidate): try await remote.ice.addRemoteCandidate(candidate)
                        case .gatheringStateChanged(.complete): try await remote.ice.addRemoteEndOfCandidates()
                        case .selectedPairChanged where !started:
                            started = true
                            local.engine.execute { $0.start() }
                        default: break
                        }
                    }
                }
                group.addTask {
                    for await event in local.engineEvents {
                        if case .connected = event { return }
                        if case .failed(let error) = event { throw error }
                    }
                }
            }
            // The event loops above end with the transports; wait for the two `connected`s only.
            var connected = 0
            while connected < 2 {
                try await group.next()
                connected += 1
            }
            group.cancelAll()
        }
    }

    @Test(
        "two peers connect over 127.0.0.1 and exchange messages on a channel both ways",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func exchangeOverLoopback() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let offererCertificate = try DTLSCertificate.generate()
        let answererCertificate = try DTLSCertificate.generate()
        let offerer = try await LoopbackPeer.start(
            role: .controlling, dtlsRole: .server, certificate: offererCertificate,
            remoteFingerprint: answererCertificate.fingerprint(), group: group)
        let answerer = try await LoopbackPeer.start(
            role: .controlled, dtlsRole: .client, certificate: answererCertificate,
            remoteFingerprint: offererCertificate.fingerprint(), group: group)
        try await connect(offerer, answerer)
        _ = offerer  // keep both alive until the end

        let channel = try await answerer.openChannel(DataChannelParameters(label: "chat"))
        for await event in channel.events where event == .open { break }
        #expect(channel.readyState == .open)
        #expect(channel.id.map { $0 % 2 } == 0)  // the DTLS client's parity (RFC 8832 §6)

        try await channel.send("hello")
        try await channel.send([1, 2, 3])
        let big = (0..<200_000).map { UInt8(truncatingIfNeeded: $0) }
        try await channel.send(big)
        try await channel.send(Data([4, 5]))  // Foundation's Data goes through the byte-sequence send
        var received: [DataChannelMessage] = []
        // The remote side's channel arrives through the engine events of the offerer.
        var remote: DataChannel?
        for await event in offerer.engineEvents {
            if case .remoteChannel(let channel) = event {
                remote = channel
                break
            }
        }
        let peerChannel = try #require(remote)
        #expect(peerChannel.label == "chat")
        for await message in peerChannel.messages {
            received.append(message)
            if received.count == 4 { break }
        }
        #expect(received == [.text("hello"), .binary([1, 2, 3]), .binary(big), .binary([4, 5])])

        try await peerChannel.send("reply")
        var iterator = channel.messages.makeAsyncIterator()
        #expect(await iterator.next() == .text("reply"))

        channel.close()
        for await event in peerChannel.events where event == .closed { break }
        #expect(peerChannel.readyState == .closed)
        await offerer.close()
        await answerer.close()
    }

    @Test(
        "a fast sender is held back by the suspending send and every byte arrives in order",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)))
    func backpressureOverLoopback() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let certificateA = try DTLSCertificate.generate()
        let certificateB = try DTLSCertificate.generate()
        let a = try await LoopbackPeer.start(
            role: .controlling, dtlsRole: .client, certificate: certificateA,
            remoteFingerprint: certificateB.fingerprint(), group: group)
        let b = try await LoopbackPeer.start(
            role: .controlled, dtlsRole: .server, certificate: certificateB,
            remoteFingerprint: certificateA.fingerprint(), group: group)
        try await connect(a, b)
        let channel = try await a.openChannel(DataChannelParameters(label: "bulk"))
        for await event in channel.events where event == .open { break }
        var remote: DataChannel?
        for await event in b.engineEvents {
            if case .remoteChannel(let channel) = event {
                remote = channel
                break
            }
        }
        let peerChannel = try #require(remote)

        let messageCount = 256  // 16 MiB in 64 KiB messages
        let started = ContinuousClock.now
        async let sender: Int = {
            var largestBuffered = 0
            for index in 0..<messageCount {
                try await channel.send([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 65_536))
                largestBuffered = max(largestBuffered, channel.bufferedAmount)
            }
            return largestBuffered
        }()
        var index = 0
        for await message in peerChannel.messages {
            #expect(message == .binary([UInt8](repeating: UInt8(truncatingIfNeeded: index), count: 65_536)))
            index += 1
            if index == messageCount { break }
        }
        let largestBuffered = try await sender
        let elapsed = started.duration(to: .now)
        #expect(index == messageCount)
        // The queue in front of SCTP never grew far past the high-water mark plus one message.
        #expect(largestBuffered <= DataChannel.highWaterMark + 65_536)
        print("16 MiB over loopback (debug build): \(elapsed), largest bufferedAmount \(largestBuffered)")
        await a.close()
        await b.close()
    }
}
