import DTLS
import DataChannel
import Foundation
import ICE
import SCTP
import SDP
import Testing
@testable import WebRTC

/// One side of a test connection: the connection, and its events other than those the pipe
/// forwarded (state changes, incoming channels), for the test to read.
struct PipedPeer {
    let connection: PeerConnection
    let events: AsyncStream<PeerConnectionEvent>
}

extension PipedPeer {
    /// Reads `connection`'s events; with `trickle`, candidates and end-of-candidates go to `peer`
    /// (set later with the returned continuation's peer) as they come. Every event is passed on.
    static func start(_ connection: PeerConnection, trickleTo peer: PeerConnection?) -> PipedPeer {
        let (events, continuation) = AsyncStream.makeStream(of: PeerConnectionEvent.self)
        Task {
            for await event in connection.events {
                switch event {
                case .iceCandidate(let candidate): try? await peer?.addIceCandidate(candidate)
                case .endOfCandidates: try? await peer?.addIceCandidate(nil)
                default: break
                }
                continuation.yield(event)
            }
            continuation.finish()
        }
        return PipedPeer(connection: connection, events: events)
    }

    /// The next channel the peer opened.
    func incomingChannel() async throws -> DataChannel {
        for await case .dataChannel(let channel) in events { return channel }
        throw PeerConnectionError(.closed)
    }
}

/// Waits until `condition` holds, polling every 5 ms, at most `seconds`.
func waitUntil(seconds: Double = 10, _ what: String, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while !(await condition()) {
        guard ContinuousClock.now < deadline else { throw WaitTimeout(what: what) }
        try await Task.sleep(for: .milliseconds(5))
    }
}

