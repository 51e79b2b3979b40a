import Foundation
import ToolSupport
import Testing
@testable import rtc

/// The whole stack against aiortc (PyPI): `rtc peer` and `Tests/interop/aiortc_peer.py`, which
/// speaks the same JSON-lines protocol, cross-piped in both roles.
@Suite("rtc peer × aiortc", .serialized)
struct AiortcInteropTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("interop/aiortc_peer.py")

    struct Case: Sendable, CustomStringConvertible {
        var ourRole: String
        var ourMode: String
        var theirMode: String
        var description: String { "rtc \(ourRole) \(ourMode), aiortc \(theirMode)" }
    }

    @Test(
        "rtc peer and aiortc connect and exchange data",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)),
        arguments: [
            Case(ourRole: "offerer", ourMode: "ping", theirMode: "echo"),
            Case(ourRole: "answerer", ourMode: "ping", theirMode: "echo"),
            Case(ourRole: "offerer", ourMode: "source", theirMode: "sink"),
            Case(ourRole: "answerer", ourMode: "sink", theirMode: "source"),
        ])
    func interoperates(with testCase: Case) throws {
        let theirRole = testCase.ourRole == "offerer" ? "answerer" : "offerer"
        let common = ["--bytes", String(2 << 20), "--msg", "16384", "--count", "10", "--timeout", "40"]
        let ours = PeerPair.Command(
            executable: try RTC.binary(), arguments: ["peer", "--role", testCase.ourRole, "--mode", testCase.ourMode] + common)
        let python = ProcessInfo.processInfo.environment["RTC_PYTHON"] ?? "python3"
        let theirs = PeerPair.Command(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [python, Self.script.path, "--role", theirRole, "--mode", testCase.theirMode] + common)
        let results = testCase.ourRole == "offerer"
            ? try PeerPair.run(offerer: ours, answerer: theirs, timeout: .seconds(60), captureErrors: true)
            : try PeerPair.run(offerer: theirs, answerer: ours, timeout: .seconds(60), captureErrors: true)
        let (our, their) = testCase.ourRole == "offerer" ? (results.offerer, results.answerer) : (results.answerer, results.offerer)
        #expect(our.result?["ok"] as? Bool == true, "rtc: \(our.lines.last ?? "no output") \(our.errorText)")
        #expect(their.result?["ok"] as? Bool == true, "aiortc: \(their.lines.last ?? "no output") \(their.errorText)")
        #expect(our.status == 0 && their.status == 0)
        if testCase.ourMode == "sink" || testCase.ourMode == "source" {
            #expect(our.result?["bytes"] as? Int == 2 << 20)
        }
    }
}
