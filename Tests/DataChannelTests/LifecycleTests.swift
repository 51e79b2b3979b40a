import DataChannel
import Testing

@Suite("Opening and closing (RFC 8831 §6, RFC 8832 §6)")
struct LifecycleTests {
    @Test func clientOpensEvenIDsAndPeerAcknowledges() throws {
        var link = Link()
        link.connect()
        let parameters = DataChannelParameters(label: "chat", protocol: "v1", ordered: false, maxRetransmits: 3)
        let ids = try (0..<3).map { _ throws(DataChannelError) in try link.client.open(parameters) }
        #expect(ids == [0, 2, 4])
        let opens = link.commands(from: .client)
        #expect(opens.count == 3)
        // RFC 8832 §6: the OPEN goes on the channel's stream, ordered and reliable, PPID 50.
        guard case .send(0, .dcep, let data, true, .reliable) = opens[0] else {
            Issue.record("unexpected \(opens[0])")
            return
        }
        #expect(try parseDCEP(data) == .open(try DataChannelOpen(
            ordered: false, reliability: .partialReliableRexmit(3), priority: 256, label: "chat", protocol: "v1")))
        #expect(link.client.state(of: 0) == .connecting)
        for command in opens { link.deliver(command, from: .client) }
        var expected = parameters
        expected.id = 0
        let serverEvents = link.takeEvents(.server)
        #expect(serverEvents.prefix(2) == [.remoteOpened(id: 0, parameters: expected), .opened(id: 0)])
        #expect(serverEvents.count == 6)
        #expect(link.server.state(of: 0) == .open)
        #expect(link.server.parameters(of: 4)?.maxRetransmits == 3)
        // The ACKs are pending on the server: the client is still connecting.
        #expect(link.client.state(of: 2) == .connecting)
        link.pump()
        #expect(link.takeEvents(.client) == [.opened(id: 0), .opened(id: 2), .opened(id: 4)])
        #expect(ids.allSatisfy { link.client.state(of: $0) == .open })
        #expect(link.client.parameters(of: 2)?.id == 2)
    }

    @Test func serverOpensOddIDs() throws {
        var link = Link()
        link.connect()
        let first = try link.server.open(DataChannelParameters(label: "a", maxPacketLifeTime: 250))
        let second = try link.server.open(DataChannelParameters(label: "b"))
        #expect([first, second] == [1, 3])
        link.pump()
        #expect(link.takeEvents(.server) == [.opened(id: 1), .opened(id: 3)])
        let clientEvents = link.takeEvents(.client)
        #expect(clientEvents.contains(.remoteOpened(
            id: 1, parameters: DataChannelParameters(label: "a", maxPacketLifeTime: 250, id: 1))))
        #expect(link.client.statistics.remoteOpens == 2)
    }

    @Test func openBeforeTransportIsQueued() throws {
        var link = Link()
        let id = try link.client.open(DataChannelParameters(label: "early"))
        let negotiated = try link.client.open(DataChannelParameters(negotiated: true, id: 7))
        #expect(link.client.state(of: id) == .connecting)
        #expect(link.commands(from: .client).isEmpty)
        #expect(link.takeEvents(.client).isEmpty)
        // W3C: send on a connecting channel is an InvalidStateError.
        #expect(throws: DataChannelError(.invalidState(.connecting))) {
            try link.client.send(.text("too early"), on: id)
        }
        link.connect()
        #expect(link.dcepSends(from: .client).count == 1)
        #expect(link.client.state(of: id) == .open)
        #expect(link.client.state(of: negotiated) == .open)
        #expect(link.takeEvents(.client) == [.opened(id: 7), .opened(id: 0)])
    }

    @Test func userDataBeforeAcknowledgementOpensTheChannel() throws {
        var link = Link()
        link.connect()
        let id = try link.client.open(DataChannelParameters(label: "fast", ordered: false))
        for command in link.commands(from: .client) { link.deliver(command, from: .client) }
        try link.server.send(.text("hello"), on: id)
        let fromServer = link.commands(from: .server)
        #expect(fromServer.count == 2) // ACK, then the message (unordered: may overtake the ACK)
        for command in fromServer.reversed() { link.deliver(command, from: .server) }
        #expect(link.takeEvents(.client) == [.opened(id: id), .message(id: id, .text("hello"))])
        // The late ACK is absorbed without counting as hostile.
        #expect(link.client.statistics.dropped == DataChannelDropCounters())
    }

    @Test func negotiatedChannelsSendNoDCEP() throws {
        var link = Link()
        let parameters = DataChannelParameters(label: "n", negotiated: true, id: 5)
        #expect(try link.client.open(parameters) == 5)
        #expect(try link.server.open(parameters) == 5)
        link.connect()
        #expect(link.takeEvents(.client) == [.opened(id: 5)])
        #expect(link.takeEvents(.server) == [.opened(id: 5)])
        // After the transport is up a negotiated channel is open at once.
        #expect(try link.client.open(DataChannelParameters(negotiated: true, id: 100)) == 100)
        #expect(link.client.state(of: 100) == .open)
        try link.client.send(.text("ping"), on: 5)
        try link.server.send(.binary([1, 2]), on: 5)
        link.pump()
        #expect(link.takeEvents(.server) == [.message(id: 5, .text("ping"))])
        #expect(link.takeEvents(.client) == [.opened(id: 100), .message(id: 5, .binary([1, 2]))])
        #expect(link.dcepSends(from: .client).isEmpty)
        #expect(link.dcepSends(from: .server).isEmpty)
    }

    @Test func invalidOpenCalls() throws {
        var manager = DataChannelManager(isDTLSClient: true, maximumStreams: 16)
        _ = try manager.open(DataChannelParameters(negotiated: true, id: 3))
        #expect(throws: DataChannelError(.streamIDInUse(3))) {
            try manager.open(DataChannelParameters(negotiated: true, id: 3))
        }
        #expect(throws: DataChannelError(.streamIDOutOfRange(16))) {
            try manager.open(DataChannelParameters(negotiated: true, id: 16))
        }
        #expect(throws: DataChannelError(.missingNegotiatedID)) {
            try manager.open(DataChannelParameters(negotiated: true))
        }
        #expect(throws: DataChannelError(.conflictingReliability)) {
            try manager.open(DataChannelParameters(maxRetransmits: 1, maxPacketLifeTime: 1))
        }
        #expect(throws: DataChannelError(.labelTooLong(70_000))) {
            try manager.open(DataChannelParameters(label: String(repeating: "x", count: 70_000), negotiated: true, id: 4))
        }
        // Not negotiated: the id is ignored (W3C) and allocated.
        #expect(try manager.open(DataChannelParameters(id: 9)) == 0)
        #expect(throws: DataChannelError(.unknownChannel(1))) { try manager.send(.text("x"), on: 1) }
        #expect(manager.channelIDs == [0, 3])
    }

    @Test func exhaustionAndReuse() throws {
        var link = Link(maximumStreams: 5)
        link.connect()
        let ids = try (0..<3).map { _ throws(DataChannelError) in try link.client.open(DataChannelParameters()) }
        #expect(ids == [0, 2, 4])
        #expect(throws: DataChannelError(.streamsExhausted)) { try link.client.open(DataChannelParameters()) }
        // A negotiated channel may still take a free id of the other parity.
        #expect(try link.client.open(DataChannelParameters(negotiated: true, id: 1)) == 1)
        link.pump()
        link.client.close(2)
        link.pump()
        #expect(link.client.state(of: 2) == nil)
        #expect(try link.client.open(DataChannelParameters(label: "again")) == 2)
        link.pump()
        #expect(link.server.parameters(of: 2)?.label == "again")
    }

    @Test("close from either side completes on both", arguments: Side.allCases)
    func closeCompletesOnBothSides(closer: Side) throws {
        var link = Link()
        link.connect()
        let id = try link.client.open(DataChannelParameters(label: "c"))
        link.pump()
        _ = link.takeEvents(.client)
        _ = link.takeEvents(.server)
        link.withManager(closer) { $0.close(id) }
        #expect(link.manager(closer).state(of: id) == .closing)
        link.withManager(closer) { $0.close(id) } // idempotent
        #expect(throws: DataChannelError(.invalidState(.closing))) {
            try link.withManager(closer) { manager throws(DataChannelError) in try manager.send(.text("x"), on: id) }
        }
        link.pump()
        #expect(link.takeEvents(closer) == [.closed(id: id)])
        #expect(link.takeEvents(closer.other) == [.closing(id: id), .closed(id: id)])
        #expect(link.client.state(of: id) == nil)
        #expect(link.server.state(of: id) == nil)
        // Each side reset its outgoing stream exactly once.
        #expect(link.executed[.client, default: []].filter { $0 == .resetStream(id) }.count == 1)
        #expect(link.executed[.server, default: []].filter { $0 == .resetStream(id) }.count == 1)
        #expect(try link.client.open(DataChannelParameters(label: "reused")) == id)
        link.pump()
        #expect(link.server.state(of: id) == .open)
    }

    @Test func simultaneousClose() throws {
        var link = Link()
        link.connect()
        let id = try link.server.open(DataChannelParameters())
        link.pump()
        _ = link.takeEvents(.client)
        _ = link.takeEvents(.server)
        link.client.close(id)
        link.server.close(id)
        link.pump()
        #expect(link.takeEvents(.client) == [.closed(id: id)])
        #expect(link.takeEvents(.server) == [.closed(id: id)])
        #expect(link.client.channelIDs.isEmpty && link.server.channelIDs.isEmpty)
    }

    @Test func closeWhileConnecting() throws {
        var link = Link()
        let queued = try link.client.open(DataChannelParameters())
        link.client.close(queued)
        #expect(link.takeEvents(.client) == [.closed(id: queued)])
        link.connect()
        #expect(link.executed[.client] == nil)
        // Closing while waiting for the ACK: RFC 8831 §6.7 reset; the peer's channel closes too.
        let waiting = try link.client.open(DataChannelParameters())
        for command in link.commands(from: .client) { link.deliver(command, from: .client) }
        link.client.close(waiting)
        link.pump()
        #expect(link.takeEvents(.client) == [.closed(id: waiting)])
        #expect(link.takeEvents(.server) == [
            .remoteOpened(id: waiting, parameters: DataChannelParameters(id: waiting)), .opened(id: waiting),
            .closing(id: waiting), .closed(id: waiting),
        ])
        #expect(link.client.statistics.dropped.unexpectedAcknowledgements == 0)
    }

    @Test func transportClosedClosesEverything() throws {
        var link = Link()
        link.connect()
        _ = try link.client.open(DataChannelParameters())
        _ = try link.client.open(DataChannelParameters(negotiated: true, id: 9))
        _ = link.takeEvents(.client)
        link.client.transportClosed()
        #expect(link.takeEvents(.client) == [.closed(id: 0), .closed(id: 9)])
        #expect(link.commands(from: .client).isEmpty)
        #expect(throws: DataChannelError(.transportClosed)) { try link.client.open(DataChannelParameters()) }
    }

    @Test func thousandChannelsOnOnePair() throws {
        var link = Link(maximumStreams: 2048)
        link.connect()
        var ids: [UInt16] = []
        for index in 0..<1000 {
            let side: Side = index.isMultiple(of: 2) ? .client : .server
            ids.append(try link.withManager(side) { manager throws(DataChannelError) in
                try manager.open(DataChannelParameters(label: "ch\(index)"))
            })
        }
        #expect(Set(ids).count == 1000)
        link.pump()
        #expect(link.client.channelIDs.count == 1000)
        #expect(link.server.channelIDs.count == 1000)
        for id in ids {
            try link.client.send(.binary([UInt8(truncatingIfNeeded: id)]), on: id)
            try link.server.send(.text("\(id)"), on: id)
        }
        link.pump()
        #expect(link.server.statistics.total.messagesReceived == 1000)
        #expect(link.client.statistics.total.messagesReceived == 1000)
        #expect(link.client.statistics(of: ids[1])?.messagesReceived == 1)
        for (index, id) in ids.enumerated() { link.withManager(index % 3 == 0 ? .server : .client) { $0.close(id) } }
        link.pump()
        #expect(link.client.channelIDs.isEmpty)
        #expect(link.server.channelIDs.isEmpty)
        #expect(link.client.statistics.dropped == DataChannelDropCounters())
        #expect(link.server.statistics.dropped == DataChannelDropCounters())
    }
}
