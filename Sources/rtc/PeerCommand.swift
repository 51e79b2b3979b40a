import ArgumentParser
import DataChannel
import Foundation
import ICETransport
import ToolSupport
import WebRTC

/// `rtc peer`: one peer whose signaling is JSON lines on standard input and output, so that a
/// small driver can connect it to any other stack's peer. The protocol is a public contract:
/// docs/rtc-peer.md.
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "One peer whose signaling is JSON lines on stdin/stdout, for interop testing.",
        discussion: """
            Out: {"type":"offer"|"answer","sdp":...}, then {"type":"candidate",...} per local \
            candidate and {"type":"end-of-candidates"} (only with --trickle true), and last a \
            {"type":"result",...} line. In: the same lines from the other peer. Logs go to stderr. \
            Exit status 0 ok, 1 error, 2 timeout. See docs/rtc-peer.md.
            """
    )

    enum Role: String, ExpressibleByArgument, CaseIterable, Sendable { case offerer, answerer }
    enum Mode: String, ExpressibleByArgument, CaseIterable, Sendable { case echo, ping, source, sink }
    enum Addresses: String, ExpressibleByArgument, CaseIterable, Sendable { case auto, loopback }

    @Option(help: "offerer or answerer.")
    var role: Role

    @Option(help: "echo, ping, source or sink.")
    var mode: Mode = .echo

    @Option(help: "Bytes a source sends (and a sink expects).")
    var bytes: Int = 64 << 20

    @Option(help: "Message size in bytes (source messages, ping payloads).")
    var msg: Int = 16384

    @Option(help: "Round trips a ping makes.")
    var count: Int = 100

    @Option(help: "The label of the channel the offerer creates and the answerer uses.")
    var label: String = "bench"

    @Option(help: "true: trickle candidates as lines; false: wait for gathering and put them in the SDP.")
    var trickle: Bool = true

    @Option(help: "Seconds before giving up (exit status 2).")
    var timeout: Double = 60

    @Option(help: "auto: every non-loopback interface that is up, or loopback if there is none; loopback: only loopback.")
    var addresses: Addresses = .auto

    func validate() throws {
        guard msg >= 8 || mode == .echo else { throw ValidationError("--msg must be at least 8 (the sequence number)") }
        guard msg <= 262_144 else { throw ValidationError("--msg must be at most 262144 (the max-message-size browsers accept)") }
        guard bytes >= 0, count > 0, timeout > 0 else { throw ValidationError("--bytes, --count and --timeout must be positive") }
    }

    func run() async throws {
        // A reader that goes away (the other peer, a driver) must end in an error we report,
        // not in SIGPIPE killing the process.
        ignoreBrokenPipes()
        let output = LineWriter()
        let options = PeerOptions(
            role: role, mode: mode, bytes: bytes, msg: msg, count: count, label: label, trickle: trickle,
            timeout: timeout, addresses: addresses)
        let session = PeerSession(options: options, output: output)
        let report = await session.run()
        output.write(report.json(role: role, mode: mode))
        if report.exitCode != 0 { throw ExitCode(report.exitCode) }
    }
}

/// The outcome of an `rtc peer` run, for its last stdout line.
struct PeerReport: Sendable {
    var ok = false
    var bytes = 0
    var messages = 0
    var seconds = 0.0
    var openSeconds: Double?
    var roundTrips: [Double] = []
    var error: String?
    var timedOut = false
    /// The connection's counters at the end.
    var statistics: PeerConnectionStatistics?

    var exitCode: Int32 { ok ? 0 : (timedOut ? 2 : 1) }

