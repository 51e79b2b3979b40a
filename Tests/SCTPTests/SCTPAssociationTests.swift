import Foundation
import SCTP
import Testing
import TestSupport

/// Serialized: usrsctp is one process-wide stack (shared timer wheel, registry counters).
@Suite(.serialized)
struct SCTPAssociationTests {
    @Test func connectsWhenBothSidesConnect() throws {
        let pair = try Pair()
        #expect(pair.connect())
        #expect(pair.a.nextTimeout != nil)
    }

    @Test func connectsWhenInitArrivesBeforePeerConnects() throws {
        let pair = try Pair()
        pair.a.connect(now: pair.clock.now)
        pair.pump()  // A's INIT reaches B before B's connect: kept, fed after connect.
        pair.b.connect(now: pair.clock.now)
        #expect(pair.run(for: .seconds(10)) { pair.eventsA.contains(.connected) && pair.eventsB.contains(.connected) })
    }

    @Test func oneMessageEachWayWithPPIDs() throws {
        let pair = try Pair()
        #expect(pair.connect())
        pair.capturedAToB = []
        try pair.a.send(Array("hello".utf8), stream: 3, ppid: 51)
        try pair.b.send([1, 2, 3], stream: 4, ppid: 0x0102_0304)
        pair.run(for: .seconds(1)) { !pair.messagesA.isEmpty && !pair.messagesB.isEmpty }
        #expect(pair.messagesB == [SCTPReceivedMessage(stream: 3, ppid: 51, data: Array("hello".utf8))])
        #expect(pair.messagesA == [SCTPReceivedMessage(stream: 4, ppid: 0x0102_0304, data: [1, 2, 3])])
        // On the wire the PPID is big-endian (RFC 4960 §3.3.1), i.e. host order was converted.
        let chunks = (pair.capturedAToB ?? []).flatMap(dataChunks)
        #expect(chunks.contains { $0.stream == 3 && $0.wirePPID == 51 })
        #expect(pair.a.statistics.messagesSent == 1)
        #expect(pair.b.statistics.messagesReceived == 1)
    }

    @Test func largeMessageArrivesWholeAndOversizeIsRejected() throws {
        let pair = try Pair()
        #expect(pair.connect())
        let big = pattern(1, size: 256 * 1024)
        try pair.a.send(big)
        pair.run(for: .seconds(10)) { pair.messagesB.count == 1 }
        #expect(pair.messagesB.count == 1)
        #expect(pair.messagesB.first?.data == big)
        #expect(throws: SCTPError(.messageTooLarge)) { try pair.a.send(pattern(2, size: 4 << 20)) }
        #expect(throws: SCTPError(.emptyMessage)) { try pair.a.send([]) }
        #expect(throws: SCTPError(.invalidStream)) { try pair.a.send([1], stream: 2000) }
    }

    /// 256 streams each way by default (usrsctp allocates state for each of them up front).
    @Test func defaultStreamCountIs256() throws {
        let pair = try Pair()
        #expect(pair.connect())
        try pair.a.send([7], stream: 255)
        pair.run(for: .seconds(10)) { pair.messagesB.count == 1 }
        #expect(pair.messagesB.first?.stream == 255)
        #expect(throws: SCTPError(.invalidStream)) { try pair.a.send([1], stream: 256) }
    }

