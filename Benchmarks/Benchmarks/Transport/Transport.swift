import Benchmark
import BenchmarkSupport
import DTLS
import DataChannel
import WebRTC

/// DTLS, SCTP and data channels, driven in memory: records, the receive path stage by stage,
/// the send path per message, and the DTLS+SCTP pipeline's ceiling.
///
/// Benchmarks that need unmeasured preparation per operation (a packet to receive must first be
/// sent; its acknowledgement must go back) run one operation per sample, between
/// `startMeasurement()` and `stopMeasurement()`, on a link that is idle when the sample starts.
/// Names have no spaces: benchmark 1.38.1 writes a threshold file under the name with spaces
/// replaced but looks it up under the name as it is.
let benchmarks: @Sendable () -> Void = {
    let kibibyte = [UInt8](repeating: 0x5A, count: 1024)

    // What one-operation samples cost by themselves (0 allocations): the figures below are the
    // operations' own.
    Benchmark("Baseline-empty-sample", configuration: .perOperation(scalingFactor: .one)) { benchmark in
        benchmark.startMeasurement()
        blackHole(benchmark.currentIteration)
        benchmark.stopMeasurement()
    }

    // MARK: DTLS records (OpenSSL 3.0, AES-GCM: 1163 bytes of plaintext fill a 1200-byte datagram)

    let link = Lazy { try DTLSLink() }

    Benchmark("DTLS-seal-1200B-record", configuration: .perOperation(scalingFactor: .kilo)) { benchmark in
        let link = try link.get()
        benchmark.startMeasurement()
        try link.plaintext.withUnsafeBytes { plaintext in
            for _ in benchmark.scaledIterations {
                try link.client.send(plaintext)
                blackHole(link.client.pollTransmit())
            }
        }
    }

    // The first stage of the receive path. Each record can be opened once only (replay
    // protection, RFC 6347 §4.1.2.6), so every sample seals its own before measuring.
    Benchmark("DTLS-open-1200B-record", configuration: .perOperation(scalingFactor: .kilo)) { benchmark in
        let link = try link.get()
        var records: [[UInt8]] = []
        records.reserveCapacity(benchmark.scaledIterations.count)
        try link.plaintext.withUnsafeBytes { plaintext in
            for _ in benchmark.scaledIterations {
                try link.client.send(plaintext)
                if let record = link.client.pollTransmit() { records.append(record) }
            }
        }
        var opened = 0
        let now = ContinuousClock.now
        benchmark.startMeasurement()
        for record in records {
            record.withUnsafeBytes { link.server.handleDatagram($0, now: now) { opened += $0.count } }
        }
        benchmark.stopMeasurement()
        guard opened == benchmark.scaledIterations.count * link.plaintext.count else {
            throw FixtureError(description: "opened \(opened) bytes")
        }
    }

    // MARK: The receive path, per packet

    // The second stage on its own: one SCTP packet carrying a 1 KiB message into usrsctp
    // (`usrsctp_conninput`), through its receive callback, to the message event; every second
    // packet also makes a SACK.
    let associations = Lazy { try AssociationPair() }
    Benchmark("SCTP-receive-1KiB-packet", configuration: .perOperation(scalingFactor: .one)) { benchmark in
        let pair = try associations.get()
        let received = pair.receivedMessages
        try kibibyte.withUnsafeBytes {
            try pair.sender.send($0, stream: 0, ppid: 53, ordered: true, reliability: .reliable)
        }
        pair.pipe.collect()
        guard pair.pipe.queuedTowardB == 1 else { throw FixtureError(description: "expected one packet") }
        benchmark.startMeasurement()
        pair.pipe.deliverTowardB()
        benchmark.stopMeasurement()
        try pair.settle()
        guard pair.receivedMessages == received + 1 else { throw FixtureError(description: "message lost") }
    }

    // The whole receive path of a data channel: one DTLS datagram opened, its SCTP packet fed to
    // usrsctp, the message handed to DCEP and queued as an event (and, every second packet, the
    // SACK sealed as a datagram).
    let receivingPair = Lazy { try TransportPair() }
    Benchmark("Receive-path-1KiB-datagram-to-message", configuration: .perOperation(scalingFactor: .one)) { benchmark in
        let pair = try receivingPair.get()
        let received = pair.receivedMessages
        try pair.client.send(.binary(kibibyte), on: pair.channel, now: .now)
        pair.pipe.collect()
        guard pair.pipe.queuedTowardB == 1 else { throw FixtureError(description: "expected one datagram") }
        benchmark.startMeasurement()
        pair.pipe.deliverTowardB()
        benchmark.stopMeasurement()
        try pair.settle()
        guard pair.receivedMessages == received + 1 else { throw FixtureError(description: "message lost") }
    }

    // MARK: The send path, per message

    // DCEP's share alone: a message on an open channel becomes one SCTP send command. The
    // channel is negotiated (RFC 8831 §6.5), so it is open without a handshake.
    var manager = DataChannelManager(isDTLSClient: true)
    let negotiated = DataChannelParameters(label: "bench", negotiated: true, id: 0)
    let managerChannel = try? manager.open(negotiated)
    manager.transportConnected()
    while manager.pollEvent() != nil {}
    let text = String(repeating: "a", count: 1024)
    let messages: [(name: String, message: DataChannelMessage)] = [
        ("binary", .binary(kibibyte)), ("text", .text(text)),
    ]
    for (name, message) in messages {
        let configuration = Benchmark.Configuration.perOperation(scalingFactor: .kilo)
        Benchmark("DataChannelManager-send-1KiB-\(name)", configuration: configuration) { benchmark in
            guard let managerChannel else { throw FixtureError(description: "no channel") }
            for _ in benchmark.scaledIterations {
                try manager.send(message, on: managerChannel)
                blackHole(manager.pollCommand())
            }
        }
    }

    // The whole send path of a data channel: DCEP, usrsctp (`usrsctp_sendv`, the packet it
    // emits), the DTLS record sealed, the datagram taken by the driver.
    let sendingPair = Lazy { try TransportPair() }
    Benchmark("Send-path-1KiB-message-to-datagram", configuration: .perOperation(scalingFactor: .one)) { benchmark in
        let pair = try sendingPair.get()
        let received = pair.receivedMessages
        benchmark.startMeasurement()
        try pair.client.send(.binary(kibibyte), on: pair.channel, now: .now)
        pair.pipe.collect()
        benchmark.stopMeasurement()
        guard pair.pipe.queuedTowardB == 1 else { throw FixtureError(description: "expected one datagram") }
        try pair.settle()
        guard pair.receivedMessages == received + 1 else { throw FixtureError(description: "message lost") }
    }

    // MARK: The pipeline's ceiling

    // Everything a transfer costs except sockets: both ends of DCEP over SCTP over DTLS in one
    // thread, what OpenSSL and usrsctp allow on this machine. A sample is one whole transfer.
    let pipelinePair = Lazy { try TransportPair() }
    let chunk = [UInt8](repeating: 0xC3, count: 64 << 10)
    let chunkCount = 1024
    Benchmark("Pipeline-DTLS-SCTP-64MiB-in-64KiB-messages", configuration: .perTransfer(samples: 5)) { benchmark in
        let pair = try pipelinePair.get()
        let start = ContinuousClock.now
        benchmark.startMeasurement()
        try pair.transfer(chunk, count: chunkCount)
        benchmark.stopMeasurement()
        let seconds = start.duration(to: .now) / .seconds(1)
        benchmark.measurement(.megabytesPerSecond, Int((Double(chunk.count * chunkCount) / seconds / 1e6).rounded()))
        // The pipe is lossless: a datagram dropped would be the driver's fault, not a figure.
        let drops = [pair.client, pair.server].reduce(0) { $0 + ($1.dtlsStatistics?.transmitQueueDrops ?? 0) }
        guard drops == 0 else { throw FixtureError(description: "\(drops) datagrams dropped") }
    }
}