struct WaitTimeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Full offer/answer exchanges between two PeerConnections over real UDP on 127.0.0.1.
@Suite("PeerConnection over loopback UDP", .serialized)
struct PeerConnectionLoopbackTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"
    static let offererCertificate = Result { try DTLSCertificate.generate() }
    static let answererCertificate = Result { try DTLSCertificate.generate() }

    static func configuration(_ certificate: Result<DTLSCertificate, any Error>) throws -> PeerConnectionConfiguration {
        PeerConnectionConfiguration(hostAddresses: .loopback, certificate: try certificate.get())
    }

    /// Offer/answer with trickled candidates, each side's candidates piped to the other as they come.
    static func connectTrickling(_ offerer: PeerConnection, _ answerer: PeerConnection) async throws -> (PipedPeer, PipedPeer) {
        let a = PipedPeer.start(offerer, trickleTo: answerer)
        let b = PipedPeer.start(answerer, trickleTo: offerer)
        try await offerer.setLocalDescription()
        let offer = try #require(await offerer.localDescription)
        try await answerer.setRemoteDescription(offer)
        try await answerer.setLocalDescription()
        try await offerer.setRemoteDescription(try #require(await answerer.localDescription))
        return (a, b)
    }

    @Test(
        "trickle: a channel created before connecting opens; messages both ways; incoming channel; statistics",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func trickle() async throws {
        let offerer = try PeerConnection(configuration: try Self.configuration(Self.offererCertificate))
        let answerer = try PeerConnection(configuration: try Self.configuration(Self.answererCertificate))
        let chat = try await offerer.createDataChannel("chat", options: DataChannelOptions(protocol: "p"))
        #expect(chat.id == nil)
        let (a, b) = try await Self.connectTrickling(offerer, answerer)
        #expect(offerer.signalingState == .stable && answerer.signalingState == .stable)

        for await event in chat.events where event == .open { break }
        #expect(chat.readyState == .open)
        // The offerer is the DTLS server (the answer says active): odd stream ids (RFC 8832 §6).
        #expect(chat.id.map { $0 % 2 } == 1)
        let incoming = try await b.incomingChannel()
        #expect(incoming.label == "chat" && incoming.parameters.protocol == "p" && incoming.id == chat.id)
        try await chat.send("ping")
        var received = incoming.messages.makeAsyncIterator()
        #expect(await received.next() == .text("ping"))
        try await incoming.send([1, 2, 3])
        var replies = chat.messages.makeAsyncIterator()
        #expect(await replies.next() == .binary([1, 2, 3]))

        try await waitUntil("both connected") { offerer.connectionState == .connected && answerer.connectionState == .connected }
        // Each side's description now lists its candidates and end-of-candidates.
        try await waitUntil("gathering complete") { offerer.iceGatheringState == .complete }
        let local = try SessionDescription(parsing: try #require(await offerer.localDescription).sdp)
        #expect(!local.media[0].candidates.isEmpty)
        #expect(local.media[0].hasEndOfCandidates)
        // The default candidate (the highest priority) is in c= and m= (RFC 9429 §5.2.1).
        let best = try #require(local.media[0].candidates.max { $0.priority < $1.priority })
        #expect(local.media[0].port == best.port)
        #expect(local.media[0].fields.contains(.line(type: .connection, value: "IN \(best.address.contains(":") ? "IP6" : "IP4") \(best.address)")))

        let statistics = await offerer.statistics()
        #expect(statistics.channels.count == 1)
        let channel = try #require(statistics.channels.first)
        #expect(channel.label == "chat" && channel.id == chat.id && channel.state == .open)
        #expect(channel.counters.messagesSent == 1 && channel.counters.bytesSent == 4)
        #expect(channel.counters.messagesReceived == 1 && channel.counters.bytesReceived == 3)
        #expect(statistics.totals == channel.counters)
        let pair = try #require(statistics.selectedCandidatePair)
        #expect(["127.0.0.1", "::1"].contains(pair.local.address) && pair.remote.address == pair.local.address)
        #expect(pair.roundTripTime.map { $0 > .zero && $0 < .seconds(1) } == true)
        #expect(pair.bytesSent > 0 && pair.bytesReceived > 0)
        #expect(statistics.dtls?.protocolVersion == "DTLSv1.2")
        #expect(statistics.dtls?.cipherSuite.isEmpty == false)
        #expect(try #require(statistics.sctp).retransmittedChunks >= 0)
        #expect(try #require(statistics.sctp).messagesSent >= 1)
        #expect(statistics.connectionState == .connected)

        await offerer.close()
        for await event in incoming.events where event == .closed { break }
        #expect(incoming.readyState == .closed)
        await answerer.close()
        _ = a
    }

    @Test(
        "without trickle: wait for gathering, exchange complete descriptions",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func withoutTrickle() async throws {
        let offerer = try PeerConnection(configuration: try Self.configuration(Self.offererCertificate))
        let answerer = try PeerConnection(configuration: try Self.configuration(Self.answererCertificate))
        let a = PipedPeer.start(offerer, trickleTo: nil)
        let b = PipedPeer.start(answerer, trickleTo: nil)
        let channel = try await answerer.createDataChannel("late", options: DataChannelOptions(negotiated: true, id: 9))
        let mirror = try await offerer.createDataChannel("late", options: DataChannelOptions(negotiated: true, id: 9))

        try await offerer.setLocalDescription()
        for await case .endOfCandidates in a.events { break }
        let offer = try #require(await offerer.localDescription)
        #expect(offer.sdp.contains("a=candidate:") && offer.sdp.contains("a=end-of-candidates"))
        try await answerer.setRemoteDescription(offer)
        try await answerer.setLocalDescription()
        for await case .endOfCandidates in b.events { break }
        try await offerer.setRemoteDescription(try #require(await answerer.localDescription))

        for await event in channel.events where event == .open { break }
        try await channel.send("negotiated")
        var iterator = mirror.messages.makeAsyncIterator()
        #expect(await iterator.next() == .text("negotiated"))
        #expect(mirror.maxMessageSize == 262_144)
        await offerer.close()
        await answerer.close()
    }

    @Test(
        "restartIce: new credentials in the next offer, the channel keeps working",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func restart() async throws {
        let offerer = try PeerConnection(configuration: try Self.configuration(Self.offererCertificate))
        let answerer = try PeerConnection(configuration: try Self.configuration(Self.answererCertificate))
        let chat = try await offerer.createDataChannel("chat")
        let (_, b) = try await Self.connectTrickling(offerer, answerer)
        for await event in chat.events where event == .open { break }
        let incoming = try await b.incomingChannel()
        var received = incoming.messages.makeAsyncIterator()
        let before = try SessionDescription(parsing: try #require(await offerer.localDescription).sdp).media[0].iceUfrag
        let answerBefore = try SessionDescription(parsing: try #require(await answerer.localDescription).sdp).media[0].iceUfrag

        await offerer.restartIce()
        try await chat.send("during")
        #expect(await received.next() == .text("during"))
        let offer = try await offerer.createOffer()
        let after = try SessionDescription(parsing: offer.sdp).media[0].iceUfrag
        #expect(after != nil && after != before)
        try await offerer.setLocalDescription(offer)
        try await answerer.setRemoteDescription(offer)
        try await answerer.setLocalDescription()
        let answer = try #require(await answerer.localDescription)
        #expect(try SessionDescription(parsing: answer.sdp).media[0].iceUfrag != answerBefore)
        try await offerer.setRemoteDescription(answer)
        try await waitUntil("ICE of the new generation") {
            let pair = await offerer.statistics().selectedCandidatePair
            return pair?.local.ufrag == after && (offerer.iceConnectionState == .connected || offerer.iceConnectionState == .completed)
        }
        for index in 0..<10 {
            try await chat.send("after \(index)")
            #expect(await received.next() == .text("after \(index)"))
        }
        #expect(offerer.connectionState == .connected)
        await offerer.close()
        await answerer.close()
    }

    @Test(
        "the README example: two connections in one process, a channel, a message",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func readmeExample() async throws {
        let configuration = PeerConnectionConfiguration(hostAddresses: .loopback)
        let alice = try PeerConnection(configuration: configuration)
        let bob = try PeerConnection(configuration: configuration)
        let chat = try await alice.createDataChannel("chat")  // opens once connected

        // Signalling without trickle: each side gathers, then sends its complete description.
        try await alice.setLocalDescription()  // the offer; ICE starts gathering
        for await case .endOfCandidates in alice.events { break }
        guard let offer = await alice.localDescription else { return }
        try await bob.setRemoteDescription(offer)
        try await bob.setLocalDescription()  // the answer
        for await case .endOfCandidates in bob.events { break }
        guard let answer = await bob.localDescription else { return }
        try await alice.setRemoteDescription(answer)

        for await event in chat.events where event == .open { break }
        try await chat.send("hello")
        for await case .dataChannel(let channel) in bob.events {
            for await message in channel.messages {
                print("bob got", message)  // text("hello")
                #expect(message == .text("hello"))
                break
            }
            break
        }
        await alice.close()
        await bob.close()
    }

    /// Open sockets of this process (entries of /proc/self/fd that are sockets).
    static func openSockets() -> Int {
        let directory = "/proc/self/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.count { name in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(name)"))?.hasPrefix("socket:") == true
        }
    }

    /// Live connection objects: cores, engines and SCTP associations.
    static func liveObjects() -> [Int] {
        [PeerConnectionCore.liveCount.withLockedValue { $0 }, ConnectionEngine.liveCount.withLockedValue { $0 },
         SCTPAssociation.liveAssociationCount]
    }

    @Test(
        "200 create/connect/close cycles release every socket and object",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)))
    func releaseCycles() async throws {
        let cycles = 200
        let socketsBefore = Self.openSockets()
        let objectsBefore = Self.liveObjects()
        let started = ContinuousClock.now
        for cycle in 0..<cycles {
            // Every cycle connects fully: ICE, DTLS, SCTP, a channel and one message.
            let offerer = try PeerConnection(configuration: try Self.configuration(Self.offererCertificate))
            let answerer = try PeerConnection(configuration: try Self.configuration(Self.answererCertificate))
            let channel = try await offerer.createDataChannel("cycle \(cycle)")
            let (_, b) = try await Self.connectTrickling(offerer, answerer)
            for await event in channel.events where event == .open { break }
            try await channel.send("cycle \(cycle)")
            let incoming = try await b.incomingChannel()
            var iterator = incoming.messages.makeAsyncIterator()
            #expect(await iterator.next() == .text("cycle \(cycle)"))
            await offerer.close()
            await answerer.close()
        }
        let elapsed = started.duration(to: .now)
        // Objects are freed once the tasks that held them end; wait (bounded) for that.
        let released: Bool
        do {
            try await waitUntil(seconds: 10, "sockets and objects released") {
                Self.openSockets() <= socketsBefore && zip(Self.liveObjects(), objectsBefore).allSatisfy { $0 <= $1 }
            }
            released = true
        } catch {
            released = false
        }
        #expect(released)
        print("release cycles: \(cycles) connections in \(elapsed); sockets \(socketsBefore) → \(Self.openSockets()); live objects (cores, engines, SCTP) \(objectsBefore) → \(Self.liveObjects())")
    }
}
