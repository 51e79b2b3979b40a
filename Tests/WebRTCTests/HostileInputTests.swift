import DTLS
import DataChannel
import Foundation
import ICE
import ICETransport
import NIOConcurrencyHelpers
import SCTP
import SDP
import STUN
import Testing
import TestSupport
@testable import WebRTC

/// Malformed and hostile input at every layer, through real UDP sockets on loopback (issue 9;
/// docs/hostile-inputs.md). Each case connects a victim and a bystander pair, attacks the victim,
/// and checks: nothing crashes; the victim either still round-trips a message or ends in a typed
/// state; the bystanders still round-trip; memory and idle CPU stay bounded; every wait is bounded.
@Suite("HostileInputTests: malformed and unauthenticated input through real sockets", .serialized)
struct HostileInputTests {
    static let inNamespace = PeerConnectionLoopbackTests.inNamespace
    static let certificates = Result { try (0..<3).map { _ in try DTLSCertificate.generate() } }
    /// RSS growth any single case may cause: generous against allocator noise, far below what
    /// unbounded queues fed by these floods would reach.
    static let rssBound = 64 << 20

    // MARK: Fixtures

    /// Two connected peer connections and one open channel between them.
    struct Pair {
        let offerer: PeerConnection
        let answerer: PeerConnection
        let channel: DataChannel
        let incoming: DataChannel
        let answererEvents: PipedPeer

        static func connect(_ label: String, offerer: Int = 0, answerer: Int = 1) async throws -> Pair {
            let certificates = try HostileInputTests.certificates.get()
            let a = try PeerConnection(configuration: PeerConnectionConfiguration(hostAddresses: .loopback, certificate: certificates[offerer]))
            let b = try PeerConnection(configuration: PeerConnectionConfiguration(hostAddresses: .loopback, certificate: certificates[answerer]))
            let channel = try await a.createDataChannel(label)
            let (_, events) = try await PeerConnectionLoopbackTests.connectTrickling(a, b)
            try await waitForOpen(channel)
            // Nominated (RFC 8445 §8.1.1), so that cases can compare the selected pair before and after.
            try await waitUntil("\(label): a selected pair") { await a.statistics().ice?.agent.selectedPair != nil }
            let incoming = try await within(seconds: 10, "\(label): incoming channel") { try await events.incomingChannel() }
            return Pair(offerer: a, answerer: b, channel: channel, incoming: incoming, answererEvents: events)
        }

        /// A message each way.
        func roundTrip(_ text: String) async throws {
            try await channel.send(text)
            #expect(try await HostileInputTests.next(incoming) == .text(text))
            try await incoming.send(text)
            #expect(try await HostileInputTests.next(channel) == .text(text))
        }

        /// The offerer's socket of the selected pair: where off-path attacks go.
        func victimAddress() async throws -> (host: String, port: UInt16) {
            let pair = try #require(await offerer.statistics().selectedCandidatePair)
            return (pair.local.address, pair.local.port)
        }

        func close() async {
            await offerer.close()
            await answerer.close()
        }
    }

    /// A victim connection whose peer is a ``HostilePeer``, with the victim's channel open.
    struct Attacked {
        let victim: PeerConnection
        let victimEvents: PipedPeer
        let peer: HostilePeer
        let channel: DataChannel

        static func connect() async throws -> Attacked {
            let certificates = try HostileInputTests.certificates.get()
            let victim = try PeerConnection(configuration: PeerConnectionConfiguration(hostAddresses: .loopback, certificate: certificates[0]))
            let events = PipedPeer.start(victim, trickleTo: nil)
            let channel = try await victim.createDataChannel("victim")
            let peer = try await HostilePeer.start(certificate: certificates[1])
            try await peer.connect(events)
            try await waitForOpen(channel)
            return Attacked(victim: victim, victimEvents: events, peer: peer, channel: channel)
        }

        /// A message to the hostile peer and its echo back.
        func roundTrip(_ text: String) async throws {
            try await channel.send(text)
            #expect(try await HostileInputTests.next(channel) == .text(text))
        }

        func close() async {
            await victim.close()
            await peer.close()
        }
    }

    static func waitForOpen(_ channel: DataChannel) async throws {
        try await within(seconds: 10, "channel \(channel.label) open") {
            for await event in channel.events where event == .open { return }
        }
        #expect(channel.readyState == .open)
    }

    /// The next message on `channel`, at most 10 s away.
    static func next(_ channel: DataChannel) async throws -> DataChannelMessage? {
        try await within(seconds: 10, "a message on \(channel.label)") {
            for await message in channel.messages { return message }
            return nil
        }
    }

    /// Runs one case: a bystander pair around `attack`, then the shared checks. Prints one line
    /// for docs/hostile-inputs.md.
    static func run(_ name: String, _ attack: () async throws -> String) async throws {
        let bystanders = try await Pair.connect("bystander")
        try await bystanders.roundTrip("before")
        let rssBefore = residentBytes()
        let started = ContinuousClock.now
        let outcome = try await attack()
        let elapsed = started.duration(to: .now)
        let rssGrowth = residentBytes() - rssBefore
        try await bystanders.roundTrip("after")
        #expect(bystanders.offerer.connectionState == .connected)
        // Idle CPU after the attack: a loop left spinning would show here.
        let cpuBefore = processCPUTime()
        try await Task.sleep(for: .milliseconds(500))
        let idleCPU = processCPUTime() - cpuBefore
        #expect(idleCPU < .milliseconds(250), "CPU while idle after \(name): \(idleCPU)")
        #expect(rssGrowth < rssBound, "RSS grew by \(rssGrowth) bytes in \(name)")
        await bystanders.close()
        print("hostile-input | \(name) | \(outcome) | RSS +\(rssGrowth >> 10) KiB | attack and checks \(elapsed.formatted(.units(allowed: [.milliseconds]))) | idle CPU \(idleCPU.formatted(.units(allowed: [.milliseconds])))")
    }

