import DTLS
import DataChannel
import Foundation
import NetworkEmulation
import SDP
import Testing
@testable import WebRTC
import TestSupport

/// Two ``DataChannelTransport``s joined by an in-memory network path, one ``ImpairedPath`` per
/// direction (seeded loss, delay, jitter, duplication...): no sockets, one thread.
///
/// Time is the real monotonic clock, not a virtual one: usrsctp reads its own clock for RTT,
/// retransmission age and partial-reliability lifetimes, so time that ran ahead of the real clock
/// would stall its loss recovery. Idle stretches sleep until the next deadline.
final class InMemoryPair {
    let client: DataChannelTransport
    let server: DataChannelTransport
    private(set) var now: ContinuousClock.Instant
    let start: ContinuousClock.Instant
    private var toServer: ImpairedPath
    private var toClient: ImpairedPath
    private var seed: UInt64
    /// Events each side emitted, in order.
    private(set) var clientEvents: [DataChannelTransportEvent] = []
    private(set) var serverEvents: [DataChannelTransportEvent] = []
    /// When each of ``serverEvents`` was seen.
    private(set) var serverEventTimes: [ContinuousClock.Instant] = []
    /// Datagrams the paths lost or dropped, both directions.
    var datagramsDropped: Int {
        [toServer.counters, toClient.counters].reduce(0) { $0 + $1.lost + $1.dropped }
    }
    /// What the path towards the server did.
    var towardsServer: ImpairmentCounters { toServer.counters }
    private(set) var largestDatagram = 0

    static let clientCertificate = try? DTLSCertificate.generate()
    static let serverCertificate = try? DTLSCertificate.generate()

    struct MissingCertificate: Error {}

    init(
        impairment: Impairment = Impairment(), seed: UInt64 = 1,
        clientConfiguration: DataChannelTransportConfiguration = DataChannelTransportConfiguration(),
        serverConfiguration: DataChannelTransportConfiguration = DataChannelTransportConfiguration(),
        serverFingerprintsSeenByClient: [Fingerprint]? = nil
    ) throws {
        guard let clientCertificate = Self.clientCertificate, let serverCertificate = Self.serverCertificate else {
            throw MissingCertificate()
        }
        start = .now
        now = start
        self.seed = seed
        toServer = ImpairedPath(impairment, seed: seed)
        toClient = ImpairedPath(impairment, seed: seed &+ 1)
        client = try DataChannelTransport(
            role: .client, certificate: clientCertificate,
            remoteFingerprints: serverFingerprintsSeenByClient ?? [serverCertificate.fingerprint()],
            configuration: clientConfiguration, now: now)
        server = try DataChannelTransport(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint()],
            configuration: serverConfiguration, now: now)
        client.start(now: now)
        server.start(now: now)
    }

    var elapsed: Duration { start.duration(to: now) }

    /// Moves datagrams and runs timers until `condition` holds or `limit` passed. Returns
    /// whether the condition held.
    @discardableResult
    func run(until condition: () -> Bool, limit: Duration = .seconds(30)) -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            now = .now
            drainEvents()
            if condition() { return true }
            if exchange() { continue }
            // Nothing in flight: sleep until the earliest deadline, then run the timers.
            let next = [client.nextTimeout, server.nextTimeout, toServer.nextDelivery, toClient.nextDelivery, deadline]
                .compactMap { $0 }.min() ?? deadline
            let wait = ContinuousClock.now.duration(to: next)
            if wait > .zero {
                Thread.sleep(forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds) / 1e18)
            }
            now = .now
            client.handleTimeout(now: now)
            server.handleTimeout(now: now)
        }
        drainEvents()
        return condition()
    }

    /// From now on the paths impair datagrams so (what is on its way still arrives).
    func impair(_ impairment: Impairment) {
        seed &+= 2
        toServer = ImpairedPath(impairment, seed: seed)
        toClient = ImpairedPath(impairment, seed: seed &+ 1)
    }

    /// Puts every queued datagram on its path and delivers what is due; returns whether any moved.
    private func exchange() -> Bool {
        var moved = false
        while let datagram = client.pollTransmit() {
            moved = true
            largestDatagram = max(largestDatagram, datagram.count)
            toServer.send(datagram, now: now)
        }
        while let datagram = server.pollTransmit() {
            moved = true
            largestDatagram = max(largestDatagram, datagram.count)
            toClient.send(datagram, now: now)
        }
        while let datagram = toServer.receive(now: now) {
            moved = true
            datagram.withUnsafeBytes { server.handleDatagram($0, now: now) }
        }
        while let datagram = toClient.receive(now: now) {
            moved = true
            datagram.withUnsafeBytes { client.handleDatagram($0, now: now) }
        }
        return moved
    }

    private func drainEvents() {
        while let event = client.pollEvent() { clientEvents.append(event) }
        while let event = server.pollEvent() {
            serverEvents.append(event)
            serverEventTimes.append(now)
        }
    }

    /// Both sides' SCTP associations are up.
    var connected: Bool {
        clientEvents.contains(.connected) && serverEvents.contains(.connected)
    }

    func messages(_ side: KeyPath<InMemoryPair, [DataChannelTransportEvent]>, on id: UInt16) -> [DataChannelMessage] {
        self[keyPath: side].compactMap { event in
            if case let .message(messageID, message) = event, messageID == id { message } else { nil }
        }
    }
}

