import Foundation
import Testing
import TestSupport

/// The mesh overlay with real peer connections on loopback: `rtc mesh-sim` (many nodes in
/// one process) and `rtc mesh` processes talking after the signaling server is gone.
@Suite("rtc mesh and rtc mesh-sim", .serialized)
struct MeshToolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    /// Runs `rtc mesh-sim` and returns its JSON report (the last line).
    private func simulate(_ arguments: [String], timeLimit: Duration) throws -> [String: Any] {
        let run = try RTC.run(["mesh-sim", "--json"] + arguments, timeLimit: timeLimit)
        #expect(run.status == 0, "rtc mesh-sim failed: \(run.errorText)")
        let output = String(decoding: run.standardOutput, as: UTF8.self)
        let last = output.split(separator: "\n").last.map(String.init) ?? ""
        return try #require(Child.object(last), "no JSON report in: \(output)")
    }

    @Test(
        "30 nodes: the server stops, broadcast and direct messages arrive, 30 % fail and the rest heal",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(5)))
    func thirtyNodesSurviveTheServerAndFailures() throws {
        let report = try simulate(["--nodes", "30", "--kill", "0.3", "--timeout", "60"], timeLimit: .seconds(270))
        #expect(report["converged_s"] is Double, "\(report)")
        #expect(report["signaling_stopped"] as? Bool == true)
        #expect(report["direct_to_non_neighbour"] as? Bool == true)
        #expect(report["killed"] as? Int == 9)
        #expect(report["healed_s"] is Double, "the survivors did not re-form a connected overlay: \(report)")
        #expect(report["delivery_ratio"] as? Double == 1, "\(report)")
        #expect((report["broadcasts_expected"] as? Int ?? 0) > 0)
        #expect(report["malformed"] as? Int == 0)
    }

    @Test(
        "100 nodes in partial view: views stay bounded and every broadcast reaches every node",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .disabled(
            if: Sanitizer.active != nil,
            "100 nodes in one process outrun the time bounds under a sanitizer (the 30-node case runs there)"),
        .timeLimit(.minutes(8)))
    func hundredNodesInPartialView() throws {
        let report = try simulate(["--nodes", "100", "--mode", "partial", "--timeout", "120"], timeLimit: .seconds(450))
        #expect(report["converged_s"] is Double, "\(report)")
        // log2(N) + 1 is at most 8 for N ≤ 128, and a node accepts up to twice its target.
        let viewMax = report["view_max"] as? Int ?? .max
        #expect((3...16).contains(report["view_min"] as? Int ?? 0) && viewMax <= 16, "\(report)")
        #expect(report["delivery_ratio"] as? Double == 1, "\(report)")
    }

    @Test(
        "rtc mesh: after the server stops, a dropped link is brokered again and carries a broadcast",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)))
    func meshNodesRelinkWithoutTheServer() async throws {
        let rtc = try RTC.binary()
        let signal = try Child(rtc, ["signal", "--port", "0"])
        defer { signal.stop() }
        let listening = try await signal.waitForLine { $0.hasPrefix("listening on http://127.0.0.1:") }
        let port = try #require(listening.split(separator: ":").last.flatMap { Int($0) })
        let url = "ws://127.0.0.1:\(port)/ws"

        var nodes: [Child] = []
        defer { for node in nodes { node.stop() } }
        for id in ["a", "b", "c"] {
            let node = try Child(
                rtc, ["mesh", "--signal", url, "--room", "m", "--id", id, "--mode", "full", "--addresses", "loopback"])
            nodes.append(node)
            _ = try await node.waitForEvent("joined")
        }
        let (a, b, c) = (nodes[0], nodes[1], nodes[2])
        _ = try await a.waitForEvent("neighbour-up") { $0["id"] as? String == "c" }
        _ = try await c.waitForEvent("neighbour-up") { $0["id"] as? String == "a" }
        signal.stop()
        #expect(try await signal.waitForExit() == 0)

        // Without the server, a and c can only meet again through b.
        let beforeDrop = a.output.count
        a.writeLine("/drop c")
        _ = try await c.waitForEvent("neighbour-down") { $0["id"] as? String == "a" }
        let relinked = try await a.waitForEvent("neighbour-up", after: beforeDrop, timeout: .seconds(60)) {
            $0["id"] as? String == "c" && $0["signaling"] as? String == "overlay"
        }
        #expect(relinked["direction"] as? String == "out")  // the smaller id offers
        c.writeLine("hello from c")
        let heard = try await a.waitForEvent("broadcast") { $0["from"] as? String == "c" }
        #expect(heard["data"] as? String == "hello from c")
        _ = try await b.waitForEvent("broadcast") { $0["from"] as? String == "c" }

        for node in nodes { node.closeInput() }
        for node in nodes { #expect(try await node.waitForExit() == 0) }
    }
}