    func json(role: PeerCommand.Role, mode: PeerCommand.Mode) -> JSON {
        let sorted = roundTrips.sorted()
        let milliseconds = sorted.map { $0 * 1000 }
        return .object([
            "type": .string("result"),
            "ok": .bool(ok),
            "role": .string(role.rawValue),
            "mode": .string(mode.rawValue),
            "bytes": .integer(Int64(bytes)),
            "messages": .integer(Int64(messages)),
            "seconds": .double(seconds),
            "MBps": .double(seconds > 0 ? Double(bytes) / seconds / 1e6 : 0),
            "open_s": openSeconds.map(JSON.double),
            "rtt_ms": milliseconds.isEmpty ? nil : .object([
                "min": .double(milliseconds[0]),
                "median": .double(milliseconds[milliseconds.count / 2]),
                "max": .double(milliseconds[milliseconds.count - 1]),
            ]),
            "cpu_s": .double(processCPUTime().seconds),
            "transport": statistics.map(\.transportJSON),
            "error": error.map(JSON.string),
        ])
    }
}

/// What `rtc peer` was asked to do (the parsed command line, as a `Sendable` value).
struct PeerOptions: Sendable {
    var role: PeerCommand.Role
    var mode: PeerCommand.Mode
    var bytes: Int
    var msg: Int
    var count: Int
    var label: String
    var trickle: Bool
    var timeout: Double
    var addresses: PeerCommand.Addresses
}

/// One run of `rtc peer`: signaling over JSON lines, then the mode's traffic.
struct PeerSession: Sendable {
    let options: PeerOptions
    let signaling: SignalingOutput

    init(options: PeerOptions, output: LineWriter) {
        self.options = options
        signaling = SignalingOutput(writer: output)
    }

    func run() async -> PeerReport {
        let started = ContinuousClock.now
        var configuration = PeerConnectionConfiguration()
        configuration.hostAddresses = options.addresses == .loopback ? .loopback : defaultHostAddresses()
        let connection: PeerConnection
        do {
            connection = try PeerConnection(configuration: configuration)
        } catch {
            return PeerReport(error: "\(error)")
        }
        let timeout = Duration.milliseconds(Int64(options.timeout * 1000))
        let report = await withTaskGroup(of: PeerReport.self) { group in
            group.addTask { await exchange(on: connection, started: started) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return PeerReport(error: "timeout after \(options.timeout) s", timedOut: true)
            }
            let first = await group.next() ?? PeerReport(error: "no result")
            group.cancelAll()
            return first
        }
        var final = report
        final.statistics = await connection.statistics()
        await connection.close()
        return final
    }

    private func exchange(on connection: PeerConnection, started: ContinuousClock.Instant) async -> PeerReport {
        do {
            return try await withThrowingTaskGroup(of: PeerReport?.self) { group in
                let (channels, channelContinuation) = AsyncStream.makeStream(of: DataChannel.self)
                let (gathered, gatheredContinuation) = AsyncStream.makeStream(of: Void.self)
                group.addTask {
                    await forwardEvents(of: connection, channels: channelContinuation, gathered: gatheredContinuation)
                    return nil
                }
                group.addTask {
                    try await readSignaling(into: connection, gathered: gathered)
                    return nil
                }
                let channel: DataChannel
                if options.role == .offerer {
                    channel = try await connection.createDataChannel(options.label)
                    try await connection.setLocalDescription()
                    try await sendLocalDescription(of: connection, gathered: gathered)
                } else {
                    var incoming: DataChannel?
                    for await candidate in channels where candidate.label == options.label {
                        incoming = candidate
                        break
                    }
                    guard let incoming else { throw ToolFailure("the connection closed before the channel arrived") }
                    channel = incoming
                }
                group.addTask {
                    try await traffic(on: channel, started: started)
                }
                while let result = try await group.next() {
                    if let report = result {
                        group.cancelAll()
                        return report
                    }
                }
                throw ToolFailure("the connection ended without a result")
            }
        } catch {
            return PeerReport(error: "\(error)")
        }
    }

