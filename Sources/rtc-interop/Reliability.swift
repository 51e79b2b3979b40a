import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import ToolSupport

/// `rtc-interop reliability`: transfers between two `rtc peer`s through `rtc netem`, under loss,
/// delay with reordering, duplication and their combinations; every byte checked by SHA-256.
/// Prints a table with the throughput of each scenario and what the relay did.
struct ReliabilitySuite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reliability",
        abstract: "Transfers through the rtc netem impairment relay (inside a loopback-only namespace)."
    )

    @Option(help: "The rtc binary (rtc peer, rtc netem).")
    var rtc = ".build/release/rtc"

    @Option(help: "Bytes of each transfer.")
    var bytes = 64 << 20

    @Option(help: "Seconds each transfer may take.")
    var timeout = 300.0

    @Option(help: "Also write the table to this file.")
    var tableFile: String?

    @Option(help: "Only the scenario of this name, or else those whose name contains this text.")
    var only: String?

    @Option(help: "Instead of the suite, one scenario with these rtc netem options (e.g. '--netem=--delay 50').")
    var netem: String?

    @Option(help: "Run aiortc on both sides instead of rtc peer: this python3 and Tests/interop/aiortc_peer.py.")
    var aiortc: String?

    /// One transfer's conditions; the relay's options are applied in each direction.
    struct Scenario {
        let name: String
        let netem: [String]
        /// The transfer's size when the scenario needs its own (else --bytes).
        var bytes: Int?
        /// The connection must go `disconnected` and come back `connected` (never `failed`).
        var mustReconnect = false
    }

    static let scenarios = [
        Scenario(name: "no impairment (through the relay)", netem: []),
        Scenario(name: "10 % loss", netem: ["--loss", "0.1"]),
        Scenario(name: "50 ± 20 ms delay, reordering", netem: ["--delay", "50", "--jitter", "20"]),
        Scenario(name: "1 % duplication", netem: ["--duplicate", "0.01"]),
        Scenario(name: "10 % loss + 50 ± 20 ms + 1 % duplication", netem: ["--loss", "0.1", "--delay", "50", "--jitter", "20", "--duplicate", "0.01"]),
        Scenario(name: "5 % loss + 50 ± 20 ms + 1 % duplication", netem: ["--loss", "0.05", "--delay", "50", "--jitter", "20", "--duplicate", "0.01"]),
        Scenario(name: "20 ms RTT", netem: ["--delay", "10"]),
        Scenario(name: "1 % loss, 20 ms RTT", netem: ["--loss", "0.01", "--delay", "10"]),
        // RFC 6347 §4.2.4: DTLS retransmits its flights; ICE its checks (RFC 8445 §14.3).
        Scenario(name: "30 % loss: handshakes, then 64 KiB", netem: ["--loss", "0.3"], bytes: 64 << 10),
        // RFC 7675 §5.1: no consent for a while → disconnected; consent back before 30 s → connected.
        Scenario(name: "10 s blackout 1 s into the transfer", netem: ["--blackout-at", "1", "--blackout-for", "10"],
                 bytes: 32 << 20, mustReconnect: true),
    ]

    func run() async throws {
        guard ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1" else {
            print("reliability: skipped: not inside a loopback-only network namespace (run through make reliability as root)")
            return
        }
        let binary = URL(fileURLWithPath: rtc)
        var rows = [
            "| scenario | result | MB/s at the receiver | time | channel open after | connection states (receiver) | SCTP retransmissions / records reordered, held, released after waiting | relay, towards the receiver |",
            "|---|---|---|---|---|---|---|---|",
        ]
        var failures = 0
        let selected = netem.map { [Scenario(name: $0, netem: $0.split(separator: " ").map(String.init))] }
            ?? only.map { text in
                // A name given whole selects that scenario alone (others may contain it).
                let exact = Self.scenarios.filter { $0.name == text }
                return exact.isEmpty ? Self.scenarios.filter { $0.name.contains(text) } : exact
            } ?? Self.scenarios
        for scenario in selected {
            let peer = aiortc.map { python in
                ImpairedTransfer.Peer(
                    executable: URL(fileURLWithPath: "/usr/bin/env"),
                    leadingArguments: [python, "Tests/interop/aiortc_peer.py"])
            } ?? ImpairedTransfer.Peer(executable: binary, leadingArguments: ["peer", "--addresses", "loopback"])
            var outcome = ImpairedTransfer(
                rtc: binary, peer: peer, netem: scenario.netem, bytes: scenario.bytes ?? bytes, timeout: timeout
            ).run()
            if scenario.mustReconnect, outcome.ok, !outcome.reconnected {
                outcome.ok = false
                outcome.error = "the connection did not go disconnected and back to connected: \(outcome.states)"
            }
            if !outcome.ok {
                failures += 1
                print("\(scenario.name) failed; the peers' logs end with:\n\(outcome.log)")
            }
            let row = "| \(scenario.name) | \(outcome.ok ? "SHA-256 intact" : "failed: \(outcome.error)") | \(outcome.megabytesPerSecond.map { String(format: "%.2f", $0) } ?? "-") | \(String(format: "%.1f s", outcome.seconds)) | \(outcome.openSeconds.map { String(format: "%.2f s", $0) } ?? "-") | \(outcome.states.joined(separator: " → ")) | \(outcome.layers) | \(outcome.relay) |"
            print(row)
            rows.append(row)
        }
        let table = rows.joined(separator: "\n") + "\n"
        print("\n" + table)
        print("\(selected.count - failures) passed, \(failures) failed")
        if let tableFile { try table.write(toFile: tableFile, atomically: true, encoding: .utf8) }
        if failures > 0 { throw ExitCode(1) }
    }
}

