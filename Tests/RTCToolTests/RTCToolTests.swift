import Foundation
import SDP
import Testing
import TestSupport

/// End-to-end tests of the `rtc` binary: what a user sees on good input, and a
/// clean one-line error with exit status 1, never a crash, on bad input.
@Suite("rtc tool")
struct RTCToolTests {
    @Test("rtc sdp renders every SDP vector as JSON", arguments: Vectors.files(in: "sdp", withExtension: "sdp"))
    func sdpJSON(vector: URL) throws {
        let run = try RTC.run(["sdp", vector.path])
        #expect(run.status == 0, "\(run.standardError)")
        let json = try #require(try JSONSerialization.jsonObject(with: run.standardOutput) as? [String: Any])
        let media = try #require(json["media"] as? [[String: Any]])
        let parsed = try SessionDescription(parsing: try Data(contentsOf: vector))
        #expect(media.map { $0["dataChannel"] as? Bool } == parsed.media.map(\.isDataChannel))
        #expect(media.map { $0["mid"] as? String } == parsed.media.map(\.mid))
    }

    @Test("rtc sdp --roundtrip prints an equal description", arguments: Vectors.files(in: "sdp", withExtension: "sdp"))
    func sdpRoundTrip(vector: URL) throws {
        let run = try RTC.run(["sdp", "--roundtrip", vector.path])
        #expect(run.status == 0, "\(run.standardError)")
        let original = try SessionDescription(parsing: try Data(contentsOf: vector))
        #expect(try SessionDescription(parsing: run.standardOutput) == original)
    }

    @Test("the SDP vectors are found")
    func sdpVectorsExist() {
        #expect(Vectors.files(in: "sdp", withExtension: "sdp").count >= 7)
    }

    @Test("rtc sdp reports the line and reason of an invalid description")
    func sdpInvalid() throws {
        let run = try RTC.run(["sdp", "-"], input: Data("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nbogus\r\n".utf8))
        #expect(run.status == 1)
        #expect(run.errorText.hasPrefix("line 4: "))
        #expect(run.standardOutput.isEmpty)
    }

    @Test("rtc stun decodes and verifies every RFC 5769 vector")
    func stunVectors() throws {
        for (file, arguments) in [
            ("rfc5769-request.bin", ["--password", "VOkJxbRl1RmTxUk/WvJxBt"]),
            ("rfc5769-response-ipv4.bin", ["--password", "VOkJxbRl1RmTxUk/WvJxBt"]),
            ("rfc5769-response-ipv6.bin", ["--password", "VOkJxbRl1RmTxUk/WvJxBt"]),
            ("rfc5769-request-long-term.bin", ["--long-term", "--password", "TheMatrIX"]),
        ] {
            let run = try RTC.run(["stun", Vectors.url("stun/\(file)").path] + arguments)
            #expect(run.status == 0, "\(file): \(run.errorText)")
            let json = try #require(try JSONSerialization.jsonObject(with: run.standardOutput) as? [String: Any])
            #expect(json["messageIntegrity"] as? String == "valid", "\(file)")
            #expect(["valid", "absent"].contains(json["fingerprint"] as? String), "\(file)")
        }
    }

    @Test("rtc stun rejects a wrong password with the reason")
    func stunWrongPassword() throws {
        let run = try RTC.run(["stun", Vectors.url("stun/rfc5769-request.bin").path, "--password", "wrong"])
        #expect(run.status == 1)
        #expect(run.errorText.contains("MESSAGE-INTEGRITY does not match"))
    }

    @Test("rtc stun --hex reads hexadecimal text")
    func stunHex() throws {
        let bytes = try Data(contentsOf: Vectors.url("stun/rfc5769-response-ipv4.bin"))
        let hex = bytes.map { String(format: "%02x", $0) }.joined(separator: " ")
        let run = try RTC.run(["stun", "--hex", "-"], input: Data(hex.utf8))
        #expect(run.status == 0, "\(run.errorText)")
        #expect(String(decoding: run.standardOutput, as: UTF8.self).contains("192.0.2.1:32853"))

        let invalid = try RTC.run(["stun", "--hex", "-"], input: Data("0001 00zz".utf8))
        #expect(invalid.status == 1)
        #expect(invalid.errorText.contains("invalid hex"))
    }