    /// Why sending `message` on `channel` failed, or `nil` if it did not.
    static func sendError(_ channel: DataChannel, _ message: DataChannelMessage, suspending: Bool = true) async -> DataChannelSendError.Reason? {
        do throws(DataChannelSendError) {
            if suspending { try await channel.send(message) } else { try await channel.trySend(message) }
            return nil
        } catch {
            return error.reason
        }
    }

    static func iceStatistics(_ connection: PeerConnection) async throws -> ICETransportStatistics {
        try #require(await connection.statistics().ice)
    }

    /// Unauthenticated input must not change ICE's state (RFC 8445 §7.3): no candidate learned,
    /// no pair added, the same selected pair.
    static func expectICEUnchanged(_ before: ICETransportStatistics, _ after: ICETransportStatistics,
                                   sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(after.agent.peerReflexiveCandidateCount == before.agent.peerReflexiveCandidateCount, sourceLocation: sourceLocation)
        #expect(after.agent.remoteCandidateCount == before.agent.remoteCandidateCount, sourceLocation: sourceLocation)
        #expect(after.agent.pairs.count == before.agent.pairs.count, sourceLocation: sourceLocation)
        #expect(after.agent.selectedPair?.remote == before.agent.selectedPair?.remote, sourceLocation: sourceLocation)
        #expect(after.agent.selectedPair?.local == before.agent.selectedPair?.local, sourceLocation: sourceLocation)
    }

    // MARK: Off-path: the raw socket