    /// Local candidates (trickle) and incoming channels.
    private func forwardEvents(
        of connection: PeerConnection, channels: AsyncStream<DataChannel>.Continuation,
        gathered: AsyncStream<Void>.Continuation
    ) async {
        for await event in connection.events {
            switch event {
            case .iceCandidate(let candidate):
                guard options.trickle else { continue }
                signaling.sendAfterDescription(.object([
                    "type": .string("candidate"),
                    "candidate": .string(candidate.candidate),
                    "sdpMid": .string(candidate.sdpMid ?? "0"),
                    "sdpMLineIndex": .integer(Int64(candidate.sdpMLineIndex ?? 0)),
                ]))
            case .endOfCandidates:
                if options.trickle { signaling.sendAfterDescription(.object(["type": .string("end-of-candidates")])) }
                gathered.yield()
                gathered.finish()
            case .dataChannel(let channel):
                channels.yield(channel)
            case .connectionStateChanged(let state):
                printError("rtc peer: connection \(state)")
            default:
                break
            }
        }
        channels.finish()
    }

    /// Prints our description: at once with trickle, else once gathering is complete (the
    /// description then carries every candidate).
    private func sendLocalDescription(of connection: PeerConnection, gathered: AsyncStream<Void>) async throws {
        if !options.trickle {
            for await _ in gathered { break }
        }
        guard let description = await connection.localDescription else {
            throw ToolFailure("no local description")
        }
        signaling.sendDescription(.object(["type": .string(description.type.rawValue), "sdp": .string(description.sdp)]))
    }

    /// Applies the other peer's lines until standard input ends (which is not an error).
    private func readSignaling(into connection: PeerConnection, gathered: AsyncStream<Void>) async throws {
        for await line in standardInputLines() {
            guard let object = parseJSONObject(line), let type = object["type"] as? String else { continue }
            switch type {
            case "offer", "answer":
                guard let sdp = object["sdp"] as? String, let sdpType = SDPType(rawValue: type) else { continue }
                try await connection.setRemoteDescription(RTCSessionDescription(type: sdpType, sdp: sdp))
                if sdpType == .offer {
                    try await connection.setLocalDescription()
                    try await sendLocalDescription(of: connection, gathered: gathered)
                }
            case "candidate":
                let text = object["candidate"] as? String ?? ""
                let candidate = text.isEmpty ? nil : RTCIceCandidate(
                    candidate: text, sdpMid: object["sdpMid"] as? String ?? "0",
                    sdpMLineIndex: object["sdpMLineIndex"] as? Int ?? 0)
                do {
                    try await connection.addIceCandidate(candidate)
                } catch {
                    printError("rtc peer: ignored candidate: \(error)")
                }
            case "end-of-candidates":
                try? await connection.addIceCandidate(nil)
            default:
                continue
            }
        }
        // EOF: keep running until the traffic ends or the timeout.
        try await Task.sleep(for: .seconds(options.timeout))
    }

    // MARK: Traffic

    private func traffic(on channel: DataChannel, started: ContinuousClock.Instant) async throws -> PeerReport {
        try await waitUntilOpen(channel)
        var report = PeerReport()
        report.openSeconds = started.duration(to: .now).seconds
        printError("rtc peer: channel '\(channel.label)' open after \(report.openSeconds ?? 0) s")
        switch options.mode {
        case .echo: try await echo(on: channel, into: &report)
        case .ping: try await ping(on: channel, into: &report)
        case .source: try await source(on: channel, into: &report)
        case .sink: try await sink(on: channel, into: &report)
        }
        report.ok = true
        return report
    }

    /// Sends every message back unchanged until the channel closes.
    private func echo(on channel: DataChannel, into report: inout PeerReport) async throws {
        let begin = ContinuousClock.now
        for await message in channel.messages {
            try await channel.send(message)
            report.messages += 1
            report.bytes += message.byteCount
        }
        report.seconds = begin.duration(to: .now).seconds
    }