    @Test("garbage, empty and huge inputs give exit status 1 and one clear line", arguments: ["sdp", "stun"])
    func hostileInputs(command: String) throws {
        var generator = SplitMix64(seed: 0x5eed)
        let garbage = Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let huge = try HugeInput.file()
        defer { try? FileManager.default.removeItem(at: huge) }
        let inputs: [(name: String, arguments: [String], stdin: Data?)] = [
            ("garbage", ["-"], garbage),
            ("empty", ["-"], Data()),
            ("huge file", [huge.path], nil),
            ("huge stdin", ["-"], nil),
        ]
        for input in inputs {
            let started = ContinuousClock.now
            let run = try RTC.run(
                [command] + input.arguments, input: input.stdin,
                inputFile: input.name == "huge stdin" ? huge : nil)
            #expect(run.status == 1, "\(command) \(input.name): status \(run.status)")
            #expect(run.uncaughtSignal == false, "\(command) \(input.name) crashed")
            let lines = run.errorText.split(separator: "\n")
            #expect(lines.count == 1, "\(command) \(input.name): \(run.errorText)")
            print("rtc \(command) on \(input.name) input: \(lines.first ?? "") in \(ContinuousClock.now - started)")
        }
    }
}

/// A 100 MB input shaped like SDP (many short lines), made once per test run.
enum HugeInput {
    static let size = 100 * 1024 * 1024

    /// A new file; the caller removes it.
    static func file() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("rtc-huge-input-\(UUID().uuidString)")
        let line = Data("a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n".utf8)
        var chunk = Data()
        while chunk.count < 1024 * 1024 { chunk.append(line) }
        try Data().write(to: url)
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var written = 0
        while written < size {
            let piece = chunk.prefix(size - written)
            try handle.write(contentsOf: piece)
            written += piece.count
        }
        return url
    }
}

/// Runs the `rtc` binary built beside the test bundle.
enum RTC {
    struct Run {
        var status: Int32
        var uncaughtSignal: Bool
        var standardOutput: Data
        var standardError: Data
        var errorText: String { String(decoding: standardError, as: UTF8.self) }
    }

    static func binary() throws -> URL {
        if let explicit = ProcessInfo.processInfo.environment["RTC_BINARY"] {
            return URL(fileURLWithPath: explicit)
        }
        // `swift test` runs the test bundle from the build directory, where `rtc` is built too.
        let directories = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in directories {
            let candidate = directory.appendingPathComponent("rtc")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw MissingBinary(searched: directories.map(\.path))
    }

    struct MissingBinary: Error, CustomStringConvertible {
        var searched: [String]
        var description: String { "rtc binary not found (build it first; searched \(searched))" }
    }

    /// Runs `rtc` with standard input from `input` or `inputFile`, output to
    /// temporary files (no pipe can fill up), for at most `timeLimit`.
    static func run(
        _ arguments: [String], input: Data? = nil, inputFile: URL? = nil, timeLimit: Duration = .seconds(60)
    ) throws -> Run {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rtc-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let stdinURL = inputFile ?? directory.appendingPathComponent("stdin")
        if inputFile == nil { try (input ?? Data()).write(to: stdinURL) }
        let stdoutURL = directory.appendingPathComponent("stdout")
        let stderrURL = directory.appendingPathComponent("stderr")
        try Data().write(to: stdoutURL)
        try Data().write(to: stderrURL)

        let process = Process()
        process.executableURL = try binary()
        process.arguments = arguments
        process.standardInput = try FileHandle(forReadingFrom: stdinURL)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        try process.run()
        let deadline = ContinuousClock.now + timeLimit
        while process.isRunning && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            Issue.record("rtc \(arguments.joined(separator: " ")) did not finish within \(timeLimit)")
        }
        return Run(
            status: process.terminationStatus,
            uncaughtSignal: process.terminationReason == .uncaughtSignal,
            standardOutput: try Data(contentsOf: stdoutURL),
            standardError: try Data(contentsOf: stderrURL))
    }
}

/// Where the vectors live: `Vectors/` at the package root.
enum Vectors {
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Vectors")

    static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }

    static func files(in directory: String, withExtension pathExtension: String) -> [URL] {
        let urls = (try? FileManager.default.contentsOfDirectory(
            at: url(directory), includingPropertiesForKeys: nil)) ?? []
        return urls.filter { $0.pathExtension == pathExtension }.sorted { $0.path < $1.path }
    }
}