    @Test(
        "random bytes of random lengths from many ports: dropped and counted",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func randomBytes() async throws {
        try await Self.run("random bytes") {
            let victim = try await Pair.connect("victim")
            let target = try await victim.victimAddress()
            let before = try await Self.iceStatistics(victim.offerer)
            var random = SplitMix64(seed: 9)
            let sockets = try (0..<8).map { _ in try AttackerSocket(family: target.host.contains(":") ? AF_INET6 : AF_INET) }
            let count = 20_000
            for index in 0..<count {
                let length = Int(random.next() % 1400)
                let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                sockets[index % sockets.count].send(bytes, to: target.host, port: target.port)
                if index % 500 == 499 { try await Task.sleep(for: .milliseconds(1)) }
            }
            try await victim.roundTrip("after random bytes")
            let after = try await Self.iceStatistics(victim.offerer)
            let dropped = (after.driver.droppedUnknownKind - before.driver.droppedUnknownKind)
                + (after.driver.droppedApplicationDataOffPath - before.driver.droppedApplicationDataOffPath)
                + (after.driver.stunDatagramsReceived - before.driver.stunDatagramsReceived)
            #expect(dropped > 0)
            Self.expectICEUnchanged(before, after)
            #expect(victim.offerer.connectionState == .connected)
            await victim.close()
            return "\(count) datagrams sent, \(after.driver.datagramsReceived - before.driver.datagramsReceived) read; no pair or candidate added; victim round-trips"
        }
    }

    /// A binding request to `victim`'s offerer as its peer would send it, integrity under `key`.
    static func bindingRequest(_ victim: Pair, key: STUNIntegrityKey?, useCandidate: Bool = false) async throws -> [UInt8] {
        let local = try SessionDescription(parsing: try #require(await victim.offerer.localDescription).sdp).media[0]
        let remote = try SessionDescription(parsing: try #require(await victim.answerer.localDescription).sdp).media[0]
        var attributes: [STUNAttribute] = [
            .username("\(try #require(local.iceUfrag)):\(try #require(remote.iceUfrag))"), .priority(0x7EFF_FFFF),
            .iceControlled(tieBreaker: 1),
        ]
        if useCandidate { attributes.append(.useCandidate) }
        let message = STUNMessage(method: .binding, messageClass: .request, attributes: attributes)
        return try message.encoded(integrity: key, fingerprint: true)
    }

    @Test(
        "truncated and oversized STUN: dropped, no candidate, no pair",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func malformedSTUN() async throws {
        try await Self.run("truncated and oversized STUN") {
            let victim = try await Pair.connect("victim")
            let target = try await victim.victimAddress()
            let socket = try AttackerSocket(family: target.host.contains(":") ? AF_INET6 : AF_INET)
            let before = try await Self.iceStatistics(victim.offerer)
            // Correctly keyed, so only the damage decides: every proper prefix of the request.
            let offer = try #require(await victim.offerer.localDescription)
            let password = try #require(try SessionDescription(parsing: offer.sdp).media[0].icePwd)
            let request = try await Self.bindingRequest(victim, key: .shortTerm(password: password))
            var sent = 0
            for length in 0..<request.count {
                socket.send(Array(request.prefix(length)), to: target.host, port: target.port)
                sent += 1
            }
            // The header's length says more (or less) than the datagram holds.
            for claimed in [0, 4, 0x0FFC, 0xFFFC] {
                var lying = request
                lying[2] = UInt8(claimed >> 8)
                lying[3] = UInt8(claimed & 0xFF)
                socket.send(lying, to: target.host, port: target.port)
                sent += 1
            }
            // Oversized: 9000 bytes of well-formed unknown optional attributes (type 0x8123), and a
            // 60000-byte datagram of zeros behind a STUN header.
            var large = Array(request.prefix(20))
            while large.count < 9000 { large += [0x81, 0x23, 0x00, 0x04, 1, 2, 3, 4] }
            large[2] = UInt8((large.count - 20) >> 8)
            large[3] = UInt8((large.count - 20) & 0xFF)
            socket.send(large, to: target.host, port: target.port)
            socket.send(Array(request.prefix(20)) + [UInt8](repeating: 0, count: 60_000), to: target.host, port: target.port)
            sent += 2
            try await victim.roundTrip("after malformed STUN")
            let after = try await Self.iceStatistics(victim.offerer)
            #expect(after.agent.dropped.malformed > before.agent.dropped.malformed)
            Self.expectICEUnchanged(before, after)
            await victim.close()
            return "\(sent) datagrams; \(after.agent.dropped.malformed - before.agent.dropped.malformed) counted malformed; no candidate or pair added; victim round-trips"
        }
    }

    @Test(
        "checks with valid shape and wrong credentials change nothing (RFC 8445 §7.3, RFC 7675)",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func wrongIntegrity() async throws {
        try await Self.run("STUN checks with wrong integrity") {
            let victim = try await Pair.connect("victim")
            let target = try await victim.victimAddress()
            let before = try await Self.iceStatistics(victim.offerer)
            let wrongKey = STUNIntegrityKey.shortTerm(password: "not-the-password-at-all-0")
            let sockets = try (0..<50).map { _ in try AttackerSocket(family: target.host.contains(":") ? AF_INET6 : AF_INET) }
            var sent = 0
            for round in 0..<10 {
                for socket in sockets {
                    // USE-CANDIDATE and a high priority: what a hijacker would want honoured.
                    socket.send(try await Self.bindingRequest(victim, key: wrongKey, useCandidate: round % 2 == 0), to: target.host, port: target.port)
                    sent += 1
                }
            }
            // Without MESSAGE-INTEGRITY at all.
            sockets[0].send(try await Self.bindingRequest(victim, key: nil, useCandidate: true), to: target.host, port: target.port)
            sent += 1
            try await victim.roundTrip("after wrong credentials")
            let after = try await Self.iceStatistics(victim.offerer)
            let refused = (after.agent.dropped.unauthenticatedRequests - before.agent.dropped.unauthenticatedRequests)
                + (after.agent.dropped.badRequests - before.agent.dropped.badRequests)
            #expect(refused > 0)
            Self.expectICEUnchanged(before, after)
            await victim.close()
            return "\(sent) requests from 50 ports; \(refused) refused; no candidate or pair added, selected pair unchanged"
        }
    }

    @Test(
        "ClientHello flood from 200 ports: dropped off-path, the victim keeps working",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func clientHelloFlood() async throws {
        try await Self.run("DTLS ClientHello flood") {
            let victim = try await Pair.connect("victim")
            let target = try await victim.victimAddress()
            let before = try await Self.iceStatistics(victim.offerer)
            let dtlsBefore = try #require(await victim.offerer.statistics().dtlsCounters)
            let hellos = try Self.clientHellos(count: 8)
            let sockets = try (0..<200).map { _ in try AttackerSocket(family: target.host.contains(":") ? AF_INET6 : AF_INET) }
            var sent = 0
            for round in 0..<5 {
                for (index, socket) in sockets.enumerated() {
                    socket.send(hellos[(index + round) % hellos.count], to: target.host, port: target.port)
                    sent += 1
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            try await victim.roundTrip("after the flood")
            let after = try await Self.iceStatistics(victim.offerer)
            let dtlsAfter = try #require(await victim.offerer.statistics().dtlsCounters)
            let droppedOffPath = after.driver.droppedApplicationDataOffPath - before.driver.droppedApplicationDataOffPath
            #expect(droppedOffPath > 0)
            // None reached DTLS: the only new datagrams are the round trip's own.
            #expect(dtlsAfter.datagramsReceived - dtlsBefore.datagramsReceived < 20)
            #expect(dtlsAfter.malformedDatagrams == dtlsBefore.malformedDatagrams)
            await victim.close()
            return "\(sent) ClientHellos; \(droppedOffPath) dropped by ICE as off-path, \(dtlsAfter.datagramsReceived - dtlsBefore.datagramsReceived) datagrams reached DTLS (the round trip's)"
        }
    }

    /// Real DTLS 1.2 ClientHellos from fresh client sessions.
    static func clientHellos(count: Int) throws -> [[UInt8]] {
        let certificate = try certificates.get()[2]
        return try (0..<count).compactMap { _ in
            let session = try OpenSSLDTLSSession(role: .client, certificate: certificate, remoteFingerprints: [certificate.fingerprint()], now: .now)
            session.start(now: .now)
            return session.pollTransmit()
        }
    }

    @Test(
        "a certificate that does not match the SDP fingerprint fails the connection with a typed error",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func fingerprintMismatch() async throws {
        try await Self.run("certificate not matching a=fingerprint") {
            let certificates = try Self.certificates.get()
            let offerer = try PeerConnection(configuration: PeerConnectionConfiguration(hostAddresses: .loopback, certificate: certificates[0]))
            let answerer = try PeerConnection(configuration: PeerConnectionConfiguration(hostAddresses: .loopback, certificate: certificates[1]))
            let channel = try await offerer.createDataChannel("never")
            let a = PipedPeer.start(offerer, trickleTo: answerer)
            let b = PipedPeer.start(answerer, trickleTo: offerer)
            try await offerer.setLocalDescription()
            try await answerer.setRemoteDescription(try #require(await offerer.localDescription))
            try await answerer.setLocalDescription()
            // The answer names a third certificate: the answerer's real one matches nothing.
            let answer = try #require(await answerer.localDescription)
            let real = certificates[1].fingerprint().hexDigest
            let other = certificates[2].fingerprint().hexDigest
            #expect(answer.sdp.contains(real))
            try await offerer.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: answer.sdp.replacingOccurrences(of: real, with: other)))
            try await waitUntil("the offerer failed") { offerer.connectionState == .failed }
            let failure = await offerer.statistics().transportFailure
            #expect(failure == DataChannelTransportError(.dtls(DTLSError(.fingerprintMismatch))))
            // Its bad_certificate alert fails the answerer too (RFC 5246 §7.2.2).
            try await waitUntil("the answerer failed") { answerer.connectionState == .failed }
            let answererFailure = await answerer.statistics().transportFailure
            #expect(answererFailure.map { if case .dtls(let error) = $0.reason, case .alertReceived = error.reason { true } else { false } } == true)
            // No data: the channel never opened, the answerer never heard of it.
            try await waitUntil("the channel closed") { channel.readyState == .closed }
            #expect(await answerer.statistics().channels.isEmpty)
            #expect(await offerer.statistics().totals.messagesReceived == 0)
            await offerer.close()
            await answerer.close()
            _ = (a, b)
            return "offerer failed with \(failure.map(String.init(describing:)) ?? "nil"); answerer with \(answererFailure.map(String.init(describing:)) ?? "nil"); channel closed unopened, nothing delivered"
        }
    }

    // MARK: On path: a peer that completed ICE and DTLS with the victim

    @Test(
        "valid DTLS records from an address that is not the peer's are ignored; the same bytes on path are not",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func dtlsFromAnotherAddress() async throws {
        try await Self.run("valid DTLS records from another address") {
            let attacked = try await Attacked.connect()
            let target = try #require(await attacked.victim.statistics().selectedCandidatePair?.local)
            // Our SCTP's next packets (a DCEP OPEN on stream 2) are held back instead of sent.
            let held = NIOLockedValueBox<[[UInt8]]>([])
            try await attacked.peer.setTap { packet in
                held.withLockedValue { $0.append(packet) }
                return []
            }
            let open = try DataChannelOpen(ordered: true, reliability: .reliable, priority: 0, label: "smuggled", protocol: "")
            try await attacked.peer.send(DCEPMessage.open(open).serialized(), stream: 2, ppid: PayloadProtocolIdentifier.dcep.rawValue)
            let datagrams = try await attacked.peer.seal(held.withLockedValue { $0 })
            #expect(!datagrams.isEmpty)
            let before = try await Self.iceStatistics(attacked.victim)
            let dtlsBefore = try #require(await attacked.victim.statistics().dtlsCounters)
            let socket = try AttackerSocket(family: target.address.contains(":") ? AF_INET6 : AF_INET)
            for _ in 0..<20 {
                for datagram in datagrams { socket.send(datagram, to: target.address, port: target.port) }
            }
            try await Task.sleep(for: .milliseconds(300))
            let after = try await Self.iceStatistics(attacked.victim)
            let dtlsAfter = try #require(await attacked.victim.statistics().dtlsCounters)
            #expect(after.driver.droppedApplicationDataOffPath - before.driver.droppedApplicationDataOffPath >= 20 * datagrams.count)
            #expect(await attacked.victim.statistics().channels.count == 1)
            let reachedDTLS = dtlsAfter.datagramsReceived - dtlsBefore.datagramsReceived
            // The same bytes from the peer's address: the channel opens. (Until now the tap also
            // held back our SCTP's retransmissions, so nothing else could have opened it.)
            try await attacked.peer.setTap(nil)
            try await attacked.peer.sendDatagrams(datagrams)
            try await waitUntil("the channel opened on path") { await attacked.victim.statistics().channels.count == 2 }
            try await attacked.roundTrip("after the off-path records")
            await attacked.close()
            return "\(20 * datagrams.count) valid records from another port: all dropped by ICE (\(reachedDTLS) datagrams reached DTLS meanwhile, the peer's own), no channel; the same records from the peer's address open it"
        }
    }

    /// A DTLS 1.2 record (RFC 6347 §4.1): type, version 1.2, epoch, 48-bit sequence number, length, body.
    static func record(type: UInt8, epoch: UInt16, sequence: UInt64, body: [UInt8], length: Int? = nil) -> [UInt8] {
        let size = length ?? body.count
        var bytes: [UInt8] = [type, 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF)]
        bytes += (0..<6).map { UInt8(truncatingIfNeeded: sequence >> (8 * (5 - $0))) }
        bytes += [UInt8(truncatingIfNeeded: size >> 8), UInt8(truncatingIfNeeded: size)]
        return bytes + body
    }

    @Test(
        "DTLS records out of epoch, with bad MACs, truncated, plaintext alerts, ClientHellos and replays on path",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func badDTLSRecords() async throws {
        try await Self.run("bad DTLS records on path") {
            let attacked = try await Attacked.connect()
            try await attacked.roundTrip("before")
            let dtlsBefore = try #require(await attacked.victim.statistics().dtlsCounters)
            var random = SplitMix64(seed: 6347)
            func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
            var crafted: [[UInt8]] = []
            // Current epoch, random ciphertext: the MAC (GCM tag) fails.
            for index in 0..<300 {
                crafted.append(Self.record(type: 23, epoch: 1, sequence: 1_000 + UInt64(index), body: bytes(24 + index % 200)))
            }
            // Epochs that do not exist, application data in epoch 0.
            for epoch: UInt16 in [0, 2, 3, 0x7FFF, 0xFFFF] {
                crafted.append(Self.record(type: 23, epoch: epoch, sequence: 5, body: bytes(64)))
            }
            // Plaintext alerts in epoch 0: a fatal handshake_failure and a close_notify.
            crafted.append(Self.record(type: 21, epoch: 0, sequence: 50, body: [2, 40]))
            crafted.append(Self.record(type: 21, epoch: 0, sequence: 51, body: [1, 0]))
            // A fresh ClientHello (renegotiation or a new session on the same 5-tuple).
            crafted += try Self.clientHellos(count: 2)
            // Truncated: length beyond the datagram, a bare header, a short header; an unknown type;
            // a valid-looking record followed by a broken one.
            crafted.append(Self.record(type: 23, epoch: 1, sequence: 9_000, body: bytes(10), length: 500))
            crafted.append(Self.record(type: 23, epoch: 1, sequence: 9_001, body: []))
            crafted.append([23, 0xFE, 0xFD, 0])
            crafted.append(Self.record(type: 63, epoch: 1, sequence: 9_002, body: bytes(40)))
            crafted.append(Self.record(type: 22, epoch: 1, sequence: 9_003, body: bytes(40)) + [23, 0xFE])
            // Replays of our own valid records.
            let recent = try await attacked.peer.recentDatagrams()
            for _ in 0..<20 { crafted += recent }
            try await attacked.peer.sendDatagrams(crafted)
            try await attacked.roundTrip("after bad records")
            #expect(attacked.victim.connectionState == .connected)
            #expect(attacked.channel.readyState == .open)
            let dtlsAfter = try #require(await attacked.victim.statistics().dtlsCounters)
            let dropped = (dtlsAfter.malformedDatagrams - dtlsBefore.malformedDatagrams) + (dtlsAfter.ignoredDatagrams - dtlsBefore.ignoredDatagrams)
            await attacked.close()
            return "\(crafted.count) crafted datagrams (\(recent.count * 20) replays); DTLS counted \(dropped) malformed or ignored; still connected, round-trips"
        }
    }

    /// An SCTP packet to the victim: ports 5000, `tag`, the chunks, and a correct CRC32c.
    static func sctpPacket(tag: UInt32, _ chunks: [UInt8]) -> [UInt8] {
        let header: [UInt8] = [0x13, 0x88, 0x13, 0x88, UInt8(tag >> 24), UInt8(truncatingIfNeeded: tag >> 16), UInt8(truncatingIfNeeded: tag >> 8), UInt8(truncatingIfNeeded: tag), 0, 0, 0, 0]
        return withChecksum(header + chunks)
    }

    @Test(
        "SCTP chunks with absurd lengths, wrong tags and checksums, random chunks, sealed in valid DTLS records",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func absurdSCTPChunks() async throws {
        try await Self.run("SCTP chunks with absurd lengths") {
            let attacked = try await Attacked.connect()
            try await attacked.roundTrip("before")
            let tag = try #require(await attacked.peer.snapshot().verificationTag)
            var random = SplitMix64(seed: 4960)
            func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
            var packets: [[UInt8]] = []
            // DATA claiming 65535 bytes (DATA shorter than its header: `violatingDataChunks`).
            packets.append(Self.sctpPacket(tag: tag, [0x00, 0x03, 0xFF, 0xFF] + bytes(60)))
            // SACK claiming 65535 gap blocks and 65535 duplicates in 16 bytes.
            packets.append(Self.sctpPacket(tag: tag, [0x03, 0, 0x00, 0x10] + bytes(8) + [0xFF, 0xFF, 0xFF, 0xFF]))
            // INIT inside the association, with our tag (must be 0) and then 0, a parameter of 65535 bytes.
            let initChunk: [UInt8] = [0x01, 0, 0x00, 0x18] + bytes(4) + [0, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF] + bytes(4) + [0x00, 0x05, 0xFF, 0xFF]
            packets.append(Self.sctpPacket(tag: tag, initChunk))
            packets.append(Self.sctpPacket(tag: 0, initChunk))
            // RE-CONFIG (RFC 6525) whose parameter claims 65535 bytes, HEARTBEAT whose info does.
            packets.append(Self.sctpPacket(tag: tag, [0x82, 0, 0x00, 0x14, 0x00, 0x0D, 0xFF, 0xFF] + bytes(12)))
            packets.append(Self.sctpPacket(tag: tag, [0x04, 0, 0x00, 0x0C, 0x00, 0x01, 0xFF, 0xFF] + bytes(4)))
            // Unknown chunk types: "stop and discard" (00) and "skip" (10) bits, lengths past the end.
            packets.append(Self.sctpPacket(tag: tag, [0x3F, 0, 0xFF, 0xF0] + bytes(20)))
            packets.append(Self.sctpPacket(tag: tag, [0xBF, 0, 0x00, 0x08] + bytes(4) + [0xBF, 0, 0x40, 0x00]))
            // An ABORT with a wrong tag, and one whose T bit claims the peer's tag but carries ours
            // (RFC 4960 §8.5.1: both must be ignored).
            packets.append(Self.sctpPacket(tag: tag &+ 1, [0x06, 0, 0x00, 0x04]))
            packets.append(Self.sctpPacket(tag: tag, [0x06, 0x01, 0x00, 0x04]))
            // A packet with a bad checksum, one shorter than the common header.
            var badChecksum = Self.sctpPacket(tag: tag, [0x06, 0, 0x00, 0x04])
            badChecksum[8] ^= 0xFF
            packets.append(badChecksum)
            packets.append(Array(Self.sctpPacket(tag: tag, []).prefix(8)))
            // Random chunks of types that cannot legitimately end an association (no ABORT,
            // SHUTDOWN, INIT, COOKIE, SACK or FORWARD-TSN), with random lengths.
            let types: [UInt8] = [0x04, 0x05, 0x09, 0x0C, 0x0D, 0x82, 0x3F, 0x7F, 0xBF, 0xFF]
            for _ in 0..<300 {
                let body = bytes(Int(random.next() % 200))
                let claimed = Int(random.next() % 0x1_0000)
                let type = types[Int(random.next() % UInt64(types.count))]
                packets.append(Self.sctpPacket(tag: tag, [type, UInt8(truncatingIfNeeded: random.next()), UInt8(claimed >> 8), UInt8(claimed & 0xFF)] + body))
            }
            for packet in packets { try await attacked.peer.sendSCTPPacket(packet) }
            try await attacked.roundTrip("after absurd chunks")
            #expect(attacked.victim.connectionState == .connected)
            let sctp = try #require(await attacked.victim.statistics().sctp)
            await attacked.close()
            return "\(packets.count) crafted SCTP packets; victim SCTP received \(sctp.packetsReceived) packets in all; association up, round-trips"
        }
    }

    /// DATA chunks that break RFC 4960 §3.3.1 / §6.2, which usrsctp answers with an ABORT.
    static let violatingDataChunks: [(name: String, chunk: [UInt8])] = [
        // RFC 4960 §6.2: "If an endpoint receives a DATA chunk with no user data (i.e., the
        // Length field is set to 16), it MUST send an ABORT with error cause set to 'No User Data'".
        ("DATA chunk without user data", [0x00, 0x03, 0x00, 0x10, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0x33]),
        // Length fields below the DATA header: a protocol violation (RFC 4960 §3.3.1).
        ("DATA chunk of length 0", [0x00, 0x03, 0x00, 0x00] + [UInt8](repeating: 0xA5, count: 16)),
        ("DATA chunk of length 3", [0x00, 0x03, 0x00, 0x03] + [UInt8](repeating: 0xA5, count: 16)),
    ]

    @Test(
        "DATA chunks that violate RFC 4960: the victim aborts that association only, its channels close with typed errors",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)),
        arguments: violatingDataChunks.indices)
    func violatingDataChunk(_ index: Int) async throws {
        let (name, chunk) = Self.violatingDataChunks[index]
        try await Self.run(name) {
            let attacked = try await Attacked.connect()
            try await attacked.roundTrip("before")
            let tag = try #require(await attacked.peer.snapshot().verificationTag)
            try await attacked.peer.sendSCTPPacket(Self.sctpPacket(tag: tag, chunk))
            try await waitUntil("the victim's channel closed") { attacked.channel.readyState == .closed }
            try await waitUntil("the hostile peer's SCTP closed") { await attacked.peer.snapshot().sctpClosed }
            let state = attacked.victim.connectionState
            let refusal = await Self.sendError(attacked.channel, .text("after the abort"))
            #expect(refusal == .notOpen || refusal == .connectionClosed)
            // A new channel on the dead association is refused with a typed error, never a trap.
            var creation: PeerConnectionError?
            do throws(PeerConnectionError) { _ = try await attacked.victim.createDataChannel("late") } catch { creation = error }
            await attacked.close()
            return "association aborted; victim channel closed, send fails (\(refusal.map { "\($0)" } ?? "nil")), createDataChannel \(creation.map { "throws \($0)" } ?? "succeeds"); connection state \(state)"
        }
    }

    // MARK: Channels and messages

    @Test(
        "DCEP opens with 64 KiB labels and protocols, and with lying length fields",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func hugeLabels() async throws {
        try await Self.run("DCEP OPEN with huge labels") {
            let attacked = try await Attacked.connect()
            let huge = try DataChannelOpen(
                ordered: true, reliability: .reliable, priority: 0,
                label: String(repeating: "L", count: DataChannelLimits.maximumLabelLength),
                protocol: String(repeating: "P", count: DataChannelLimits.maximumLabelLength))
            let opens = 32
            // We are the DTLS client: even stream ids are ours (RFC 8832 §6).
            for index in 0..<opens {
                try await Self.sendPaced(attacked.peer, DCEPMessage.open(huge).serialized(), stream: UInt16(2 * index), ppid: 50)
            }
            // An OPEN whose label length says 65535 bytes but carries 10, and one with a 65535-byte
            // label plus a protocol length pointing past the end.
            var lying = DCEPMessage.open(try DataChannelOpen(ordered: true, reliability: .reliable, priority: 0, label: "0123456789", protocol: "")).serialized()
            lying[8] = 0xFF
            lying[9] = 0xFF
            try await Self.sendPaced(attacked.peer, lying, stream: 200, ppid: 50)
            var pastEnd = DCEPMessage.open(huge).serialized().dropLast(100)
            pastEnd[pastEnd.startIndex + 10] = 0xFF
            try await Self.sendPaced(attacked.peer, Array(pastEnd), stream: 202, ppid: 50)
            try await waitUntil("the huge channels announced") { await attacked.victim.statistics().channels.count == 1 + opens }
            let channels = await attacked.victim.statistics().channels
            #expect(channels.filter { $0.label.utf8.count == DataChannelLimits.maximumLabelLength }.count == opens)
            #expect(!channels.contains { $0.id == 200 || $0.id == 202 })
            try await attacked.roundTrip("after huge labels")
            await attacked.close()
            return "\(opens) OPENs with 65535-byte label and protocol accepted (valid, RFC 8832 §5.1), 2 with lying lengths refused; round-trips"
        }
    }

    /// Sends through the hostile peer's SCTP, waiting (bounded) while its buffer is full.
    static func sendPaced(_ peer: HostilePeer, _ data: [UInt8], stream: UInt16, ppid: UInt32, ordered: Bool = true) async throws {
        try await waitUntil("room in the hostile peer's SCTP") {
            do {
                try await peer.send(data, stream: stream, ppid: ppid, ordered: ordered)
                return true
            } catch {
                return false
            }
        }
    }

    @Test(
        "opening 65535 channels through the API: refused beyond the stream limit with a typed error; still usable",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func openAllChannelsThroughTheAPI() async throws {
        try await Self.run("65535 createDataChannel calls") {
            let victim = try await Pair.connect("victim")
            var opened: [DataChannel] = []
            var refusals = 0
            var firstRefusal: PeerConnectionError?
            for index in 1..<65_536 {
                do throws(PeerConnectionError) {
                    opened.append(try await victim.offerer.createDataChannel("c\(index)"))
                } catch {
                    refusals += 1
                    if firstRefusal == nil { firstRefusal = error }
                }
            }
            // 256 streams, half of them ours (RFC 8832 §6), one taken by the victim's channel.
            let limit = Int(DataChannelLimits.defaultMaximumStreams) / 2 - 1
            #expect(opened.count == limit)
            #expect(refusals == 65_535 - limit)
            if case .invalidParameters(let why)? = firstRefusal?.reason {
                #expect(why.contains("stream"))
            } else {
                Issue.record("refusal was \(String(describing: firstRefusal))")
            }
            try await waitUntil("every channel open") { opened.allSatisfy { $0.readyState == .open } }
            // Closing some frees their ids once the resets complete (RFC 8831 §6.7).
            for channel in opened.prefix(8) { channel.close() }
            try await waitUntil("eight closed") { opened.prefix(8).allSatisfy { $0.readyState == .closed } }
            try await waitUntil("ids free again") { await victim.offerer.statistics().channels.count == 1 + limit - 8 }
            let again = try await victim.offerer.createDataChannel("again")
            try await Self.waitForOpen(again)
            try await victim.roundTrip("after 65535 opens")
            await victim.close()
            return "\(opened.count) opened, \(refusals) refused with .invalidParameters(\"\(firstRefusal.map { "\($0)" } ?? "")\"); after closing 8, a new one opens; round-trips"
        }
    }

    @Test(
        "DCEP OPEN on every stream id 0...65535 from the peer: bounded by the stream count, the victim stays usable",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func openOnEveryStream() async throws {
        try await Self.run("DCEP OPEN on all 65536 stream ids") {
            let attacked = try await Attacked.connect()
            // Each unordered OPEN our SCTP sends on stream 0 leaves with the next stream id, so
            // ids the association does not have (256 and up) reach the victim too. Stream 1 is
            // the victim's own channel: an OPEN there would (rightly) close it.
            let next = NIOLockedValueBox<Int>(0)
            try await attacked.peer.setTap { packet in
                var packet = packet
                var changed = false
                for offset in sctpChunkOffsets(packet) where packet[offset] == 0x00 && packet[offset + 1] & 0x04 != 0 && packet.count >= offset + 16 {
                    guard packet[offset + 8] == 0, packet[offset + 9] == 0, packet[offset + 15] == 50 else { continue }
                    let stream = next.withLockedValue { value -> Int in
                        defer { value += value == 0 ? 2 : 1 }
                        return value
                    }
                    packet[offset + 8] = UInt8(truncatingIfNeeded: stream >> 8)
                    packet[offset + 9] = UInt8(truncatingIfNeeded: stream)
                    changed = true
                }
                return [changed ? withChecksum(packet) : packet]
            }
            let open = DCEPMessage.open(try DataChannelOpen(ordered: true, reliability: .reliable, priority: 0, label: "", protocol: "")).serialized()
            let total = 65_535  // ids 0 and 2...65535
            var sent = 0
            while sent < total {
                sent += try await attacked.peer.sendBurst(open, count: min(500, total - sent), stream: 0, ppid: 50, ordered: false)
                try await waitUntil(seconds: 20, "the hostile peer's queue drained") { await attacked.peer.bufferedAmount() < 16 << 10 }
            }
            try await waitUntil(seconds: 20, "every OPEN out") { await attacked.peer.bufferedAmount() == 0 }
            try await attacked.peer.setTap(nil)
            do {
                try await waitUntil("the even channels opened") { await attacked.victim.statistics().channels.count == 1 + 128 }
            } catch {
                let statistics = await attacked.victim.statistics()
                print("openOnEveryStream diagnostics: channels \(statistics.channels.count) sctp \(String(describing: statistics.sctp)) tap next \(next.withLockedValue { $0 }) peer \(await attacked.peer.snapshot().sctp.map { "\($0)" } ?? "")")
                throw error
            }
            try await Task.sleep(for: .milliseconds(200))
            let channels = await attacked.victim.statistics().channels
            #expect(channels.count == 129)
            #expect(channels.allSatisfy { ($0.id ?? 0) < 256 })
            try await attacked.roundTrip("after every stream")
            await attacked.close()
            return "\(total) OPENs; \(channels.count - 1) channels accepted (even ids below 256), the rest refused or dropped by SCTP; round-trips"
        }
    }

    @Test(
        "stream-reset storms: 300 open/close cycles through the API, and 200 resets of every stream from the peer",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func resetStorms() async throws {
        try await Self.run("stream-reset storms") {
            let victim = try await Pair.connect("victim")
            let cycles = 300
            for batch in 0..<(cycles / 30) {
                var channels: [DataChannel] = []
                for index in 0..<30 { channels.append(try await victim.offerer.createDataChannel("cycle \(batch)-\(index)")) }
                try await waitUntil("a batch open") { channels.allSatisfy { $0.readyState == .open } }
                for channel in channels { channel.close() }
            }
            try await waitUntil("every cycle closed on both sides") {
                let offerer = await victim.offerer.statistics().channels.count
                let answerer = await victim.answerer.statistics().channels.count
                return offerer == 1 && answerer == 1
            }
            try await victim.roundTrip("after open/close cycles")
            await victim.close()

            let attacked = try await Attacked.connect()
            var refused = 0
            for _ in 0..<200 {
                // Every stream but the victim's channel (1), again and again, without waiting.
                do { try await attacked.peer.resetStreams([0] + (2..<256).map(UInt16.init)) } catch { refused += 1 }
            }
            try await Task.sleep(for: .milliseconds(300))
            try await attacked.roundTrip("after reset storm")
            #expect(await attacked.victim.statistics().channels.count == 1)
            await attacked.close()
            return "\(cycles) open/close cycles: every channel closed on both sides; 200 resets of 255 streams (\(refused) refused by our own SCTP as already pending); round-trips"
        }
    }

    @Test(
        "messages above max-message-size: a typed error for the sender; a peer that sends them anyway is not delivered",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func oversizedMessages() async throws {
        try await Self.run("messages above max-message-size") {
            let victim = try await Pair.connect("victim")
            let limit = victim.channel.maxMessageSize
            #expect(limit == 262_144)
            #expect(await Self.sendError(victim.channel, .binary([UInt8](repeating: 1, count: limit + 1))) == .messageTooLarge)
            #expect(await Self.sendError(victim.channel, .binary([UInt8](repeating: 1, count: limit + 1)), suspending: false) == .messageTooLarge)
            #expect(await Self.sendError(victim.channel, .text(String(repeating: "x", count: 4 << 20))) == .messageTooLarge)
            try await victim.channel.send([UInt8](repeating: 2, count: limit))
            #expect(try await Self.next(victim.incoming) == .binary([UInt8](repeating: 2, count: limit)))
            try await victim.roundTrip("after refused sends")
            await victim.close()

            let attacked = try await Attacked.connect()
            // Our SCTP accepts 1 MiB; the victim advertised 256 KiB (RFC 8841 §6).
            let oversized = 4
            for _ in 0..<oversized {
                try await Self.sendPaced(attacked.peer, [UInt8](repeating: 7, count: 1 << 20), stream: 1, ppid: 53)
                try await waitUntil(seconds: 20, "the oversized message out") { await attacked.peer.bufferedAmount() == 0 }
            }
            try await waitUntil("the victim dropped them") { await attacked.victim.statistics().sctp?.messagesDroppedOversize ?? 0 >= oversized }
            try await attacked.roundTrip("after oversized messages")
            #expect(await attacked.victim.statistics().totals.messagesReceived == 1)
            await attacked.close()
            return "262,145 bytes: send and trySend throw .messageTooLarge; 4 MiB of text too; exactly 262,144 delivered. \(oversized) × 1 MiB from the peer: dropped and counted, none delivered; round-trips"
        }
    }
}
