import Foundation
import SDP
import Testing

@testable import DTLS

/// Certificates are slow to make; the tests share a few.
enum Certificates {
    static let a = make()
    static let b = make()
    static let c = make()

    private static func make() -> DTLSCertificate {
        do {
            return try DTLSCertificate.generate()
        } catch {
            fatalError("certificate generation failed: \(error)")
        }
    }
}

/// Two sessions joined by an in-memory network on a virtual clock.
final class Link {
    let client: OpenSSLDTLSSession
    let server: OpenSSLDTLSSession
    let origin = ContinuousClock.now
    var elapsed: Duration = .zero
    var now: ContinuousClock.Instant { origin + elapsed }
    /// Decides whether to drop a datagram: (sender role, datagram) → drop.
    var drop: (DTLSRole, [UInt8]) -> Bool = { _, _ in false }
    /// Sleep in real time as far as the virtual clock advances, so that
    /// OpenSSL's wall-clock retransmission timers expire too.
    var followRealTime = false
    private(set) var datagramSizes: [Int] = []
    private(set) var clientEvents: [DTLSEvent] = []
    private(set) var serverEvents: [DTLSEvent] = []
    var clientReceived: [[UInt8]] = []
    var serverReceived: [[UInt8]] = []

    init(
        clientCertificate: DTLSCertificate = Certificates.a,
        serverCertificate: DTLSCertificate = Certificates.b,
        clientRemote: [Fingerprint]? = nil,
        serverRemote: [Fingerprint]? = nil,
        configuration: DTLSConfiguration = .init()
    ) throws {
        let start = origin
        client = try OpenSSLDTLSSession(
            role: .client, certificate: clientCertificate,
            remoteFingerprints: clientRemote ?? [serverCertificate.fingerprint()],
            configuration: configuration, now: start)
        server = try OpenSSLDTLSSession(
            role: .server, certificate: serverCertificate,
            remoteFingerprints: serverRemote ?? [clientCertificate.fingerprint()],
            configuration: configuration, now: start)
    }

    func session(_ role: DTLSRole) -> OpenSSLDTLSSession { role == .client ? client : server }

    /// Delivers queued datagrams both ways until nothing moves.
    func pump() {
        var moved = true
        while moved {
            moved = false
            for sender in [DTLSRole.client, .server] {
                let receiver = session(sender == .client ? .server : .client)
                while let datagram = session(sender).pollTransmit() {
                    moved = true
                    datagramSizes.append(datagram.count)
                    if drop(sender, datagram) { continue }
                    datagram.withUnsafeBytes { bytes in
                        receiver.handleDatagram(bytes, now: now) { data in
                            if sender == .client { serverReceived.append(Array(data)) } else { clientReceived.append(Array(data)) }
                        }
                    }
                }
            }
        }
        while let event = client.pollEvent() { clientEvents.append(event) }
        while let event = server.pollEvent() { serverEvents.append(event) }
    }

    /// Advances to the earliest timer and fires it.
    func fireNextTimer() async throws {
        let timers = [client.nextTimeout, server.nextTimeout].compactMap { $0 }
        guard let next = timers.min() else { return }
        if next > now {
            if followRealTime { try await Task.sleep(for: next - now + .milliseconds(1)) }
            elapsed += next - now
        }
        client.handleTimeout(now: now)
        server.handleTimeout(now: now)
    }

    var settled: Bool {
        [client.state, server.state].allSatisfy { $0 != .new && $0 != .connecting }
    }

    /// Starts both sides and runs until neither is connecting.
    func handshake(maximumTimerRounds: Int = 200) async throws {
        client.start(now: now)
        server.start(now: now)
        pump()
        var rounds = 0
        while !settled, rounds < maximumTimerRounds {
            try await fireNextTimer()
            pump()
            rounds += 1
        }
    }

    func send(_ bytes: [UInt8], from role: DTLSRole) throws(DTLSError) {
        var error: DTLSError?
        bytes.withUnsafeBytes { buffer in
            do throws(DTLSError) { try session(role).send(buffer) } catch let caught { error = caught }
        }
        if let error { throw error }
    }

    func events(_ role: DTLSRole) -> [DTLSEvent] { role == .client ? clientEvents : serverEvents }
}

extension DTLSEvent {
    var failure: DTLSError.Reason? {
        if case .failed(let error) = self { return error.reason }
        return nil
    }
    var isConnected: Bool {
        if case .connected = self { return true }
        return false
    }
}
