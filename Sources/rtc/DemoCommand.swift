#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import RTCCollections
import DataChannel
import ToolSupport
import WebRTC

/// `rtc demo`: two peers on loopback in this process, connected through an in-process
/// signaling path; a channel, a few messages, and a verified file transfer.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Connect two peers on loopback in this process and transfer a generated file, verified by SHA-256."
    )

    @Option(help: "Size of the generated file in MiB.")
    var mebibytes: Int = 64

    @Option(help: "Message size in bytes.")
    var messageSize: Int = 65_536

    func validate() throws {
        guard mebibytes > 0, (1...262_144).contains(messageSize) else {
            throw ValidationError("--mebibytes must be positive and --message-size within 1...262144")
        }
    }

    func run() async throws {
        let cpuAtStart = processCPUTime()
        let started = ContinuousClock.now
        let peers = try InProcessPeers()
        print("Two peer connections on loopback; signaling passes in memory.")
        let channel = try await peers.offerer.createDataChannel("demo")
        try await peers.negotiate()

        var remoteChannels = peers.incoming.makeAsyncIterator()
        guard let remote = await remoteChannels.next() else { throw ToolFailure("the answerer got no channel") }
        try await waitUntilOpen(channel)
        let setup = started.duration(to: .now)
        print("Channel '\(channel.label)' open in \(fixed(setup.seconds * 1000)) ms (ICE, DTLS, SCTP, DCEP).")

        var replies = channel.messages.makeAsyncIterator()
        var received = remote.messages.makeAsyncIterator()
        for text in ["Hello from the offerer", "Ünïcödé and emoji 🚀 survive too"] {
            try await channel.send(text)
            guard let message = await received.next() else { throw ToolFailure("no message") }
            try await remote.send(message)
            guard let echo = await replies.next() else { throw ToolFailure("no echo") }
            print("  sent \"\(text)\", echoed back: \(echo == .text(text) ? "identical" : "DIFFERENT")")
        }

        let total = mebibytes << 20
        print("Transferring a generated \(mebibytes) MiB file in \(messageSize)-byte messages…")
        let transferStart = ContinuousClock.now
        let cpuAtTransfer = processCPUTime()
        async let sentDigest: String = {
            let hasher = SHA256Hasher()
            var generator = DemoBytes(seed: 0x5eed)
            var sent = 0
            while sent < total {
                let chunk = generator.next(min(messageSize, total - sent))
                hasher.update(chunk)
                try await channel.send(chunk)
                sent += chunk.count
            }
            return hasher.finish()
        }()
        let hasher = SHA256Hasher()
        var receivedBytes = 0
        let progress = ProgressBar(total: total)
        while receivedBytes < total, let message = await received.next() {
            guard case .binary(let bytes) = message else { continue }
            hasher.update(bytes)
            receivedBytes += bytes.count
            progress.update(receivedBytes)
        }
        progress.finish()
        let elapsed = transferStart.duration(to: .now)
        let receivedDigest = hasher.finish()
        let sent = try await sentDigest
        let cpu = processCPUTime() - cpuAtTransfer

        print("  sender   SHA-256 \(sent)")
        print("  receiver SHA-256 \(receivedDigest)")
        print("Setup \(fixed(setup.seconds * 1000)) ms; \(fixed(Double(receivedBytes) / elapsed.seconds / 1e6)) MB/s over \(fixed(elapsed.seconds)) s; CPU \(fixed(cpu.seconds)) s for the transfer (\(fixed((processCPUTime() - cpuAtStart).seconds)) s in all).")
        channel.close()
        await peers.close()
        guard sent == receivedDigest, receivedBytes == total else {
            throw ToolFailure("the received file differs from the one sent")
        }
        print("Transfer verified: \(receivedBytes) bytes, SHA-256 identical.")
    }
}

/// Reproducible pseudo-random file contents, so nothing is read from disk.
private struct DemoBytes {
    var random: SplitMix64
    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// Eight bytes per draw.
    mutating func next(_ count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            let z = random.next()
            for shift in stride(from: 0, to: 64, by: 8) where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: z >> UInt64(shift))
                index += 1
            }
        }
        return bytes
    }
}

/// A progress bar on a terminal; a few plain lines otherwise.
private final class ProgressBar {
    private let total: Int
    private let isTerminal = isatty(STDOUT_FILENO) != 0
    private var shownPercent = -1

    init(total: Int) { self.total = total }

    func update(_ done: Int) {
        let percent = total > 0 ? done * 100 / total : 100
        guard percent != shownPercent else { return }
        shownPercent = percent
        if isTerminal {
            let width = 40
            let filled = percent * width / 100
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            writeFully(STDOUT_FILENO, "\r  [\(bar)] \(percent)%")
        } else if percent % 25 == 0 {
            print("  \(percent)%")
        }
    }

    func finish() {
        if isTerminal { print("") }
    }
}