    /// `--count` round trips of `--msg` bytes, the first as text.
    private func ping(on channel: DataChannel, into report: inout PeerReport) async throws {
        var replies = channel.messages.makeAsyncIterator()
        let begin = ContinuousClock.now
        for index in 0..<options.count {
            let message: DataChannelMessage = index == 0
                ? .text(String(repeating: "p", count: options.msg))
                : .binary((0..<options.msg).map { UInt8(truncatingIfNeeded: $0 &+ index) })
            let sent = ContinuousClock.now
            try await channel.send(message)
            guard let reply = await replies.next() else { throw ToolFailure("the channel closed during ping \(index)") }
            guard reply == message else { throw ToolFailure("ping \(index): the echo differs from what was sent") }
            report.roundTrips.append(sent.duration(to: .now).seconds)
            report.messages += 1
            report.bytes += message.byteCount
        }
        report.seconds = begin.duration(to: .now).seconds
        channel.close()
    }

    /// `--bytes` in `--msg`-byte binary messages, each starting with its little-endian sequence
    /// number; then waits for the sink's `done <bytes>`.
    private func source(on channel: DataChannel, into report: inout PeerReport) async throws {
        let begin = ContinuousClock.now
        var template = [UInt8](repeating: 0xA5, count: options.msg)
        var sequence: UInt64 = 0
        while report.bytes < options.bytes {
            let size = min(options.msg, options.bytes - report.bytes)
            withUnsafeBytes(of: sequence.littleEndian) { sequenceBytes in
                for (offset, byte) in sequenceBytes.prefix(size).enumerated() { template[offset] = byte }
            }
            try await channel.send(size == template.count ? template : Array(template.prefix(size)))
            sequence += 1
            report.bytes += size
            report.messages += 1
        }
        for await message in channel.messages {
            guard case .text(let text) = message, text.hasPrefix("done ") else { continue }
            guard Int(text.dropFirst(5)) == report.bytes else {
                throw ToolFailure("the sink reports \(text), the source sent \(report.bytes) bytes")
            }
            report.seconds = begin.duration(to: .now).seconds
            return
        }
        throw ToolFailure("the channel closed before the sink said done")
    }

    /// Counts `--bytes`, checking sequence numbers, then says `done <bytes>`.
    private func sink(on channel: DataChannel, into report: inout PeerReport) async throws {
        var begin: ContinuousClock.Instant?
        var expected: UInt64 = 0
        for await message in channel.messages {
            guard case .binary(let payload) = message else { continue }
            begin = begin ?? .now
            if payload.count >= 8 {
                let sequence = payload.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                guard sequence == expected else {
                    throw ToolFailure("message \(expected) arrived as sequence number \(sequence)")
                }
            }
            expected += 1
            report.messages += 1
            report.bytes += payload.count
            if report.bytes >= options.bytes { break }
        }
        guard report.bytes >= options.bytes else {
            throw ToolFailure("the channel closed after \(report.bytes) of \(options.bytes) bytes")
        }
        report.seconds = (begin ?? .now).duration(to: .now).seconds
        try await channel.send("done \(report.bytes)")
        // The source closes once it has read `done`; closing first could lose that last
        // message in flight (a slow peer has not acknowledged it yet). Bounded: 10 s.
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await event in channel.events where event == .closed { return }
            }
            group.addTask { try? await Task.sleep(for: .seconds(10)) }
            await group.next()
            group.cancelAll()
        }
    }
}

extension PeerConnectionStatistics {
    /// What the layers did: SCTP retransmissions and abandoned messages, DTLS records the reorder
    /// buffer held for a gap and released after waiting in vain.
    fileprivate var transportJSON: JSON {
        .object([
            "sctp_retransmitted_chunks": .integer(Int64(sctp?.retransmittedChunks ?? 0)),
            "sctp_abandoned_messages": .integer(Int64(sctp?.abandonedMessages ?? 0)),
            "dtls_records_reordered": .integer(Int64(dtlsCounters?.reordering.reordered ?? 0)),
            "dtls_records_held": .integer(Int64(dtlsCounters?.reordering.held ?? 0)),
            "dtls_held_released_on_timeout": .integer(Int64(dtlsCounters?.reordering.releasedOnTimeout ?? 0)),
        ])
    }
}
