import DataChannel
import Testing
import TestSupport

@Suite("Hostile peer input")
struct HostileInputTests {
    static func openMessage(label: String = "x") throws -> [UInt8] {
        DCEPMessage.open(try DataChannelOpen(ordered: true, reliability: .reliable, priority: 256, label: label, protocol: ""))
            .serialized()
    }

    @Test func garbageOnTheDCEPPPID() {
        var manager = DataChannelManager(isDTLSClient: true)
        manager.transportConnected()
        var random = SplitMix64(seed: 50)
        for _ in 0..<5_000 {
            let bytes = (0..<Int.random(in: 0...24, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            manager.handleMessage(stream: UInt16.random(in: 0...2047, using: &random), ppid: 50, data: bytes)
        }
        // No channel can come out of it except by a valid OPEN; all else is counted.
        var events = 0
        while manager.pollEvent() != nil { events += 1 }
        let statistics = manager.statistics
        #expect(statistics.dropped.malformedDCEP + statistics.dropped.unexpectedAcknowledgements
            + statistics.dropped.openOnInvalidStream + statistics.dropped.openOnStreamInUse
            + statistics.remoteOpens == 5_000)
        #expect(manager.channelIDs.count == statistics.remoteOpens)
        #expect(manager.channelIDs.allSatisfy { $0 % 2 == 1 && $0 < 1024 })
    }

    @Test func malformedOpenIsRefusedWithAReset() throws {
        var manager = DataChannelManager(isDTLSClient: true)
        manager.transportConnected()
        var truncated = try Self.openMessage()
        truncated.removeLast()
        manager.handleMessage(stream: 3, ppid: 50, data: truncated)
        // RFC 8832 §6: no ACK; the stream is reset.
        #expect(manager.pollCommand() == .resetStream(3))
        #expect(manager.pollCommand() == nil)
        #expect(manager.pollEvent() == nil)
        #expect(manager.statistics.dropped.malformedDCEP == 1)
        #expect(manager.statistics.rejectedOpens == 1)
        // Garbage that is not an OPEN is only counted.
        manager.handleMessage(stream: 5, ppid: 50, data: [0x09, 1, 2])
        #expect(manager.pollCommand() == nil)
        // The peer's answering reset finds no channel.
        manager.handleIncomingStreamReset([3])
        manager.handleOutgoingStreamReset([3])
        #expect(manager.pollEvent() == nil)
        #expect(manager.statistics.dropped.resetOnUnknownStream == 1)
    }

    @Test func openWithWrongParityIsRefused() throws {
        var link = Link()
        link.connect()
        // The server (odd ids) receives an OPEN on an odd id: the client must use even ones.
        link.server.handleMessage(stream: 5, ppid: 50, data: try Self.openMessage())
        #expect(link.commands(from: .server) == [.resetStream(5)])
        #expect(link.takeEvents(.server).isEmpty)
        #expect(link.server.statistics.dropped.openOnInvalidStream == 1)
        #expect(link.server.state(of: 5) == nil)
        // And the client refuses even ones.
        link.client.handleMessage(stream: 2, ppid: 50, data: try Self.openMessage())
        #expect(link.commands(from: .client) == [.resetStream(2)])
        #expect(link.client.statistics.dropped.openOnInvalidStream == 1)
        // Out of range (maximumStreams 1024): dropped, nothing to reset.
        link.server.handleMessage(stream: 1026, ppid: 50, data: try Self.openMessage())
        #expect(link.commands(from: .server).isEmpty)
        #expect(link.server.statistics.dropped.openOnInvalidStream == 2)
    }

    @Test func openOnAStreamInUseClosesThatChannel() throws {
        var link = Link()
        link.connect()
        let id = try link.server.open(DataChannelParameters(label: "mine"))
        link.pump()
        _ = link.takeEvents(.client)
        // A second OPEN on the same stream: RFC 8832 §6 "MUST close the corresponding data channel".
        link.client.handleMessage(stream: id, ppid: 50, data: try Self.openMessage(label: "dup"))
        #expect(link.client.statistics.dropped.openOnStreamInUse == 1)
        #expect(link.client.state(of: id) == .closing)
        #expect(link.client.parameters(of: id)?.label == "mine")
        link.pump()
        #expect(link.takeEvents(.client) == [.closing(id: id), .closed(id: id)])
        #expect(link.server.state(of: id) == nil)
        // A further OPEN while closing sends no second reset.
        let again = try link.server.open(DataChannelParameters())
        link.pump()
        link.client.close(again)
        link.client.handleMessage(stream: again, ppid: 50, data: try Self.openMessage())
        #expect(link.commands(from: .client) == [.resetStream(again)])
    }

    @Test func unexpectedAcknowledgementsAreCounted() throws {
        var link = Link()
        link.connect()
        let id = try link.server.open(DataChannelParameters())
        link.pump()
        _ = link.takeEvents(.client)
        let ack = DCEPMessage.ack.serialized()
        link.client.handleMessage(stream: id, ppid: 50, data: ack) // remote-opened: we sent the ACK
        link.client.handleMessage(stream: 40, ppid: 50, data: ack) // no channel
        link.server.handleMessage(stream: id, ppid: 50, data: ack) // second ACK
        #expect(link.client.statistics.dropped.unexpectedAcknowledgements == 2)
        #expect(link.server.statistics.dropped.unexpectedAcknowledgements == 1)
        #expect(link.takeEvents(.client).isEmpty)
    }

    @Test func openFloodIsBoundedByMaximumStreams() throws {
        var manager = DataChannelManager(isDTLSClient: true, maximumStreams: 64)
        manager.transportConnected()
        let open = try Self.openMessage()
        for round in 0..<3 {
            for stream: UInt16 in 0..<4096 { manager.handleMessage(stream: stream, ppid: 50, data: open) }
            var resets = 0, acks = 0
            while let command = manager.pollCommand() {
                switch command {
                case .resetStream: resets += 1
                case .send(_, .dcep, [0x02], true, .reliable): acks += 1
                case .send: Issue.record("unexpected \(command)")
                }
            }
            // Round 0: 32 odd ids accepted, 32 even refused; later rounds: all 64 ids in use, one reset each
            // for the even ids (stateless) and one closing reset per channel, then nothing more.
            #expect(acks == (round == 0 ? 32 : 0))
            #expect(resets == (round == 1 ? 64 : 32))
            #expect(manager.channelIDs.count == 32)
        }
        #expect(manager.statistics.remoteOpens == 32)
    }

    @Test func userMessageFloodIsCountedNotBuffered() {
        var manager = DataChannelManager(isDTLSClient: false)
        manager.transportConnected()
        for index in 0..<50_000 {
            manager.handleMessage(stream: UInt16(truncatingIfNeeded: index), ppid: UInt32(51 + index % 7), data: [0x41])
        }
        #expect(manager.pollEvent() == nil)
        #expect(manager.pollCommand() == nil)
        let dropped = manager.statistics.dropped
        #expect(dropped.unknownStream + dropped.deprecatedPPID + dropped.unknownPPID + dropped.malformedDCEP == 50_000)
    }
}

@Suite("Refused OPEN seen from the opener")
struct RefusedOpenTests {
    @Test func refusedOpenClosesTheOpenersChannel() throws {
        var link = Link()
        // Both ends believe they are the DTLS client: the OPEN on an even id breaks the peer's rule.
        link.server = DataChannelManager(isDTLSClient: true)
        link.connect()
        let id = try link.client.open(DataChannelParameters(label: "doomed"))
        link.pump()
        // RFC 8832 §6: a reset instead of an ACK means the setup failed; the channel never opened.
        #expect(link.takeEvents(.client) == [.closing(id: id), .closed(id: id)])
        #expect(link.takeEvents(.server).isEmpty)
        #expect(link.client.state(of: id) == nil)
        #expect(link.server.statistics.rejectedOpens == 1)
        // The opener's answering reset finds no channel on the refusing side.
        #expect(link.server.statistics.dropped.resetOnUnknownStream == 1)
    }
}