/// A source → sink transfer whose every datagram crosses an `rtc netem` relay: the sink's
/// candidates reach the source rewritten to the relay, the source's are withheld, so the
/// sink learns the relay as a peer-reflexive candidate (RFC 8445 §7.3.1.3).
struct ImpairedTransfer {
    /// What runs the peers: `rtc peer`, or another stack speaking its protocol (docs/rtc-peer.md).
    struct Peer {
        let executable: URL
        let leadingArguments: [String]
    }

    let rtc: URL
    let peer: Peer
    let netem: [String]
    let bytes: Int
    let timeout: Double

    struct Outcome {
        var ok = false
        var error = ""
        var megabytesPerSecond: Double?
        var seconds = 0.0
        var relay = "-"
        /// The sender's SCTP retransmissions / the receiver's records seen reordered, held, released after waiting.
        var layers = "-"
        /// The end of both peers' standard error, when it failed.
        var log = ""
        /// Seconds from the receiver's start to its channel being open.
        var openSeconds: Double?
        /// The receiver's connection states, in order.
        var states: [String] = []

        /// Whether the connection went `disconnected` and then `connected` again, never `failed`.
        var reconnected: Bool {
            guard let down = states.firstIndex(of: "disconnected") else { return false }
            return states[down...].contains("connected") && !states.contains("failed")
        }
    }

