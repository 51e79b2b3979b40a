import DTLS
import DataChannel
import SCTP
import WebRTC

/// A value made on first use, so that a benchmark's set-up (certificates, handshakes) runs only
/// when that benchmark runs, and before its measurement starts.
final class Lazy<Value> {
    private var value: Value?
    private let make: () throws -> Value

    init(_ make: @escaping () throws -> Value) {
        self.make = make
    }

    func get() throws -> Value {
        if let value { return value }
        let made = try make()
        value = made
        return made
    }
}

/// Two DTLS sessions whose handshake ran through memory (the drive of
/// `Tests/DTLSTests/Harness.swift`), ready to seal and open application records.
final class DTLSLink {
    let client: OpenSSLDTLSSession
    let server: OpenSSLDTLSSession
    /// The plaintext of a full record: the largest one, which fills a whole datagram.
    let plaintext: [UInt8]

    init() throws {
        let clientCertificate = try DTLSCertificate.generate()
        let serverCertificate = try DTLSCertificate.generate()
        let now = ContinuousClock.now
        let client = try OpenSSLDTLSSession(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint()],
            now: now)
        let server = try OpenSSLDTLSSession(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint()],
            now: now)
        let pipe = InMemoryPipe(client, server)
        client.start(now: now)
        server.start(now: now)
        try pipe.run(until: { client.state != .connecting && server.state != .connecting }, what: "the handshake")
        guard client.state == .connected, server.state == .connected, let size = client.maximumPlaintextSize else {
            throw FixtureError(description: "DTLS handshake failed: client \(client.state), server \(server.state)")
        }
        self.client = client
        self.server = server
        plaintext = [UInt8](repeating: 0xA5, count: size)
        // What the benchmarks' names promise: one record of this plaintext makes a datagram of
        // the configured size (1200 bytes) and opens to the same plaintext.
        try plaintext.withUnsafeBytes { try client.send($0) }
        guard let record = client.pollTransmit(), record.count == client.configuration.maximumDatagramSize else {
            throw FixtureError(description: "a full record is not \(client.configuration.maximumDatagramSize) bytes")
        }
        var opened = 0
        record.withUnsafeBytes { server.handleDatagram($0, now: now) { opened = $0.count } }
        guard opened == size else { throw FixtureError(description: "the record did not open") }
    }
}

/// Two ``DataChannelTransport``s (DCEP over SCTP over DTLS, the production composition) joined
/// by an ``InMemoryPipe``, with one ordered, reliable channel from client to server open.
final class TransportPair {
    let pipe: InMemoryPipe<DataChannelTransport, DataChannelTransport>
    var client: DataChannelTransport { pipe.a }
    var server: DataChannelTransport { pipe.b }
    /// The channel's stream id.
    let channel: UInt16
    /// Messages and bytes the server received on the channel.
    private(set) var receivedMessages = 0
    private(set) var receivedBytes = 0
    private var channelOpen = false

    init() throws {
        let clientCertificate = try DTLSCertificate.generate()
        let serverCertificate = try DTLSCertificate.generate()
        let now = ContinuousClock.now
        let client = try DataChannelTransport(
            role: .client, certificate: clientCertificate, remoteFingerprints: [serverCertificate.fingerprint()],
            now: now)
        let server = try DataChannelTransport(
            role: .server, certificate: serverCertificate, remoteFingerprints: [clientCertificate.fingerprint()],
            now: now)
        pipe = InMemoryPipe(client, server)
        client.start(now: now)
        server.start(now: now)
        channel = try client.openChannel(DataChannelParameters(label: "bench"), now: now)
        try pipe.run(until: { channelOpen }, drain: drainEvents, what: "the channel to open")
    }

    /// Takes both sides' events: counts the server's messages, notes the channel opening, and
    /// fails on anything that ends the transport.
    func drainEvents() throws {
        while let event = client.pollEvent() {
            switch event {
            case .channelOpened(let id) where id == channel: channelOpen = true
            case .failed, .closed, .channelClosed: throw FixtureError(description: "client: \(event)")
            default: break
            }
        }
        while let event = server.pollEvent() {
            switch event {
            case .message(_, let message):
                receivedMessages += 1
                receivedBytes += message.byteCount
            case .failed, .closed, .channelClosed: throw FixtureError(description: "server: \(event)")
            default: break
            }
        }
    }

    /// Delivers everything in flight and runs due timers, so the next measurement starts from
    /// an idle link.
    func settle() throws {
        try pipe.settle(drain: drainEvents)
    }

    /// Sends `count` copies of `message` from client to server and returns once the server has
    /// received all of them. Like `DataChannel.send`, it stops queueing while more than
    /// `highWaterMark` bytes wait in front of SCTP.
    /// - Throws: ``FixtureError`` when the transfer takes longer than `limit`.
    func transfer(
        _ message: [UInt8], count: Int, highWaterMark: Int = 1 << 20, limit: Duration = .seconds(120)
    ) throws {
        let target = receivedBytes + count * message.count
        let deadline = ContinuousClock.now + limit
        var queued = 0
        while receivedBytes < target {
            guard ContinuousClock.now < deadline else { throw FixtureError(description: "transfer stalled") }
            var moved = false
            while queued < count, client.bufferedAmount(of: channel) <= highWaterMark {
                try client.send(.binary(message), on: channel, now: .now)
                pipe.collect()
                queued += 1
                moved = true
            }
            if pipe.exchange() { moved = true }
            try drainEvents()
            if moved { pipe.runDueTimers() } else { pipe.waitForTimers(until: .now + .seconds(1)) }
        }
    }
}

/// Two ``SCTPAssociation``s joined by an ``InMemoryPipe`` without DTLS: SCTP's share of the
/// receive path on its own. The path MTU is the one `DataChannelTransport` configures.
final class AssociationPair {
    let pipe: InMemoryPipe<SCTPAssociation, SCTPAssociation>
    var sender: SCTPAssociation { pipe.a }
    var receiver: SCTPAssociation { pipe.b }
    /// Messages the receiver got.
    private(set) var receivedMessages = 0
    private var connected = (sender: false, receiver: false)

    init() throws {
        let configuration = DataChannelTransportConfiguration().sctp
        let now = ContinuousClock.now
        let sender = try SCTPAssociation(configuration: configuration, now: now)
        let receiver = try SCTPAssociation(configuration: configuration, now: now)
        pipe = InMemoryPipe(sender, receiver)
        sender.connect(now: now)
        receiver.connect(now: now)
        try pipe.run(until: { connected.sender && connected.receiver }, drain: drainEvents, what: "the association")
    }

    /// Takes both sides' events: notes the association coming up, counts the receiver's
    /// messages, and fails if the association closes.
    func drainEvents() throws {
        while let event = sender.pollEvent() {
            switch event {
            case .connected: connected.sender = true
            case .closed: throw FixtureError(description: "sender closed")
            default: break
            }
        }
        while let event = receiver.pollEvent() {
            switch event {
            case .connected: connected.receiver = true
            case .message: receivedMessages += 1
            case .closed: throw FixtureError(description: "receiver closed")
            default: break
            }
        }
    }

    /// Delivers everything in flight and runs due timers, so the next measurement starts from
    /// an idle link.
    func settle() throws {
        try pipe.settle(drain: drainEvents)
    }
}
