import Foundation
import ToolSupport
import Testing
@testable import rtc

/// Two `rtc peer` processes whose stdout lines are cross-piped into each other's stdin, exactly
/// as an interop driver for another stack would connect them (docs/rtc-peer.md).
@Suite("rtc peer protocol", .serialized)
struct PeerProtocolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    struct Pairing: Sendable, CustomStringConvertible {
        var offererMode: String
        var answererMode: String
        var trickle: Bool
        var description: String { "offerer \(offererMode), answerer \(answererMode), trickle \(trickle)" }
    }

    static let pairings: [Pairing] = [true, false].flatMap { trickle in
        [("ping", "echo"), ("echo", "ping"), ("source", "sink"), ("sink", "source")].map {
            Pairing(offererMode: $0.0, answererMode: $0.1, trickle: trickle)
        }
    }

    @Test(
        "two rtc peer processes connect and pass the mode's traffic",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)),
        arguments: pairings)
    func crossPiped(pairing: Pairing) throws {
        let common = ["--bytes", String(8 << 20), "--msg", "16384", "--count", "20", "--trickle", String(pairing.trickle), "--timeout", "30"]
        let results = try PeerPair.run(
            executable: try RTC.binary(),
            offerer: ["peer", "--role", "offerer", "--mode", pairing.offererMode] + common,
            answerer: ["peer", "--role", "answerer", "--mode", pairing.answererMode] + common,
            timeout: .seconds(90), captureErrors: true)
        for (name, result) in [("offerer", results.offerer), ("answerer", results.answerer)] {
            #expect(result.status == 0, "\(name) exited \(result.status): \(result.errorText)")
            let last = try #require(result.result, "\(name) printed no result line")
            #expect(last["type"] as? String == "result")
            #expect(last["ok"] as? Bool == true, "\(name): \(last)")
            #expect(last["role"] as? String == name)
            let mode = name == "offerer" ? pairing.offererMode : pairing.answererMode
            #expect(last["mode"] as? String == mode)
            if mode == "source" || mode == "sink" {
                #expect(last["bytes"] as? Int == 8 << 20)
            }
            if mode == "ping" {
                #expect(last["messages"] as? Int == 20)
                #expect((last["rtt_ms"] as? [String: Any])?["median"] is Double)
            }
            // Signaling lines: the description first; candidate lines only with trickle.
            let types = result.lines.compactMap(jsonObject).compactMap { $0["type"] as? String }
            #expect(types.first == (name == "offerer" ? "offer" : "answer"))
            #expect(types.contains("candidate") == pairing.trickle)
        }
    }

    @Test(
        "bad arguments and an unreachable peer give clean errors and the documented exit statuses",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func failures() throws {
        let badArgument = try RTC.run(["peer", "--role", "sideways"])
        #expect(badArgument.status != 0)
        #expect(!badArgument.errorText.isEmpty)
        // Nobody answers the offer: the peer times out with status 2 and a result line saying so.
        let alone = try RTC.run(["peer", "--role", "offerer", "--timeout", "2"])
        #expect(alone.status == 2)
        let lines = String(decoding: alone.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        let result = try #require(lines.last.flatMap(jsonObject))
        #expect(result["ok"] as? Bool == false)
        #expect((result["error"] as? String)?.contains("timeout") == true)
    }
}

private func jsonObject(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}
