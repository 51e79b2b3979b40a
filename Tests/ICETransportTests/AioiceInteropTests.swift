import Foundation
import ICE
import ICETransport
import NIOCore
import SDP
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Tests/interop/aioice_peer.py run with `python3` (or `$RTC_PYTHON`), spoken to in JSON lines.
final class AioicePeer: Sendable {
    private let process: Process
    private let input: FileHandle
    private let lines = Mailbox<[String: String]>()
    private let splitter = LineSplitter()

    /// Splits the script's standard output into lines as it arrives.
    private final class LineSplitter: @unchecked Sendable {
        private let lock = NSLock()
        private var pending = Data()

        func append(_ data: Data) -> [Data] {
            lock.withLock {
                pending.append(data)
                var lines: [Data] = []
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    lines.append(pending[pending.startIndex..<newline])
                    pending.removeSubrange(pending.startIndex...newline)
                }
                return lines
            }
        }
    }

    init(role: ICERole) throws {
        let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("interop/aioice_peer.py")
        let python = ProcessInfo.processInfo.environment["RTC_PYTHON"] ?? "python3"
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script.path, "--role", role == .controlling ? "controlling" : "controlled", "--timeout", "20"]
        let stdinPipe = Pipe()
        let stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        input = stdinPipe.fileHandleForWriting
        let lines = lines
        let splitter = splitter
        stdoutPipe.fileHandleForReading.readabilityHandler = { handle in
            for line in splitter.append(handle.availableData) {
                guard let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] else { continue }
                lines.put(object.compactMapValues { $0 as? String })
            }
        }
        try process.run()
    }

    /// Writes one command line.
    func send(_ message: [String: String]) throws {
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(UInt8(ascii: "\n"))
        try input.write(contentsOf: data)
    }

    /// The next message from the script, at most `seconds` away; an `error` message fails.
    func next(within seconds: Double = 20) async throws -> [String: String] {
        let message = try await lines.take(within: seconds, "a line from aioice_peer.py")
        if message["type"] == "error" {
            throw HelperProcessError(description: "aioice_peer.py: \(message["message"] ?? "?")")
        }
        return message
    }

    /// The next message of `type`, skipping others, within `seconds` overall.
    func next(_ type: String, within seconds: Double = 20) async throws -> [String: String] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            let remaining = deadline - ContinuousClock.now
            let message = try await next(within: Double(remaining.components.seconds) + 0.5)
            if message["type"] == type { return message }
        }
    }

    /// Asks the script to close, then ends it by PID if it has not exited within 5 s.
    func stop() {
        try? send(["type": "close"])
        try? input.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning, ContinuousClock.now < deadline {
            usleep(10_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }
}

extension LoopbackSocketTests {
@Suite("Interoperability with aioice (aiortc's ICE)")
struct AioiceInteropTests {
    @Test("connects with aioice and exchanges one datagram each way", arguments: [ICERole.controlling, .controlled])
    func interop(ourRole: ICERole) async throws {
        let aioice = try AioicePeer(role: ourRole == .controlling ? .controlled : .controlling)
        defer { aioice.stop() }
        let ours = try await TestPeer.start(role: ourRole)
        let forwarding = ours.forwardEvents { event in
            switch event {
            case .localCandidate(let candidate):
                try? aioice.send(["type": "candidate", "candidate": candidate.candidateString])
            case .gatheringStateChanged(.complete):
                try? aioice.send(["type": "end-of-candidates"])
            default:
                break
            }
        }
        let credentials = try await ours.transport.localCredentials
        try aioice.send(["type": "credentials", "ufrag": credentials.ufrag, "pwd": credentials.password])

        // aioice announces its credentials, candidates and end-of-candidates at start.
        var remoteEnded = false
        while !remoteEnded {
            let message = try await aioice.next()
            switch message["type"] {
            case "credentials":
                try await ours.transport.setRemoteCredentials(
                    ICECredentials(ufrag: message["ufrag"] ?? "", password: message["pwd"] ?? ""))
            case "candidate":
                try await ours.transport.addRemoteCandidate(ICECandidate(parsing: message["candidate"] ?? ""))
            case "end-of-candidates":
                try await ours.transport.addRemoteEndOfCandidates()
                remoteEnded = true
            default:
                break
            }
        }

        _ = try await aioice.next("connected")
        try await ours.log.wait(for: "our transport connected", within: 20) { $0.isConnected && $0.hasSelectedPair }

        let toAioice = dtlsLikePayload("from swift")
        try await ours.transport.send(ByteBuffer(bytes: toAioice))
        let received = try await aioice.next("received")
        #expect(received["hex"] == toAioice.map { String(format: "%02x", $0) }.joined())

        let fromAioice = dtlsLikePayload("from aioice")
        try aioice.send(["type": "send", "hex": fromAioice.map { String(format: "%02x", $0) }.joined()])
        #expect(try await ours.nextDatagram(within: 20).bytes == fromAioice)

        await ours.transport.close()
        await forwarding.value
    }
}
}
