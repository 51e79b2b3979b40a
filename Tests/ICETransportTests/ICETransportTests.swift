import Foundation
import ICE
import ICETransport
import NIOCore
import STUN
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LoopbackSocketTests {
@Suite("ICETransport on loopback sockets")
struct ICETransportTests {
    @Test("two transports connect with trickle and exchange DTLS-range datagrams both ways", arguments: [true, false])
    func connectAndExchange(firstControls: Bool) async throws {
        let first = try await TestPeer.start(role: firstControls ? .controlling : .controlled)
        let second = try await TestPeer.start(role: firstControls ? .controlled : .controlling)
        try await first.transport.setRemoteCredentials(second.transport.localCredentials)
        try await second.transport.setRemoteCredentials(first.transport.localCredentials)
        let forwarding = [first.trickle(to: second.transport), second.trickle(to: first.transport)]

        try await first.log.wait(for: "first connected") { $0.isConnected }
        try await second.log.wait(for: "second connected") { $0.isConnected }
        try await first.log.wait(for: "first selected a pair") { $0.hasSelectedPair }
        try await second.log.wait(for: "second selected a pair") { $0.hasSelectedPair }
        let firstPair = try #require(await first.log.selectedPair)
        let secondPair = try #require(await second.log.selectedPair)
        #expect(firstPair.local == secondPair.remote)
        #expect(firstPair.remote == secondPair.local)

        let messages = (0..<5).map { dtlsLikePayload("first to second #\($0)") }
        try await first.transport.send(contentsOf: messages.map { ByteBuffer(bytes: $0) })
        for message in messages {
            #expect(try await second.nextDatagram().bytes == message)
        }
        let reply = dtlsLikePayload("second to first")
        try await second.transport.send(ByteBuffer(bytes: reply))
        #expect(try await first.nextDatagram().bytes == reply)

        let statistics = try await second.transport.statistics()
        #expect(statistics.driver.applicationDatagramsReceived == 5)
        #expect(statistics.driver.applicationDatagramsSent == 1)
        #expect((statistics.agent.selectedPair?.bytesReceived ?? 0) == messages.map(\.count).reduce(0, +))
        #expect(statistics.sockets.count == 1)
        #expect(statistics.sockets.allSatisfy { $0.receiveBufferSize > 0 && $0.sendBufferSize > 0 })

        await first.transport.close()
        await second.transport.close()
        for task in forwarding {
            await task.value  // the event streams finish on close
        }
        await #expect(throws: ICETransportError.closed) { try await first.transport.send(ByteBuffer(bytes: reply)) }
    }

    @Test("send before a pair is selected throws noSelectedPair")
    func sendWithoutPair() async throws {
        let peer = try await TestPeer.start(role: .controlling)
        await #expect(throws: ICETransportError.noSelectedPair) {
            try await peer.transport.send(ByteBuffer(bytes: dtlsLikePayload("too early")))
        }
        await peer.transport.close()
    }

    @Test("server-reflexive gathering against our STUN binding server completes; the srflx equal to the host is not emitted")
    func serverReflexiveOwnServer() async throws {
        let service = try await STUNBindingService.start(listeningOn: loopbackV4(), group: testGroup)
        let peer = try await TestPeer.start(role: .controlling, stunServers: [service.socket.localAddress])
        let forwarding = peer.forwardEvents()
        try await peer.log.wait(for: "gathering complete") { $0.gatheringComplete }
        try await assertOnlyHostCandidate(peer)
        let served = try await service.statistics()
        #expect(served.bindingRequestsAnswered >= 1)
        await peer.transport.close()
        await service.close()
        await forwarding.value
    }

    @Test("server-reflexive gathering against coturn (turnserver) completes")
    func serverReflexiveCoturn() async throws {
        let coturn = try await Coturn.start()
        defer { coturn.stop() }
        let peer = try await TestPeer.start(role: .controlling, stunServers: [coturn.address])
        let forwarding = peer.forwardEvents()
        try await peer.log.wait(for: "gathering complete") { $0.gatheringComplete }
        try await assertOnlyHostCandidate(peer)
        // The agent only counts a gathering transaction as answered when coturn's response matched it.
        let statistics = try await peer.transport.statistics()
        #expect(statistics.agent.dropped.unmatchedResponses == 0)
        #expect(statistics.driver.stunDatagramsReceived >= 1)
        await peer.transport.close()
        await forwarding.value
    }

    /// On loopback the server sees the host address itself: the agent treats that srflx as
    /// redundant (RFC 8445 §5.1.3) and emits only the host candidate.
    private func assertOnlyHostCandidate(_ peer: TestPeer) async throws {
        let candidates = await peer.log.localCandidates
        #expect(candidates.count == 1)
        #expect(candidates.first?.kind == .host)
        #expect(candidates.first?.address == "127.0.0.1")
    }

    @Test("close() releases every socket: 50 transports opened and closed, UDP sockets in /proc/self/fd back to the start")
    func closeReleasesDescriptors() async throws {
        let before = openSocketCount()
        #expect(before >= 0)
        for _ in 0..<50 {
            let peer = try await TestPeer.start(role: .controlled)
            #expect(openSocketCount() > before)  // the count does see the transport's socket
            await peer.transport.close()
            await peer.transport.close()  // idempotent
        }
        // Closing is complete when close() returns; allow the count a bounded moment anyway.
        let deadline = ContinuousClock.now + .seconds(5)
        while openSocketCount() > before, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(openSocketCount() == before)
    }
}
}

/// Open UDP socket descriptors of this process: entries of /proc/self/fd that link to
/// `socket:[inode]` with an inode listed in /proc/self/net/udp or udp6 (Linux). Only UDP
/// sockets count, so the Unix-domain sockets Foundation's `Process` closes in the background and
/// the test harness's own descriptors do not disturb the count. Elsewhere: descriptors 0..<4096
/// that `fstat` reports as sockets.
func openSocketCount() -> Int {
    #if os(Linux)
    var udpInodes = Set<Substring>()
    for table in ["/proc/self/net/udp", "/proc/self/net/udp6"] {
        guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            if fields.count > 9 { udpInodes.insert(fields[9]) }
        }
    }
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    var target = [CChar](repeating: 0, count: 64)
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let length = readlink("/proc/self/fd/" + name, &target, target.count - 1)
        guard length > 0 else { continue }
        let link = String(decoding: target.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if link.hasPrefix("socket:["), udpInodes.contains(link.dropFirst(8).dropLast()) {
            count += 1
        }
    }
    return count
    #else
    return (0..<4096).filter { descriptor in
        var status = stat()
        return fstat(Int32(descriptor), &status) == 0 && status.st_mode & S_IFMT == S_IFSOCK
    }.count
    #endif
}
