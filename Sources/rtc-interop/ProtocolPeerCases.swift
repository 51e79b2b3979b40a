import Foundation
import ToolSupport

/// `rtc peer` × another stack's peer speaking the same JSON lines (docs/rtc-peer.md): aiortc
/// (Tests/interop/aiortc_peer.py) or libdatachannel (Benchmarks/peers/libdatachannel_peer.py),
/// in both roles, echo/ping and source/sink, with and without trickle.
struct ProtocolPeerCases {
    /// The stack's name in the table.
    let peer: String
    /// The Python module the script needs, checked before anything runs.
    let module: String
    let rtc: URL
    let python: String
    let script: URL

    func run(into report: Report) async {
        guard isImportable() else {
            for role in ["offerer", "answerer"] {
                report.skip(peer: peer, role: "rtc \(role)", "all cases", because: "\(module) is not importable by \(python)")
            }
            return
        }
        for trickle in [true, false] {
            for ourRole in ["offerer", "answerer"] {
                for (ours, theirs) in [("ping", "echo"), ("echo", "ping"), ("source", "sink"), ("sink", "source")] {
                    let name = "\(ours)↔\(theirs), trickle \(trickle ? "on" : "off")"
                    await report.run(peer: peer, role: "rtc \(ourRole)", name) {
                        try self.pair(ourRole: ourRole, ourMode: ours, theirMode: theirs, trickle: trickle)
                    }
                }
            }
        }
    }

    private func pair(ourRole: String, ourMode: String, theirMode: String, trickle: Bool) throws {
        let theirRole = ourRole == "offerer" ? "answerer" : "offerer"
        let common = [
            "--bytes", String(4 << 20), "--msg", "16384", "--count", "20", "--timeout", "40", "--trickle", String(trickle),
        ]
        let ours = PeerPair.Command(
            executable: rtc, arguments: ["peer", "--role", ourRole, "--mode", ourMode, "--addresses", "loopback"] + common)
        let theirs = PeerPair.Command(
            executable: URL(fileURLWithPath: "/usr/bin/env"),
            arguments: [python, script.path, "--role", theirRole, "--mode", theirMode] + common)
        let results = ourRole == "offerer"
            ? try PeerPair.run(offerer: ours, answerer: theirs, timeout: .seconds(60), captureErrors: true)
            : try PeerPair.run(offerer: theirs, answerer: ours, timeout: .seconds(60), captureErrors: true)
        let (our, their) = ourRole == "offerer" ? (results.offerer, results.answerer) : (results.answerer, results.offerer)
        try require(our.result?["ok"] as? Bool == true, "rtc: \(our.lines.last ?? "no output") \(our.errorText.suffix(300))")
        try require(their.result?["ok"] as? Bool == true, "\(peer): \(their.lines.last ?? "no output") \(their.errorText.suffix(300))")
        try require(our.status == 0 && their.status == 0, "exit status rtc \(our.status), \(peer) \(their.status)")
        if ["source", "sink"].contains(ourMode) {
            try require(our.result?["bytes"] as? Int == 4 << 20, "rtc moved \(our.result?["bytes"] ?? "?") bytes")
        }
        if !trickle {
            try require(!our.lines.contains { $0.contains("\"candidate\"") }, "rtc trickled with --trickle false")
        }
    }

    private func isImportable() -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", "import \(module)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