    @Test func tenThousandSmallMessagesInOrder() throws {
        let pair = try Pair()
        #expect(pair.connect())
        let count = 10_000
        try sendAll(pair, count: count) { i in withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) }
        pair.run(for: .seconds(30)) { pair.messagesB.count == count }
        let received = pair.messagesB.map { $0.data.reduce(0) { $0 << 8 | Int($1) } }
        #expect(received == Array(0..<count))
    }

    @Test func unorderedDeliveryLosesNothing() throws {
        let pair = try Pair()
        #expect(pair.connect())
        let count = 2000
        try sendAll(pair, count: count, stream: { UInt16($0 % 7) }, ordered: false) { i in
            withUnsafeBytes(of: UInt32(i).bigEndian, Array.init)
        }
        pair.run(for: .seconds(30)) { pair.messagesB.count == count }
        let received = pair.messagesB.map { $0.data.reduce(0) { $0 << 8 | Int($1) } }
        #expect(received.count == count)
        #expect(Set(received) == Set(0..<count))
    }

    /// RFC 3758 with seeded loss on DATA-bearing packets a → b.
    @Test(arguments: [SCTPReliability.maxRetransmits(0), .maxPacketLifeTime(milliseconds: 5)])
    func partialReliabilityUnderLoss(reliability: SCTPReliability) throws {
        let pair = try Pair()
        #expect(pair.connect())
        var random = SplitMix64(seed: 42)
        pair.dropAToB = { packet in !dataChunks(packet).isEmpty && Double.random(in: 0..<1, using: &random) < 0.2 }
        let count = 1000
        try sendAll(pair, count: count, ordered: false, reliability: reliability) { i in
            withUnsafeBytes(of: UInt32(i).bigEndian, Array.init) + [UInt8](repeating: 7, count: 200)
        }
        if case .maxPacketLifeTime = reliability {
            // usrsctp measures lifetimes with its own wall clock (gettimeofday), not with our `now`: let real
            // time pass so the lifetime of every queued message has expired before the losses are repaired.
            Thread.sleep(forTimeInterval: 0.02)
        }
        // Let retransmission timers, FORWARD-TSN (RFC 3758 §3.5) and SACKs settle.
        // usrsctp only retransmits (or abandons) chunks that are older than its RTO by its own wall clock, so
        // the virtual clock is paced: 1 ms of real time per 10 ms tick.
        pair.realTimePerTick = 0.001
        pair.run(for: .seconds(60)) { pair.a.bufferedAmount == 0 }
        pair.dropAToB = nil
        pair.run(for: .seconds(5))
        let received = pair.messagesB.map { $0.data.prefix(4).reduce(0) { $0 << 8 | Int($1) } }
        let statistics = pair.a.statistics
        print("PR-SCTP \(reliability): sent \(count), received \(received.count), abandoned \(statistics.abandonedMessages), retransmitted chunks \(statistics.retransmittedChunks)")
        #expect(Set(received).count == received.count, "no duplicates")
        #expect(Set(received).isSubset(of: Set(0..<count)))
        #expect(received.count < count, "some messages were lost")
        #expect(received.count > count / 2)
        #expect(statistics.abandonedMessages > 0)
        #expect(received.count + statistics.abandonedMessages >= count, "every message delivered or abandoned")
    }

    /// Explicit EOR: back-to-back large sends are accepted in pieces; every boundary survives.
    @Test func explicitEORKeepsBoundaries() throws {
        var configuration = SCTPConfiguration()
        configuration.sendBufferSize = 300_000
        let pair = try Pair(configuration, configuration)
        #expect(pair.connect())
        let count = 48
        var random = SplitMix64(seed: 7)
        let sizes = (0..<count).map { _ in Int.random(in: 1000...(256 * 1024), using: &random) }
        var wouldBlocks = 0
        var index = 0
        while index < count, wouldBlocks < 10_000 {
            do {
                // No draining between sends: the buffer fills and sendv accepts partial messages.
                try pair.a.send(pattern(index, size: sizes[index]), stream: UInt16(index % 3))
                index += 1
            } catch let error as SCTPError where error.reason == .wouldBlock {
                wouldBlocks += 1
                #expect(pair.a.bufferedAmount > 0)
                let before = pair.eventsA.count
                pair.run(for: .seconds(10)) { pair.eventsA[before...].contains(.writable) }
            }
        }
        #expect(index == count)
        #expect(wouldBlocks > 0)
        pair.run(for: .seconds(30)) { pair.messagesB.count == count }
        #expect(pair.messagesB.count == count)
        var byStream: [UInt16: [[UInt8]]] = [:]
        for message in pair.messagesB { byStream[message.stream, default: []].append(message.data) }
        for stream in UInt16(0)..<3 {
            let expected = (0..<count).filter { $0 % 3 == Int(stream) }.map { pattern($0, size: sizes[$0]) }
            #expect(byStream[stream] == expected, "stream \(stream)")
        }
    }

    @Test func backpressureWouldBlockThenWritable() throws {
        var configuration = SCTPConfiguration()
        configuration.sendBufferSize = 64 * 1024
        let pair = try Pair(configuration, configuration)
        #expect(pair.connect())
        var accepted = 0
        var blocked = false
        for i in 0..<1000 {
            do {
                try pair.a.send(pattern(i, size: 16 * 1024))
                accepted += 1
            } catch let error as SCTPError where error.reason == .wouldBlock {
                blocked = true
                break
            }
        }
        #expect(blocked)
        #expect(pair.a.bufferedAmount > 0)
        #expect(pair.run(for: .seconds(5)) { pair.eventsA.contains(.writable) })
        try pair.a.send([1, 2, 3])
        pair.run(for: .seconds(5)) { pair.messagesB.count == accepted + 1 }
        #expect(pair.messagesB.count == accepted + 1)
        #expect(pair.run(for: .seconds(5)) { pair.a.bufferedAmount == 0 })
    }

    @Test func streamResetFromEitherSideClosesBothDirections() throws {
        let pair = try Pair()
        #expect(pair.connect())
        try pair.a.send([1], stream: 1)
        try pair.b.send([2], stream: 3)
        pair.run(for: .seconds(1)) { pair.messagesA.count == 1 && pair.messagesB.count == 1 }
        // A closes stream 1; B answers automatically: both directions reset on both sides.
        try pair.a.resetStreams([1])
        #expect(pair.run(for: .seconds(5)) {
            pair.eventsA.contains(.outgoingStreamsReset([1])) && pair.eventsA.contains(.incomingStreamsReset([1]))
                && pair.eventsB.contains(.incomingStreamsReset([1])) && pair.eventsB.contains(.outgoingStreamsReset([1]))
        })
        // B closes stream 3.
        try pair.b.resetStreams([3])
        #expect(pair.run(for: .seconds(5)) {
            pair.eventsB.contains(.outgoingStreamsReset([3])) && pair.eventsB.contains(.incomingStreamsReset([3]))
                && pair.eventsA.contains(.incomingStreamsReset([3])) && pair.eventsA.contains(.outgoingStreamsReset([3]))
        })
        // No reset ping-pong: exactly one reset each way per stream.
        pair.run(for: .seconds(2))
        #expect(pair.eventsA.filter { $0 == .incomingStreamsReset([1]) }.count == 1)
        #expect(pair.eventsB.filter { $0 == .incomingStreamsReset([1]) }.count == 1)
        // The stream id is reusable afterwards (a new channel).
        try pair.a.send([9], stream: 1)
        pair.run(for: .seconds(1)) { pair.messagesB.count == 2 }
        #expect(pair.messagesB.last == SCTPReceivedMessage(stream: 1, ppid: 53, data: [9]))
    }

    /// More streams than the default 256, when configured (browsers announce 1024 or 65535).
    @Test func thousandStreamsUsableWhenConfigured() throws {
        var configuration = SCTPConfiguration()
        configuration.maximumStreams = 1024
        let pair = try Pair(configuration, configuration)
        #expect(pair.connect())
        let streams = 1000
        try sendAll(pair, count: streams, stream: { UInt16($0) }) { i in withUnsafeBytes(of: UInt16(i).bigEndian, Array.init) }
        pair.run(for: .seconds(10)) { pair.messagesB.count == streams }
        #expect(pair.messagesB.count == streams)
        #expect(pair.messagesB.allSatisfy { Int($0.stream) == $0.data.reduce(0) { $0 << 8 | Int($1) } })
        try pair.a.resetStreams(Array(0..<UInt16(streams)))
        func union(_ events: [SCTPEvent], incoming: Bool) -> Set<UInt16> {
            Set(events.flatMap { event -> [UInt16] in
                switch event {
                case .incomingStreamsReset(let list) where incoming: list
                case .outgoingStreamsReset(let list) where !incoming: list
                default: []
                }
            })
        }
        let all = Set(0..<UInt16(streams))
        #expect(pair.run(for: .seconds(30)) {
            union(pair.eventsA, incoming: false) == all && union(pair.eventsB, incoming: true) == all
                && union(pair.eventsB, incoming: false) == all && union(pair.eventsA, incoming: true) == all
        })
    }

    @Test(arguments: [true, false])
    func closeFromEitherSide(closerIsA: Bool) throws {
        let pair = try Pair()
        #expect(pair.connect())
        try pair.a.send([1, 2, 3])
        let closer = closerIsA ? pair.a : pair.b
        closer.close(now: pair.clock.now)
        #expect(pair.run(for: .seconds(5)) { pair.eventsA.contains(.closed) && pair.eventsB.contains(.closed) })
        #expect(pair.messagesB.count == 1, "data queued before close is delivered")
        #expect(throws: SCTPError(.closed)) { try pair.a.send([1]) }
        #expect(pair.a.nextTimeout == nil && pair.b.nextTimeout == nil)
    }

    @Test func hostileInputIsDroppedWithoutHarm() throws {
        let pair = try Pair()
        #expect(pair.connect())
        pair.capturedAToB = []
        try pair.a.send([42])
        pair.run(for: .seconds(1)) { pair.messagesB.count == 1 }
        let real = pair.capturedAToB?.first ?? []
        var random = SplitMix64(seed: 99)
        let before = pair.b.statistics.packetsDropped
        let now = pair.clock.now
        // Too short to be SCTP: refused before usrsctp.
        for length in 0..<12 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            bytes.withUnsafeBytes { pair.b.handlePacket($0, now: now) }
        }
        #expect(pair.b.statistics.packetsDropped == before + 12)
        for _ in 0..<500 {
            // Random bytes (bad checksum), truncated real packets, and random chunks with a valid checksum
            // but a wrong verification tag (RFC 4960 §8.5).
            let random1 = (0..<Int.random(in: 12...1500, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let truncated = Array(real.prefix(Int.random(in: 12...max(12, real.count), using: &random)))
            var forged = Array(real.prefix(12)) + (0..<Int.random(in: 4...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if forged.count >= 8 { forged[4] ^= 0x5A }
            for packet in [random1, truncated, withChecksum(forged)] {
                packet.withUnsafeBytes { pair.b.handlePacket($0, now: now) }
            }
            pair.pump()
        }
        // Still alive and working.
        try pair.a.send([43])
        pair.run(for: .seconds(2)) { pair.messagesB.count == 2 }
        #expect(pair.messagesB.last?.data == [43])
        // Packets for a closed association are dropped and counted.
        pair.a.close(now: pair.clock.now)
        #expect(pair.run(for: .seconds(5)) { pair.eventsB.contains(.closed) })
        let droppedBefore = pair.b.statistics.packetsDropped
        real.withUnsafeBytes { pair.b.handlePacket($0, now: pair.clock.now) }
        #expect(pair.b.statistics.packetsDropped == droppedBefore + 1)
    }

    @Test func lifecycleLeavesNothingBehind() throws {
        let baseline = SCTPAssociation.liveAssociationCount
        let unknownBefore = SCTPAssociation.unknownCallbackCount
        for round in 0..<100 {
            let pair = try Pair()
            #expect(pair.connect())
            try pair.a.send([UInt8(truncatingIfNeeded: round)])
            (round % 2 == 0 ? pair.a : pair.b).close(now: pair.clock.now)
            #expect(pair.run(for: .seconds(5)) { pair.eventsA.contains(.closed) && pair.eventsB.contains(.closed) })
        }
        // Also associations dropped without close, connected or not (deinit aborts).
        for _ in 0..<10 {
            _ = try SCTPAssociation(configuration: .init(), now: VirtualClock.shared.now)
        }
        #expect(SCTPAssociation.liveAssociationCount == baseline)
        // Drive usrsctp's timers for two virtual minutes: no callback may name a released association.
        let driver = try SCTPAssociation(configuration: .init(), now: VirtualClock.shared.now)
        driver.connect(now: VirtualClock.shared.now)
        for _ in 0..<1200 {
            driver.handleTimeout(now: VirtualClock.shared.advance(by: .milliseconds(100)))
            while driver.pollTransmit() != nil {}
        }
        #expect(SCTPAssociation.unknownCallbackCount == unknownBefore)
    }

    @Test func throughput() throws {
        let pair = try Pair()
        #expect(pair.connect())
        let messageSize = 64 * 1024
        let total = 64 << 20
        let count = total / messageSize
        let payload = pattern(0, size: messageSize)
        let start = Date()
        try sendAll(pair, count: count) { _ in payload }
        pair.run(for: .seconds(60)) { pair.messagesB.count == count }
        let seconds = Date().timeIntervalSince(start)
        #expect(pair.messagesB.count == count)
        let statistics = pair.a.statistics
        print(String(format: "SCTP in-process throughput: %.1f MB/s (%d MiB in %.2f s, %d packets a→b, %d retransmitted)",
                     Double(total) / seconds / 1e6, total >> 20, seconds, statistics.packetsSent, statistics.retransmittedChunks))
    }
}
