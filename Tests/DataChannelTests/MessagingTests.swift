import DataChannel
import Testing

@Suite("Messages (RFC 8831 §6.6, §8)")
struct MessagingTests {
    /// A connected link with one open channel opened by the client.
    static func openLink(_ parameters: DataChannelParameters = DataChannelParameters()) throws -> (Link, UInt16) {
        var link = Link()
        link.connect()
        let id = try link.client.open(parameters)
        link.pump()
        _ = link.takeEvents(.client)
        _ = link.takeEvents(.server)
        return (link, id)
    }

    @Test func textBinaryAndEmptyMessagesRoundTrip() throws {
        var (link, id) = try Self.openLink()
        let messages: [DataChannelMessage] = [.text("héllo 🌍"), .binary([0, 1, 255]), .text(""), .binary([])]
        for message in messages { try link.client.send(message, on: id) }
        let wire = link.commands(from: .client)
        let expected: [(PayloadProtocolIdentifier, [UInt8])] = [
            (.string, Array("héllo 🌍".utf8)), (.binary, [0, 1, 255]), (.emptyString, [0]), (.emptyBinary, [0]),
        ]
        #expect(wire == expected.map { .send(stream: id, ppid: $0.0, data: $0.1, ordered: true, reliability: .reliable) })
        for command in wire { link.deliver(command, from: .client) }
        #expect(link.takeEvents(.server) == messages.map { .message(id: id, $0) })
        let payload = "héllo 🌍".utf8.count + 3
        #expect(link.client.statistics(of: id) == counters(sent: 4, sentBytes: payload))
        #expect(link.server.statistics(of: id) == counters(received: 4, receivedBytes: payload))
        #expect(link.server.statistics.total == counters(received: 4, receivedBytes: payload))
    }

    @Test func emptyMessagePayloadIsIgnored() throws {
        var (link, id) = try Self.openLink()
        // RFC 8831 §6.6: the receiver ignores the payload of PPID 56/57.
        link.server.handleMessage(stream: id, ppid: 56, data: [0x41, 0x42])
        link.server.handleMessage(stream: id, ppid: 57, data: [7])
        #expect(link.takeEvents(.server) == [.message(id: id, .text("")), .message(id: id, .binary([]))])
    }

    @Test func channelReliabilityIsUsedForUserMessages() throws {
        var (link, id) = try Self.openLink(DataChannelParameters(ordered: false, maxPacketLifeTime: 300))
        try link.client.send(.binary([1]), on: id)
        try link.server.send(.binary([2]), on: id)
        let expected = { (byte: UInt8) in
            DataChannelCommand.send(
                stream: id, ppid: .binary, data: [byte], ordered: false, reliability: .partialReliableTimed(300))
        }
        #expect(link.commands(from: .client) == [expected(1)])
        #expect(link.commands(from: .server) == [expected(2)])
    }

    @Test func unknownAndDeprecatedPPIDsAreDroppedAndCounted() throws {
        var (link, id) = try Self.openLink()
        for ppid: UInt32 in [52, 54] { link.server.handleMessage(stream: id, ppid: ppid, data: [1]) }
        for ppid: UInt32 in [0, 49, 55, 58, UInt32.max] { link.server.handleMessage(stream: id, ppid: ppid, data: [1]) }
        link.server.handleMessage(stream: id, ppid: 51, data: [0xFF, 0xFE])
        link.server.handleMessage(stream: 200, ppid: 53, data: [1])
        #expect(link.takeEvents(.server).isEmpty)
        var dropped = DataChannelDropCounters()
        dropped.deprecatedPPID = 2
        dropped.unknownPPID = 5
        dropped.invalidUTF8 = 1
        dropped.unknownStream = 1
        #expect(link.server.statistics.dropped == dropped)
        #expect(link.server.statistics(of: id)?.messagesReceived == 0)
    }

    @Test func messagesOnAClosingChannelAreDropped() throws {
        var (link, id) = try Self.openLink()
        link.client.close(id)
        link.client.handleMessage(stream: id, ppid: 51, data: Array("late".utf8))
        #expect(link.takeEvents(.client).isEmpty)
        #expect(link.client.statistics.dropped.channelNotOpen == 1)
    }

    @Test func messageSizeLimit() throws {
        var (link, id) = try Self.openLink()
        // RFC 8841 §6.1: no a=max-message-size means 64 KiB.
        link.client.setRemoteMaximumMessageSize(nil)
        #expect(link.client.maximumMessageSize == 65_536)
        try link.client.send(.binary(Array(repeating: 1, count: 65_536)), on: id)
        #expect(throws: DataChannelError(.messageTooLarge(size: 65_537, limit: 65_536))) {
            try link.client.send(.binary(Array(repeating: 1, count: 65_537)), on: id)
        }
        link.client.setRemoteMaximumMessageSize(4)
        #expect(throws: DataChannelError(.messageTooLarge(size: 5, limit: 4))) {
            try link.client.send(.text("héll"), on: id)
        }
        // 0 means no limit.
        link.client.setRemoteMaximumMessageSize(0)
        try link.client.send(.binary(Array(repeating: 1, count: 300_000)), on: id)
        #expect(link.client.statistics(of: id)?.messagesSent == 2)
        let limited = DataChannelManager(isDTLSClient: false, maximumMessageSize: 10)
        #expect(limited.maximumMessageSize == 10)
    }

    private func counters(sent: Int = 0, sentBytes: Int = 0, received: Int = 0, receivedBytes: Int = 0)
        -> DataChannelStatistics
    {
        var statistics = DataChannelStatistics()
        statistics.messagesSent = sent
        statistics.bytesSent = sentBytes
        statistics.messagesReceived = received
        statistics.bytesReceived = receivedBytes
        return statistics
    }
}
