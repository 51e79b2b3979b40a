import Foundation
import STUN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why an external helper process could not be used.
struct HelperProcessError: Error, CustomStringConvertible {
    let description: String
}

/// A coturn `turnserver` in STUN-only mode on 127.0.0.1, started with a throw-away configuration
/// in a temporary directory and stopped by its PID.
final class Coturn: Sendable {
    let address: TransportAddress
    private let process: Process
    private let directory: URL

    private init(address: TransportAddress, process: Process, directory: URL) {
        self.address = address
        self.process = process
        self.directory = directory
    }

    /// Starts `turnserver` and waits (at most 5 s) until it answers a Binding request.
    /// - Throws: when coturn is not installed (with how to install it) or does not answer.
    static func start() async throws -> Coturn {
        let candidates = ["/usr/bin/turnserver", "/usr/sbin/turnserver", "/usr/local/bin/turnserver", "/opt/homebrew/bin/turnserver"]
        guard let executable = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw HelperProcessError(description: "coturn's turnserver is not installed: apt-get install coturn (Debian) or brew install coturn (macOS)")
        }
        let port = try await freeUDPPort()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("coturn-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = """
            listening-ip=127.0.0.1
            listening-port=\(port)
            stun-only
            no-tls
            no-dtls
            no-cli
            no-stdout-log
            simple-log
            log-file=\(directory.path)/turnserver.log
            pidfile=\(directory.path)/turnserver.pid
            userdb=\(directory.path)/turndb
            """
        let configurationFile = directory.appendingPathComponent("turnserver.conf")
        try configuration.write(to: configurationFile, atomically: true, encoding: .utf8)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["-c", configurationFile.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let coturn = Coturn(address: loopbackV4(port: port), process: process, directory: directory)
        do {
            try await coturn.waitUntilAnswering()
        } catch {
            let log = (try? String(contentsOf: directory.appendingPathComponent("turnserver.log"), encoding: .utf8)) ?? ""
            coturn.stop()
            throw HelperProcessError(description: "coturn did not answer on \(coturn.address): \(error); log: \(log.suffix(2000))")
        }
        return coturn
    }

    /// Sends Binding requests every 100 ms for at most 5 s until one is answered.
    private func waitUntilAnswering() async throws {
        try await UDPTestClient.with { probe in
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                guard process.isRunning else { throw HelperProcessError(description: "turnserver exited with \(process.terminationStatus)") }
                try await probe.send(try STUNMessage(method: .binding, messageClass: .request).encoded(fingerprint: true), to: address)
                if (try? await probe.receive(within: 0.1)) != nil {
                    return
                }
            }
            throw TimedOut(what: "coturn's first Binding response")
        }
    }

    /// Sends SIGTERM to the PID, then SIGKILL if it is still running after 2 s; removes the directory.
    func stop() {
        let pid = process.processIdentifier
        if process.isRunning {
            kill(pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(2)
            while process.isRunning, ContinuousClock.now < deadline {
                usleep(10_000)
            }
            if process.isRunning {
                kill(pid, SIGKILL)
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago (bound, read and released).
func freeUDPPort() async throws -> UInt16 {
    try await UDPTestClient.with { $0.localAddress.port }
}