    func run() -> Outcome {
        let relays = NIOLockedValueBox<[ChildProcess]>([])
        let relayPorts = NIOLockedValueBox<[Int: Int?]>([:])
        let rtc = rtc
        let netem = netem
        let common = ["--bytes", String(bytes), "--msg", "16384", "--timeout", String(timeout)]
        let peer = peer
        let started = ContinuousClock.now
        var outcome = Outcome()
        do {
            let results = try PeerPair.run(
                offerer: .init(executable: peer.executable, arguments: peer.leadingArguments + ["--role", "offerer", "--mode", "source"] + common),
                answerer: .init(executable: peer.executable, arguments: peer.leadingArguments + ["--role", "answerer", "--mode", "sink"] + common),
                timeout: .seconds(timeout + 10), captureErrors: true
            ) { line, fromOfferer in
                Self.route(line, fromOfferer: fromOfferer) { port in
                    if let known = relayPorts.withLockedValue({ $0[port] }) { return known }
                    guard let relay = try? ChildProcess(rtc, ["netem", "--forward", "127.0.0.1:\(port)"] + netem) else { return nil }
                    relays.withLockedValue { $0.append(relay) }
                    let listening = Self.listeningPort(of: relay)
                    relayPorts.withLockedValue { $0[port] = listening }
                    return listening
                }
            }
            outcome.seconds = started.duration(to: .now).secondsValue
            let sink = results.answerer.result
            outcome.ok = sink?["ok"] as? Bool == true && results.offerer.result?["ok"] as? Bool == true
                && sink?["bytes"] as? Int == bytes
            outcome.megabytesPerSecond = sink?["MBps"] as? Double
            outcome.openSeconds = sink?["open_s"] as? Double
            outcome.states = results.answerer.errorText.split(separator: "\n").compactMap { line in
                line.hasPrefix("rtc peer: connection ") ? String(line.dropFirst("rtc peer: connection ".count)) : nil
            }
            let sent = results.offerer.result?["transport"] as? [String: Any]
            let received = sink?["transport"] as? [String: Any]
            outcome.layers = "\(sent?["sctp_retransmitted_chunks"] ?? "-") / \(received?["dtls_records_reordered"] ?? "-"), \(received?["dtls_records_held"] ?? "-"), \(received?["dtls_held_released_on_timeout"] ?? "-")"
            if !outcome.ok {
                outcome.error = "\(sink?["error"] ?? results.offerer.result?["error"] ?? "no result")"
                outcome.log = "source:\n\(results.offerer.errorText.suffix(3_000))\nsink:\n\(results.answerer.errorText.suffix(3_000))"
            }
        } catch {
            outcome.error = "\(error)"
        }
        for relay in relays.withLockedValue({ $0 }) {
            relay.terminate()
            if let last = relay.waitForLastLine(), let counters = (last["to_target"] as? [String: Any]) {
                outcome.relay = counters.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                if let blackedOut = last["blacked_out"] as? Int, blackedOut > 0 { outcome.relay += ", blacked out (both ways) \(blackedOut)" }
            }
        }
        return outcome
    }

    /// The answerer's IPv4 candidates point at a relay in front of it; everything else of its
    /// candidates, and all of the offerer's, is withheld: in candidate lines and in the SDP alike
    /// (an answer can carry the candidates gathered before it was made).
    static func route(_ line: String, fromOfferer: Bool, relayTo: (Int) -> Int?) -> String? {
        guard var object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return line }
        switch object["type"] as? String {
        case "end-of-candidates":
            // The offerer's candidates are withheld: its end of candidates would tell the answerer
            // that it has none at all, and the answerer would fail its checks before the first
            // one reaches it through the relay.
            return fromOfferer ? nil : line
        case "candidate":
            guard let candidate = object["candidate"] as? String, !candidate.isEmpty else { return fromOfferer ? nil : line }  // an empty one ends them
            guard !fromOfferer, let rewritten = relayed(candidate, relayTo: relayTo) else { return nil }
            object["candidate"] = rewritten
        case "offer", "answer":
            guard let sdp = object["sdp"] as? String else { return line }
            let lines = sdp.components(separatedBy: "\r\n").compactMap { sdpLine -> String? in
                // The offerer's end of candidates, in its SDP, is withheld for the reason above.
                if sdpLine == "a=end-of-candidates" { return fromOfferer ? nil : sdpLine }
                guard sdpLine.hasPrefix("a=candidate:") else { return sdpLine }
                guard !fromOfferer else { return nil }
                return relayed(String(sdpLine.dropFirst(2)), relayTo: relayTo).map { "a=" + $0 }
            }
            object["sdp"] = lines.joined(separator: "\r\n")
        default:
            return line
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// A UDP candidate on 127.0.0.1 with its port replaced by that of a relay to it; nil for others.
    private static func relayed(_ candidate: String, relayTo: (Int) -> Int?) -> String? {
        var fields = candidate.split(separator: " ").map(String.init)
        guard fields.count > 7, fields[4] == "127.0.0.1", fields[2].lowercased() == "udp", let port = Int(fields[5]),
            let relayPort = relayTo(port)
        else { return nil }
        fields[5] = String(relayPort)
        return fields.joined(separator: " ")
    }

    /// Waits (at most 5 s, on the caller's thread) for the relay's 'relaying HOST:PORT -> ...' line.
    static func listeningPort(of relay: ChildProcess) -> Int? {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if let line = relay.lines.first(where: { $0.hasPrefix("relaying ") }),
                let address = line.split(separator: " ").dropFirst().first,
                let port = address.split(separator: ":").last.flatMap({ Int($0) })
            {
                return port
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return nil
    }
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
