import ArgumentParser
import DataChannel
import Foundation
import ToolSupport
import WebRTC

/// `rtc bench`: throughput and setup time between two local peers, in this process or in two.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure setup time and throughput between two peers on loopback.",
        discussion: """
            Every byte is checked: each message carries its channel's sequence number and the \
            receiver counts bytes and messages. Throughput is measured at the receiver.
            """
    )

    @Option(help: "Bytes to transfer per run (split over the channels).")
    var bytes: Int = 64 << 20

    @Option(help: "Message size in bytes (8...262144).")
    var msg: Int = 65_536

    @Flag(help: "Unordered channels (reliable).")
    var unordered = false

    @Option(help: "Number of channels sending at once (in-process only).")
    var channels: Int = 1

    @Option(help: "Number of runs; setup time is reported as median and maximum.")
    var runs: Int = 3

    @Option(help: "1: both peers in this process; 2: two `rtc peer` processes cross-piped.")
    var processes: Int = 1

    @Option(help: "Instead of a transfer: hold this many peer connections (in pairs, each pair with an open channel) in this process and report the memory each costs.")
    var memoryConnections: Int?

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func validate() throws {
        guard (8...262_144).contains(msg) else { throw ValidationError("--msg must be within 8...262144") }
        guard bytes > 0, runs > 0, channels > 0 else { throw ValidationError("--bytes, --runs and --channels must be positive") }
        guard [1, 2].contains(processes) else { throw ValidationError("--processes must be 1 or 2") }
        guard processes == 1 || channels == 1 else { throw ValidationError("--channels applies to --processes 1 only") }
        guard processes == 1 || !unordered else { throw ValidationError("--unordered applies to --processes 1 only") }
        if let memoryConnections {
            guard memoryConnections >= 2, memoryConnections % 2 == 0 else {
                throw ValidationError("--memory-connections must be an even number of at least 2 (they come in pairs)")
            }
            guard processes == 1 else { throw ValidationError("--memory-connections applies to --processes 1 only") }
        }
    }

    func run() async throws {
        if let memoryConnections {
            return try await measureMemory(connections: memoryConnections)
        }
        var results: [BenchRun] = []
        for index in 0..<runs {
            let result = processes == 1 ? try await inProcess() : try await twoProcesses()
            results.append(result)
            if !json {
                var breakdown = ""
                if let ice = result.iceConnected, let dtls = result.dtlsConnected {
                    breakdown = " (ICE \(fixed(ice * 1000)), DTLS \(fixed(dtls * 1000)) ms)"
                }
                print("run \(index + 1): setup \(fixed(result.setup * 1000)) ms\(breakdown), \(fixed(result.megabytesPerSecond)) MB/s, \(fixed(result.messagesPerSecond)) messages/s, CPU \(fixed(result.cpuSeconds)) s")
            }
        }
        let setups = results.map(\.setup).sorted()
        let throughputs = results.map(\.megabytesPerSecond).sorted()
        let summary = JSON.object([
            "mode": .string(processes == 1 ? "in-process" : "two-processes"),
            "bytes": .integer(Int64(bytes)),
            "msg": .integer(Int64(msg)),
            "channels": .integer(Int64(channels)),
            "ordered": .bool(!unordered),
            "runs": .integer(Int64(runs)),
            "setup_ms_median": .double(setups[setups.count / 2] * 1000),
            "setup_ms_max": .double((setups.last ?? 0) * 1000),
            "MBps_median": .double(throughputs[throughputs.count / 2]),
            "MBps_max": .double(throughputs.last ?? 0),
            "messages_per_s_median": .double(results.map(\.messagesPerSecond).sorted()[results.count / 2]),
            "cpu_s_per_run": .double(results.map(\.cpuSeconds).reduce(0, +) / Double(results.count)),
        ])
        if json {
            print(summary.compact())
        } else {
            print("median: setup \(fixed(setups[setups.count / 2] * 1000)) ms (max \(fixed((setups.last ?? 0) * 1000))), \(fixed(throughputs[throughputs.count / 2])) MB/s")
        }
    }

    // MARK: One process

    private func inProcess() async throws -> BenchRun {
        let cpuStart = processCPUTime()
        let peers = try InProcessPeers()
        var senders: [DataChannel] = []
        for index in 0..<channels {
            senders.append(try await peers.offerer.createDataChannel("bench-\(index)", options: DataChannelOptions(ordered: !unordered)))
        }
        // Setup time as the W3C flow sees it: from createOffer to the channels open on both sides
        // (the connections, with their certificates, exist before, as in a browser).
        let started = ContinuousClock.now
        try await peers.negotiate()

        var receivers: [DataChannel] = []
        for await channel in peers.incoming {
            receivers.append(channel)
            if receivers.count == channels { break }
        }
        for sender in senders {
            try await waitUntilOpen(sender)
        }
        let setup = started.duration(to: .now).seconds

        let share = bytes / channels
        let transferStart = ContinuousClock.now
        let messages = try await withThrowingTaskGroup(of: Int.self) { group in
            for sender in senders {
                group.addTask { try await send(share, on: sender) }
            }
            for receiver in receivers {
                group.addTask { try await receive(share, on: receiver, ordered: !unordered) }
            }
            var received = 0
            for try await count in group { received += count }
            return received / 2  // each message counted by its sender and its receiver
        }
        let seconds = transferStart.duration(to: .now).seconds
        let cpu = processCPUTime() - cpuStart
        let milestones = peers.milestones.current
        await peers.close()
        return BenchRun(
            setup: setup, megabytesPerSecond: Double(share * channels) / seconds / 1e6,
            messagesPerSecond: Double(messages) / seconds, cpuSeconds: cpu.seconds,
            iceConnected: milestones.iceConnected.map { started.duration(to: $0).seconds },
            dtlsConnected: milestones.connected.map { started.duration(to: $0).seconds })
    }

    private func send(_ total: Int, on channel: DataChannel) async throws -> Int {
        var message = [UInt8](repeating: 0x5A, count: msg)
        var sequence: UInt64 = 0
        var sent = 0
        while sent < total {
            let size = min(msg, total - sent)
            withUnsafeBytes(of: sequence.littleEndian) { for (offset, byte) in $0.prefix(size).enumerated() { message[offset] = byte } }
            try await channel.send(size == msg ? message : Array(message.prefix(size)))
            sequence += 1
            sent += size
        }
        return Int(sequence)
    }

    /// Counts `total` bytes, checking sequence numbers (in order when `ordered`, each once otherwise).
    private func receive(_ total: Int, on channel: DataChannel, ordered: Bool) async throws -> Int {
        var received = 0
        var count = 0
        var seen = Set<UInt64>()
        for await message in channel.messages {
            guard case .binary(let payload) = message else { throw ToolFailure("unexpected text message") }
            if payload.count >= 8 {
                let sequence = payload.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                if ordered {
                    guard sequence == UInt64(count) else { throw ToolFailure("message \(count) arrived as \(sequence)") }
                } else {
                    guard seen.insert(sequence).inserted else { throw ToolFailure("message \(sequence) arrived twice") }
                }
            }
            count += 1
            received += payload.count
            if received >= total { break }
        }
        guard received == total else { throw ToolFailure("received \(received) of \(total) bytes") }
        return count
    }

    // MARK: Memory per connection

    /// RSS with `connections` connected peer connections (pairs, each with an open channel),
    /// minus the RSS before, per connection. One pair is opened and closed first, so that
    /// what every connection shares (usrsctp's stack, OpenSSL's tables, the event loops) is
    /// in the baseline.
    private func measureMemory(connections: Int) async throws {
        let warmUp = try await openPair()
        await warmUp.peers.close()
        let baseline = residentBytes()
        let started = ContinuousClock.now
        var pairs: [(peers: InProcessPeers, channel: DataChannel)] = []
        for _ in 0..<(connections / 2) {
            pairs.append(try await openPair())
        }
        let opened = started.duration(to: .now).seconds
        let loaded = residentBytes()
        for pair in pairs where pair.channel.readyState != .open {
            throw ToolFailure("a channel is \(pair.channel.readyState) with \(connections) connections held")
        }
        for pair in pairs {
            await pair.peers.close()
        }
        pairs.removeAll()
        let afterClose = residentBytes()
        let perConnection = Double(loaded - baseline) / Double(connections) / 1024
        if json {
            print(
                JSON.object([
                    "mode": .string("memory"), "connections": .integer(Int64(connections)),
                    "baseline_rss_mib": .double(Double(baseline) / 1_048_576),
                    "loaded_rss_mib": .double(Double(loaded) / 1_048_576),
                    "after_close_rss_mib": .double(Double(afterClose) / 1_048_576),
                    "rss_per_connection_kib": .double(perConnection), "open_s": .double(opened),
                ]).compact())
        } else {
            print(
                "\(connections) connections (each with an open channel): \(fixed(perConnection)) KiB each; RSS \(fixed(Double(baseline) / 1_048_576)) → \(fixed(Double(loaded) / 1_048_576)) MiB, \(fixed(Double(afterClose) / 1_048_576)) MiB after closing them; opened in \(fixed(opened)) s"
            )
        }
    }

    /// A connected pair whose channel is open on both sides.
    private func openPair() async throws -> (peers: InProcessPeers, channel: DataChannel) {
        let peers = try InProcessPeers()
        let channel = try await peers.offerer.createDataChannel("memory")
        try await peers.negotiate()
        var incoming = peers.incoming.makeAsyncIterator()
        guard let remote = await incoming.next() else { throw ToolFailure("the answerer got no channel") }
        try await waitUntilOpen(channel)
        try await waitUntilOpen(remote)
        return (peers, channel)
    }

    // MARK: Two processes

    private func twoProcesses() async throws -> BenchRun {
        let common = ["--bytes", String(bytes), "--msg", String(msg), "--addresses", "loopback", "--timeout", "120"]
        let outputs = try PeerPair.run(
            executable: URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath(),
            offerer: ["peer", "--role", "offerer", "--mode", "source"] + common,
            answerer: ["peer", "--role", "answerer", "--mode", "sink"] + common,
            timeout: .seconds(150))
        guard let source = outputs.offerer.result, let sink = outputs.answerer.result,
            source["ok"] as? Bool == true, sink["ok"] as? Bool == true
        else {
            throw ToolFailure("a peer failed: \(outputs.offerer.result?["error"] ?? "no result"), \(outputs.answerer.result?["error"] ?? "no result")")
        }
        let seconds = sink["seconds"] as? Double ?? 0
        return BenchRun(
            setup: max(source["open_s"] as? Double ?? 0, sink["open_s"] as? Double ?? 0),
            megabytesPerSecond: sink["MBps"] as? Double ?? 0,
            messagesPerSecond: seconds > 0 ? Double(sink["messages"] as? Int ?? 0) / seconds : 0,
            cpuSeconds: (source["cpu_s"] as? Double ?? 0) + (sink["cpu_s"] as? Double ?? 0))
    }
}

/// One measured run.
struct BenchRun {
    var setup: Double
    var megabytesPerSecond: Double
    var messagesPerSecond: Double
    var cpuSeconds: Double
    /// In one process: seconds from createOffer to ICE connected and to DTLS connected.
    var iceConnected: Double? = nil
    var dtlsConnected: Double? = nil
}

/// One decimal place, for human-readable reports.
func fixed(_ value: Double) -> String {
    String((value * 10).rounded() / 10)
}
