import DTLS
import DataChannel
import Foundation
import ICE
import ICETransport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SCTP
import SDP
import Testing
import TestSupport
@testable import WebRTC

#if canImport(Glibc)
import Glibc
#endif

// What the hostile-input tests attack with: a plain UDP socket for off-path traffic, and a peer
// built from our own lower layers (ICE transport, DTLS session, SCTP association, no DCEP
// manager) that completes ICE and DTLS with a victim `PeerConnection` and can then put any bytes
// on the path: crafted DTLS records, or SCTP packets sealed in valid records.

/// A UDP socket on 127.0.0.1 (or ::1) that sends whatever it is given, for off-path attacks.
/// Blocking `sendto` on loopback: never waits in practice.
final class AttackerSocket {
    private let descriptor: Int32
    private let family: Int32

    /// A socket bound to an ephemeral port of the loopback address of `family` (AF_INET or AF_INET6).
    init(family: Int32 = AF_INET) throws {
        self.family = family
        descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw SocketFailure(call: "socket", code: errno) }
        // Loopback, any port: bind so that the source port is fixed for the socket's lifetime.
        let bound = Self.withAddress(family == AF_INET ? "127.0.0.1" : "::1", port: 0) { address, length in
            bind(descriptor, address, length)
        }
        guard bound == 0 else {
            close(descriptor)
            throw SocketFailure(call: "bind", code: errno)
        }
    }

    deinit { close(descriptor) }

    /// Sends one datagram to `host` (a loopback literal) and `port`; errors are ignored, as an
    /// attacker would.
    func send(_ bytes: [UInt8], to host: String, port: UInt16) {
        _ = Self.withAddress(host, port: port) { address, length in
            bytes.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, 0, address, length) }
        }
    }

    /// Calls `body` with a `sockaddr` for `host` (an IPv4 or IPv6 literal) and `port`.
    private static func withAddress<T>(_ host: String, port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        if host.contains(":") {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            _ = inet_pton(AF_INET6, host, &address.sin6_addr)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        _ = inet_pton(AF_INET, host, &address.sin_addr)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    struct SocketFailure: Error {
        var call: String
        var code: Int32
    }
}

/// A peer under the test's control: ICE (controlled) and DTLS (client) done by our own layers so
/// that a victim `PeerConnection` accepts it, then SCTP by our own association whose outgoing
/// packets pass through ``setTap(_:)``, and raw DTLS datagrams or SCTP packets on demand.
///
/// It answers DCEP OPENs with an ACK and echoes user messages (PPID 51/53) on their stream, so a
/// victim channel can check that its connection still works. Everything but the ICE transport
/// lives on the transport's event loop.
final class HostilePeer: Sendable {
    let ice: ICETransport
    let certificate: DTLSCertificate
    private let machine: NIOLoopBound<Machine>
    private let progress: NIOLockedValueBox<ICEProgress>

    /// What the ICE transport's events said so far.
    private struct ICEProgress {
        var candidates: [ICECandidate] = []
        var gatheringComplete = false
        var connection = ICEConnectionState.new
    }

    /// What the peer saw and did, readable from the test.
    struct Snapshot: Sendable {
        var dtlsState: DTLSState?
        var sctpUp: Bool
        /// The tag the victim expects in our packets (RFC 4960 §8.5): read from our own outgoing
        /// packets once the association is up.
        var verificationTag: UInt32?
        var received: [SCTPReceivedMessage]
        var sctpClosed: Bool
        var sctp: SCTPStatistics?
        var dtls: DTLSStatistics?
    }

    private init(ice: ICETransport, certificate: DTLSCertificate, machine: NIOLoopBound<Machine>, progress: NIOLockedValueBox<ICEProgress>) {
        self.ice = ice
        self.certificate = certificate
        self.machine = machine
        self.progress = progress
    }

    /// Starts the ICE transport (host candidates on loopback) and waits for its candidates.
    static func start(certificate: DTLSCertificate) async throws -> HostilePeer {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let machine = try await loop.submit { NIOLoopBound(Machine(loop: loop), eventLoop: loop) }.get()
        let configuration = ICETransportConfiguration(
            agent: ICEConfiguration(role: .controlled), hostAddresses: .loopback,
            onApplicationData: { datagram in machine.value.receive(datagram) })
        let ice = try await ICETransport.start(configuration: configuration, group: loop)
        try await loop.submit { machine.value.ice = ice }.get()
        let state = NIOLockedValueBox(ICEProgress())
        Task {
            for await event in ice.events {
                state.withLockedValue { progress in
                    switch event {
                    case .localCandidate(let candidate): progress.candidates.append(candidate)
                    case .gatheringStateChanged(let gathering): progress.gatheringComplete = gathering == .complete
                    case .connectionStateChanged(let connection): progress.connection = connection
                    default: break
                    }
                }
            }
        }
        try await waitUntil("the hostile peer's candidates") { state.withLockedValue { $0.gatheringComplete } }
        return HostilePeer(ice: ice, certificate: certificate, machine: machine, progress: state)
    }

    /// Connects `victim` (which offers, so it is ICE-controlling and the DTLS server) to this peer:
    /// applies its complete offer, answers with `a=setup:active` and `answerFingerprint` (ours
    /// unless a test lies), and runs ICE, DTLS and, when `waitForSCTP`, SCTP.
    func connect(_ victim: PipedPeer, answerFingerprint: Fingerprint? = nil, waitForSCTP: Bool = true) async throws {
        try await victim.connection.setLocalDescription()
        for await case .endOfCandidates in victim.events { break }
        let offer = try SessionDescription(parsing: try #require(await victim.connection.localDescription).sdp)
        let section = try #require(offer.media.first)
        try await ice.setRemoteCredentials(ICECredentials(ufrag: try #require(section.iceUfrag), password: try #require(section.icePwd)))
        for candidate in section.candidates { try await ice.addRemoteCandidate(candidate) }
        try await ice.addRemoteEndOfCandidates()

        let parameters = JSEP.LocalParameters(
            origin: Origin(sessionID: "1", sessionVersion: "1"), credentials: try await ice.localCredentials,
            fingerprint: answerFingerprint ?? certificate.fingerprint(), setup: .active, maxMessageSize: 262_144,
            layout: .initialOffer)
        let answer = JSEP.description(JSEP.description(parameters), at: 0, candidates: progress.withLockedValue { $0.candidates }, complete: true)
        let fingerprints = section.fingerprints
        try await onLoop { [certificate] machine in try machine.prepare(certificate: certificate, remoteFingerprints: fingerprints) }
        try await victim.connection.setRemoteDescription(RTCSessionDescription(type: .answer, sdp: answer.serialized()))

        try await waitUntil("the hostile peer's ICE connected") {
            let state = progress.withLockedValue { $0.connection }
            return state == .connected || state == .completed
        }
        try await onLoop { machine in machine.startDTLS() }
        if waitForSCTP {
            try await waitUntil("the hostile peer's SCTP up") { await self.snapshot().sctpUp }
            try await waitUntil("the victim's tag known") { await self.snapshot().verificationTag != nil }
        }
    }

    /// Runs `body` with the loop-confined state, then moves whatever it produced.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (Machine) throws -> T) async throws -> T {
        try await ice.eventLoop.submit { [machine] in
            let value = try body(machine.value)
            machine.value.pump()
            return value
        }.get()
    }

    func snapshot() async -> Snapshot {
        (try? await onLoop { $0.snapshot }) ?? Snapshot(sctpUp: false, received: [], sctpClosed: true)
    }

    /// Sends one user message through our SCTP association (it may refuse with `wouldBlock`).
    func send(_ data: [UInt8], stream: UInt16, ppid: UInt32, ordered: Bool = true) async throws {
        try await onLoop { machine in try machine.send(data, stream: stream, ppid: ppid, ordered: ordered) }
    }

    /// Seals `packet` as one DTLS application record: a crafted SCTP packet the victim decrypts.
    func sendSCTPPacket(_ packet: [UInt8]) async throws {
        try await onLoop { machine in try packet.withUnsafeBytes { try machine.dtls?.send($0) } }
    }

    /// Sends raw datagrams over the selected pair, bypassing DTLS: crafted records.
    func sendDatagrams(_ datagrams: [[UInt8]]) async throws {
        try await onLoop { machine in try machine.ice?.sendOnEventLoop(datagrams.map { ByteBuffer(bytes: $0) }) }
    }

    /// Sends `data` up to `count` times in one hop onto the loop, stopping when SCTP has no room;
    /// returns how many went.
    func sendBurst(_ data: [UInt8], count: Int, stream: UInt16, ppid: UInt32, ordered: Bool) async throws -> Int {
        try await onLoop { machine in
            var sent = 0
            while sent < count, (try? machine.send(data, stream: stream, ppid: ppid, ordered: ordered)) != nil { sent += 1 }
            return sent
        }
    }

    /// Seals each SCTP packet as a DTLS record and returns the datagrams instead of sending them.
    func seal(_ packets: [[UInt8]]) async throws -> [[UInt8]] {
        try await onLoop { machine in
            guard let dtls = machine.dtls else { return [] }
            for packet in packets { try packet.withUnsafeBytes { try dtls.send($0) } }
            var datagrams: [[UInt8]] = []
            while let datagram = dtls.pollTransmit() { datagrams.append(datagram) }
            return datagrams
        }
    }

    /// Resets our outgoing side of `streams` (RFC 6525).
    func resetStreams(_ streams: [UInt16]) async throws {
        try await onLoop { machine in try machine.sctp?.resetStreams(streams) }
    }

    /// Bytes our association has not yet handed to the network.
    func bufferedAmount() async -> Int {
        (try? await onLoop { $0.sctp?.bufferedAmount ?? 0 }) ?? 0
    }

    /// The last DTLS datagrams we sent (valid records), for replays.
    func recentDatagrams() async throws -> [[UInt8]] {
        try await onLoop { $0.recentDatagrams }
    }

    /// Replaces our outgoing SCTP packets by what `tap` makes of each (`nil`: unchanged).
    func setTap(_ tap: (@Sendable ([UInt8]) -> [[UInt8]])?) async throws {
        try await onLoop { machine in machine.tap = tap }
    }

    func close() async {
        _ = try? await onLoop { machine in machine.close() }
        await ice.close()
    }

    /// The loop side: DTLS session, SCTP association, timers, the echo.
    final class Machine {
        let loop: any EventLoop
        var ice: ICETransport?
        var dtls: OpenSSLDTLSSession?
        var sctp: SCTPAssociation?
        var tap: (@Sendable ([UInt8]) -> [[UInt8]])?
        private var timer: RepeatedTask?
        private var sctpStarted = false
        private var sctpUp = false
        private var sctpClosed = false
        private var verificationTag: UInt32?
        private var received: [SCTPReceivedMessage] = []
        private(set) var recentDatagrams: [[UInt8]] = []
        /// Only the last messages are kept: floods must not grow the attacker either.
        private static let keptMessages = 64

        init(loop: any EventLoop) {
            self.loop = loop
        }

        /// The DTLS client and the SCTP association, with the same SCTP path MTU as ours, a larger
        /// maximum message size (so it can send what the victim refuses), and 256 streams.
        func prepare(certificate: DTLSCertificate, remoteFingerprints: [Fingerprint]) throws {
            var transport = DataChannelTransportConfiguration()
            transport.sctp.maximumMessageSize = 1 << 20
            dtls = try OpenSSLDTLSSession(
                role: .client, certificate: certificate, remoteFingerprints: remoteFingerprints,
                configuration: transport.dtls, now: .now)
            sctp = try SCTPAssociation(configuration: transport.sctp, now: .now)
            let bound = NIOLoopBound(self, eventLoop: loop)
            timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { _ in
                bound.value.tick()
            }
        }

        func startDTLS() {
            dtls?.start(now: .now)
        }

        var snapshot: Snapshot {
            Snapshot(
                dtlsState: dtls?.state, sctpUp: sctpUp, verificationTag: verificationTag, received: received,
                sctpClosed: sctpClosed, sctp: sctp?.statistics, dtls: dtls?.statistics)
        }

        func receive(_ datagram: ByteBuffer) {
            guard let dtls, let sctp else { return }
            datagram.withUnsafeReadableBytes { bytes in
                dtls.handleDatagram(bytes, now: .now) { record in sctp.handlePacket(record, now: .now) }
            }
            pump()
        }

        private func tick() {
            dtls?.handleTimeout(now: .now)
            if sctpStarted { sctp?.handleTimeout(now: .now) }
            pump()
        }

        /// Moves output between the layers until nothing moves, then sends DTLS's datagrams.
        func pump() {
            guard let dtls, let sctp else { return }
            var moved = true
            while moved {
                moved = false
                while let event = dtls.pollEvent() {
                    moved = true
                    if case .connected = event, !sctpStarted {
                        sctpStarted = true
                        sctp.connect(now: .now)
                    }
                }
                while let packet = sctp.pollTransmit() {
                    moved = true
                    // Once up, the common header's tag is the one the victim checks (RFC 4960 §8.5).
                    if sctpUp, packet.count >= 12 {
                        verificationTag = packet[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    }
                    for outgoing in tap?(packet) ?? [packet] {
                        _ = try? outgoing.withUnsafeBytes { try dtls.send($0) }
                    }
                }
                while let event = sctp.pollEvent() {
                    moved = true
                    handle(event)
                }
            }
            var datagrams: [ByteBuffer] = []
            while let datagram = dtls.pollTransmit() {
                datagrams.append(ByteBuffer(bytes: datagram))
                recentDatagrams.append(datagram)
            }
            if recentDatagrams.count > 8 { recentDatagrams.removeFirst(recentDatagrams.count - 8) }
            if !datagrams.isEmpty { try? ice?.sendOnEventLoop(datagrams) }
        }

        private func handle(_ event: SCTPEvent) {
            switch event {
            case .connected: sctpUp = true
            case .closed: sctpClosed = true
            case .message(let message):
                received.append(message)
                if received.count > Self.keptMessages { received.removeFirst(received.count - Self.keptMessages) }
                // RFC 8832 §6: ACK an OPEN; echo user messages (PPID 51 string, 53 binary).
                if message.ppid == PayloadProtocolIdentifier.dcep.rawValue, message.data.first == 0x03 {
                    try? send(DCEPMessage.ack.serialized(), stream: message.stream, ppid: message.ppid)
                } else if message.ppid == PayloadProtocolIdentifier.string.rawValue || message.ppid == PayloadProtocolIdentifier.binary.rawValue {
                    try? send(message.data, stream: message.stream, ppid: message.ppid)
                }
            default: break
            }
        }

        /// One message through our association, reliable.
        func send(_ data: [UInt8], stream: UInt16, ppid: UInt32, ordered: Bool = true) throws {
            guard let sctp else { return }
            try data.withUnsafeBytes { try sctp.send($0, stream: stream, ppid: ppid, ordered: ordered, reliability: .reliable) }
        }

        func close() {
            timer?.cancel()
            timer = nil
            sctp = nil
            dtls = nil
            ice = nil
        }
    }
}

// MARK: Measuring

/// The process's resident set size in bytes (/proc/self/statm, second field, in pages).
func residentBytes() -> Int {
    guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let fields = text.split(separator: " ")
    guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

/// CPU time (user + system) this process has used.
func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let micros = Int64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000 + Int64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
    return .microseconds(micros)
}

/// Runs `body`, failing with ``WaitTimeout`` if it has not finished within `seconds`.
func within<T: Sendable>(seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw WaitTimeout(what: what) }
        return value
    }
}
