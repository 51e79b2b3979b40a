import DTLS
import DataChannel
import SCTP
import SDP
import NetworkEmulation
import Testing
@testable import WebRTC
import TestSupport

/// The whole data path — DCEP over SCTP over DTLS — between two in-process transports over an
/// in-memory datagram pipe: no sockets, one thread.
@Suite("Data channels over SCTP over DTLS, in memory", .serialized)
struct DataChannelTransportTests {
    private func openChannel(
        _ pair: InMemoryPair, from opener: DataChannelTransport,
        _ parameters: DataChannelParameters = DataChannelParameters(label: "chat")
    ) throws -> UInt16 {
        let id = try opener.openChannel(parameters, now: pair.now)
        let openerEvents: KeyPath<InMemoryPair, [DataChannelTransportEvent]> = opener === pair.client ? \.clientEvents : \.serverEvents
        #expect(pair.run(until: { pair[keyPath: openerEvents].contains(.channelOpened(id: id)) }))
        return id
    }

    @Test("DTLS and SCTP come up; each side opens a channel and both see it with the right id parity")
    func connectAndOpen() throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        #expect(pair.clientEvents.contains { if case .secured = $0 { true } else { false } })
        let clientChannel = try openChannel(pair, from: pair.client)
        let serverChannel = try openChannel(pair, from: pair.server, DataChannelParameters(label: "from server"))
        // RFC 8832 §6: the DTLS client uses even stream ids, the server odd ones.
        #expect(clientChannel % 2 == 0)
        #expect(serverChannel % 2 == 1)
        #expect(pair.serverEvents.contains { event in
            if case let .remoteChannelOpened(id, parameters) = event { id == clientChannel && parameters.label == "chat" } else { false }
        })
        #expect(pair.clientEvents.contains { event in
            if case let .remoteChannelOpened(id, parameters) = event { id == serverChannel && parameters.label == "from server" } else { false }
        })
        #expect(pair.largestDatagram <= 1200)
    }

    @Test("a channel opened before the connection is up opens once it is")
    func openBeforeConnected() throws {
        let pair = try InMemoryPair()
        let id = try pair.client.openChannel(DataChannelParameters(label: "early"), now: pair.now)
        #expect(pair.client.state(of: id) == .connecting)
        #expect(pair.run(until: { pair.clientEvents.contains(.channelOpened(id: id)) }))
        #expect(pair.client.state(of: id) == .open)
    }

    @Test("a certificate that does not match the SDP fingerprint fails the connection, typed, on the checking side")
    func fingerprintMismatch() throws {
        let stranger = try DTLSCertificate.generate()
        let pair = try InMemoryPair(serverFingerprintsSeenByClient: [stranger.fingerprint()])
        pair.run(until: { pair.clientEvents.contains { if case .failed = $0 { true } else { false } } }, limit: .seconds(10))
        let failure = pair.clientEvents.compactMap { event -> DataChannelTransportError? in
            if case .failed(let error) = event { error } else { nil }
        }.first
        let reason = try #require(failure).reason
        #expect(reason == .dtls(DTLSError(.fingerprintMismatch)))
        #expect(!pair.clientEvents.contains(.connected))
        #expect(throws: DataChannelTransportError.self) {
            _ = try pair.client.openChannel(DataChannelParameters(label: "x"), now: pair.now)
        }
    }

    @Test("the handshake and the channel survive 20 % datagram loss (DTLS and SCTP retransmit)")
    func lossyHandshake() throws {
        let pair = try InMemoryPair(impairment: Impairment(loss: 0.2), seed: 7)
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        let id = try openChannel(pair, from: pair.client)
        for index in 0..<200 {
            try pair.client.send(.text("message \(index)"), on: id, now: pair.now)
        }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count == 200 }, limit: .seconds(120)))
        #expect(pair.messages(\.serverEvents, on: id) == (0..<200).map { .text("message \($0)") })
        #expect(pair.datagramsDropped > 0)
    }

    @Test("the DTLS handshake and SCTP's association complete under 30 % loss each way", arguments: Array(21...28) as [UInt64])
    func handshakeUnderHeavyLoss(seed: UInt64) throws {
        let pair = try InMemoryPair(impairment: Impairment(loss: 0.3), seed: seed)
        // RFC 6347 §4.2.4: flights are retransmitted with a doubling timer (1 s, 2 s, 4 s...).
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        print("30 % loss, seed \(seed): DTLS and SCTP up after \(pair.elapsed), \(pair.datagramsDropped) datagrams lost")
        #expect(pair.datagramsDropped > 0)
    }

    @Test("messages up to 256 KiB arrive whole; larger ones fail typed and the channel stays open")
    func largeMessages() throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client)
        pair.client.setRemoteMaximumMessageSize(262_144)
        let sizes = [1, 1199, 1200, 65_536, 100_000, 262_144]
        for size in sizes {
            try pair.client.send(.binary((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }), on: id, now: pair.now)
        }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count == sizes.count }))
        #expect(pair.messages(\.serverEvents, on: id).map(\.byteCount) == sizes)
        #expect(pair.messages(\.serverEvents, on: id).last == .binary((0..<262_144).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
        #expect(throws: DataChannelTransportError.self) {
            try pair.client.send(.binary([UInt8](repeating: 1, count: 262_145)), on: id, now: pair.now)
        }
        #expect(pair.client.state(of: id) == .open)
        #expect(pair.largestDatagram <= 1200)
    }

    @Test("10 000 small messages arrive in order")
    func manySmallMessagesInOrder() throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client)
        for index in 0..<10_000 {
            try pair.client.send(.binary(withUnsafeBytes(of: UInt32(index).bigEndian, Array.init)), on: id, now: pair.now)
        }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count == 10_000 }, limit: .seconds(60)))
        let received = pair.messages(\.serverEvents, on: id).map { message -> UInt32 in
            guard case .binary(let bytes) = message, bytes.count == 4 else { return .max }
            return bytes.reduce(0) { $0 << 8 | UInt32($1) }
        }
        #expect(received == (0..<10_000).map(UInt32.init))
    }

    @Test("text, binary, empty text and empty binary keep their kind (PPIDs 51, 53, 56, 57)")
    func messageKinds() throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client)
        let sent: [DataChannelMessage] = [.text("héllo"), .binary([0, 1, 2]), .text(""), .binary([])]
        for message in sent {
            try pair.client.send(message, on: id, now: pair.now)
        }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count == sent.count }))
        #expect(pair.messages(\.serverEvents, on: id) == sent)
    }

    @Test("unordered channels deliver every message exactly once")
    func unordered() throws {
        let pair = try InMemoryPair(impairment: Impairment(loss: 0.05), seed: 3)
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        let id = try openChannel(pair, from: pair.client, DataChannelParameters(label: "u", ordered: false))
        for index in 0..<500 {
            try pair.client.send(.text("\(index)"), on: id, now: pair.now)
        }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count == 500 }, limit: .seconds(120)))
        let received = pair.messages(\.serverEvents, on: id)
        #expect(Set(received) == Set((0..<500).map { DataChannelMessage.text("\($0)") }))
        #expect(received.count == 500)
    }

    @Test("maxRetransmits 0 and maxPacketLifeTime under loss: some messages lost, none duplicated, order kept",
          arguments: [DataChannelParameters(label: "rexmit", maxRetransmits: 0),
                      DataChannelParameters(label: "timed", maxPacketLifeTime: 50)])
    func partialReliability(parameters: DataChannelParameters) throws {
        let pair = try InMemoryPair(seed: 11)
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client, parameters)
        pair.impair(Impairment(loss: 0.2))
        for index in 0..<500 {
            try pair.client.send(.text("\(index)"), on: id, now: pair.now)
        }
        pair.run(until: { false }, limit: .seconds(3))
        let received = pair.messages(\.serverEvents, on: id).compactMap { message -> Int? in
            if case .text(let text) = message { Int(text) } else { nil }
        }
        #expect(received.count < 500)
        #expect(received.count > 0)
        #expect(Set(received).count == received.count)
        #expect(received == received.sorted())
    }

    /// 5 % loss, 20 ± 10 ms one way (which reorders), 1 % duplication, both directions.
    static let hostilePath = Impairment(loss: 0.05, delay: .milliseconds(20), jitter: .milliseconds(10), duplication: 0.01)

    @Test("over a path that loses, delays, reorders and duplicates, a reliable ordered channel delivers every message once, in order")
    func impairedPath() throws {
        let pair = try InMemoryPair(impairment: Self.hostilePath, seed: 5)
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        let id = try openChannel(pair, from: pair.client)
        let sent = (0..<300).map { DataChannelMessage.binary(Array(repeating: UInt8($0 % 251), count: 1_100)) }
        for message in sent { try pair.client.send(message, on: id, now: pair.now) }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count >= sent.count }, limit: .seconds(120)))
        #expect(pair.messages(\.serverEvents, on: id) == sent)
        let path = pair.towardsServer
        #expect(path.lost > 0 && path.reordered > 0 && path.duplicated > 0)
        // The receiver put records back in order before SCTP saw them.
        #expect((pair.server.dtlsStatistics?.reordering.held ?? 0) > 0)
    }

    @Test("on that path, an unordered channel delivers every message exactly once")
    func unorderedOnImpairedPath() throws {
        let pair = try InMemoryPair(impairment: Self.hostilePath, seed: 6)
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        let id = try openChannel(pair, from: pair.client, DataChannelParameters(label: "u", ordered: false))
        for index in 0..<300 { try pair.client.send(.text("\(index)"), on: id, now: pair.now) }
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id).count >= 300 }, limit: .seconds(120)))
        let received = pair.messages(\.serverEvents, on: id)
        #expect(received.count == 300)
        #expect(Set(received) == Set((0..<300).map { DataChannelMessage.text("\($0)") }))
    }

    @Test("on that path, unordered with maxPacketLifeTime 100 ms: lost messages counted, none duplicated, none transmitted after its lifetime")
    func lifetimeOnImpairedPath() throws {
        let pair = try InMemoryPair(impairment: Self.hostilePath, seed: 8)
        #expect(pair.run(until: { pair.connected }, limit: .seconds(60)))
        let parameters = DataChannelParameters(label: "timed", ordered: false, maxPacketLifeTime: 100)
        let id = try openChannel(pair, from: pair.client, parameters)
        var sentAt: [ContinuousClock.Instant] = []
        for index in 0..<400 {
            // One message every 10 ms (100 KB/s), below what SCTP's congestion window allows on this
            // path: usrsctp applies the lifetime to retransmissions, and a message still queued
            // behind the window when its lifetime ends is sent once anyway.
            pair.run(until: { false }, limit: .milliseconds(10))
            sentAt.append(pair.now)
            try pair.client.send(.binary(Array(repeating: 7, count: 1_000) + [UInt8(index >> 8), UInt8(index & 0xFF)]), on: id, now: pair.now)
        }
        pair.run(until: { false }, limit: .seconds(3))
        var indices: [Int] = []
        var oldest = Duration.zero
        for (event, at) in zip(pair.serverEvents, pair.serverEventTimes) {
            guard case let .message(channel, .binary(bytes)) = event, channel == id, bytes.count == 1_002 else { continue }
            let index = Int(bytes[1_000]) << 8 | Int(bytes[1_001])
            indices.append(index)
            oldest = max(oldest, sentAt[index].duration(to: at))
        }
        let abandoned = pair.client.sctpStatistics.abandonedMessages
        print("unordered, maxPacketLifeTime 100 ms, 5 % loss, 20 ± 10 ms, 1 % duplication: \(indices.count) of 400 delivered, \(400 - indices.count) lost, \(abandoned) abandoned by the sender, oldest \(oldest)")
        #expect(Set(indices).count == indices.count)
        // The sender reports what it gave up on (RFC 3758): every lost message, and perhaps some
        // that arrived but whose acknowledgement was lost.
        #expect(abandoned >= 400 - indices.count)
        #expect(indices.count > 0 && indices.count < 400)
        // RFC 3758 §3.5 / RFC 8831 §6.1: nothing is (re)transmitted after its lifetime. Unordered
        // messages are delivered as they arrive, so the oldest is one transmitted just before it
        // expired: lifetime + one way (20 + 10 ms) + the reorder buffer's window (at most 60 ms),
        // plus 50 ms because usrsctp checks lifetimes on its timer and SACK events, not at the
        // instant. A retransmission after the lifetime would come an RTO (≥ 200 ms) later.
        #expect(oldest < .milliseconds(100 + 30 + 60 + 50))
    }

    @Test("1 000 channels on one association configured for 1 024 streams (the default is 256)")
    func thousandChannels() throws {
        let configuration = DataChannelTransportConfiguration(sctp: SCTPConfiguration(maximumStreams: 1024))
        let pair = try InMemoryPair(clientConfiguration: configuration, serverConfiguration: configuration)
        #expect(pair.run(until: { pair.connected }))
        var ids: [UInt16] = []
        for index in 0..<1000 {
            let opener = index % 2 == 0 ? pair.client : pair.server
            ids.append(try opener.openChannel(DataChannelParameters(label: "c\(index)"), now: pair.now))
        }
        let opened = { (events: [DataChannelTransportEvent]) in
            events.reduce(into: 0) { count, event in if case .channelOpened = event { count += 1 } }
        }
        // Each side sees its own 500 channels open and the peer's 500.
        #expect(pair.run(until: { opened(pair.clientEvents) == 1000 && opened(pair.serverEvents) == 1000 }, limit: .seconds(60)))
        #expect(Set(ids).count == 1000)
        for (index, id) in ids.enumerated() {
            try (index % 2 == 0 ? pair.client : pair.server).send(.text("on \(id)"), on: id, now: pair.now)
        }
        #expect(pair.run(until: {
            ids.enumerated().allSatisfy { index, id in
                pair.messages(index % 2 == 0 ? \.serverEvents : \.clientEvents, on: id) == [.text("on \(id)")]
            }
        }, limit: .seconds(60)))
    }

    @Test("closing a channel from either side closes it on both", arguments: [true, false])
    func closeFromEitherSide(clientCloses: Bool) throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client)
        (clientCloses ? pair.client : pair.server).closeChannel(id, now: pair.now)
        #expect(pair.run(until: {
            pair.clientEvents.contains(.channelClosed(id: id)) && pair.serverEvents.contains(.channelClosed(id: id))
        }))
        #expect(pair.client.state(of: id) == nil)
        #expect(pair.server.state(of: id) == nil)
        // The id is free again: a new channel can take it.
        let reopened = try openChannel(pair, from: pair.client)
        #expect(reopened == id)
    }

    @Test("negotiated channels open on both sides with the agreed id and carry data")
    func negotiated() throws {
        let pair = try InMemoryPair()
        let parameters = DataChannelParameters(label: "agreed", negotiated: true, id: 7)
        let clientID = try pair.client.openChannel(parameters, now: pair.now)
        let serverID = try pair.server.openChannel(parameters, now: pair.now)
        #expect(clientID == 7 && serverID == 7)
        #expect(pair.run(until: {
            pair.clientEvents.contains(.channelOpened(id: 7)) && pair.serverEvents.contains(.channelOpened(id: 7))
        }))
        try pair.server.send(.text("hi"), on: 7, now: pair.now)
        #expect(pair.run(until: { pair.messages(\.clientEvents, on: 7) == [.text("hi")] }))
        #expect(!pair.clientEvents.contains { if case .remoteChannelOpened = $0 { true } else { false } })
    }

    @Test("hostile datagrams: garbage, truncated records and records after close change nothing")
    func hostileDatagrams() throws {
        let pair = try InMemoryPair()
        #expect(pair.run(until: { pair.connected }))
        let id = try openChannel(pair, from: pair.client)
        var random = SplitMix64(seed: 99)
        for length in [0, 1, 12, 13, 14, 100, 1200, 5000] {
            var garbage = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            if !garbage.isEmpty { garbage[0] = 23 }  // a DTLS application-data content type
            garbage.withUnsafeBytes { pair.server.handleDatagram($0, now: pair.now) }
        }
        try pair.client.send(.text("still fine"), on: id, now: pair.now)
        #expect(pair.run(until: { pair.messages(\.serverEvents, on: id) == [.text("still fine")] }))
        pair.client.close(now: pair.now)
        #expect(pair.run(until: { pair.serverEvents.contains(.closed) }))
        [UInt8](repeating: 23, count: 40).withUnsafeBytes { pair.server.handleDatagram($0, now: pair.now) }
        #expect(throws: DataChannelTransportError.self) {
            try pair.server.send(.text("after close"), on: id, now: pair.now)
        }
    }
}
