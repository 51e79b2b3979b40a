import ArgumentParser
import Foundation
import Mesh
import ToolSupport

/// `rtc mesh-sim`: N overlay nodes in one process on loopback (docs/mesh.md).
struct MeshSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh-sim",
        abstract: "Run N mesh nodes in one process on loopback and report how the overlay does.",
        discussion: """
            Starts a signaling server, lets the nodes enter one after the other, waits until the \
            overlay is connected, stops the server, sends broadcasts and a direct message between \
            two nodes that are not neighbours, then (with --kill) fails a share of the nodes, waits \
            for the survivors to heal through their neighbours alone, and broadcasts again. With \
            --json the last line of stdout is one object: nodes, converged_s, view_min, view_max, \
            delivery_ratio, broadcast_p50_ms, broadcast_p99_ms and more.
            """
    )

    @Option(help: "How many nodes.")
    var nodes = 30

    @Option(help: "full or partial membership.")
    var mode: MeshMode = .partial

    @Option(help: "The share of nodes to fail after the first broadcasts (0 to 0.9).")
    var kill = 0.0

    @Option(help: "Broadcasts per phase.")
    var broadcasts = 5

    @Option(help: "Seconds each phase may take.")
    var timeout = 60.0

    @Flag(help: "Print the report as one JSON object on the last line.")
    var json = false

    func validate() throws {
        guard (2...1_000).contains(nodes) else { throw ValidationError("--nodes must be 2 to 1000") }
        guard (0...0.9).contains(kill) else { throw ValidationError("--kill must be 0 to 0.9") }
        guard broadcasts > 0, timeout > 0 else { throw ValidationError("--broadcasts and --timeout must be positive") }
    }

    func run() async throws {
        ignoreBrokenPipes()
        let quiet = json
        let simulation = MeshSimulation(
            settings: .init(
                nodes: nodes, mode: mode, killFraction: kill, broadcasts: broadcasts,
                phaseTimeout: .milliseconds(Int64(timeout * 1000))),
            progress: { line in if !quiet { print(line) } })
        let report = try await simulation.run()
        if json {
            print(report.json.compact())
        } else {
            print(report.json.rendered())
        }
    }
}

extension MeshSimulation.Report {
    var json: JSON {
        let latencies = latenciesMilliseconds.sorted()
        func percentile(_ fraction: Double) -> JSON {
            guard !latencies.isEmpty else { return .null }
            let index = min(latencies.count - 1, Int((Double(latencies.count) * fraction).rounded(.up)) - 1)
            return .double((latencies[max(0, index)] * 10).rounded() / 10)
        }
        let overlay: [(key: String, value: JSON)] = [
            ("nodes", .integer(Int64(nodes))),
            ("mode", .string(mode.rawValue)),
            ("converged_s", convergedSeconds.map(JSON.double) ?? .null),
            ("view_min", .integer(Int64(viewMin))),
            ("view_max", .integer(Int64(viewMax))),
            ("view_mean", .double((viewMean * 100).rounded() / 100)),
            ("signaling_stopped", .bool(signalingStopped)),
            ("join_retries", .integer(Int64(joinRetries))),
        ]
        let delivery: [(key: String, value: JSON)] = [
            ("delivery_ratio", .double(deliveryRatio)),
            ("broadcasts_expected", .integer(Int64(broadcastsExpected))),
            ("broadcasts_delivered", .integer(Int64(broadcastsDelivered))),
            ("broadcast_p50_ms", percentile(0.5)),
            ("broadcast_p99_ms", percentile(0.99)),
            ("direct_to_non_neighbour", directToNonNeighbour.map(JSON.bool) ?? .null),
        ]
        let churn: [(key: String, value: JSON)] = [
            ("killed", .integer(Int64(killed))),
            ("isolated", .integer(Int64(isolated))),
            ("healed_s", killed == 0 ? .null : healedSeconds.map(JSON.double) ?? .null),
            ("view_min_after_kill", .integer(Int64(viewMinAfterKill))),
            ("view_max_after_kill", .integer(Int64(viewMaxAfterKill))),
        ]
        let counted: [(String, Int)] = [
            ("malformed", counters.malformed), ("duplicates", counters.duplicates), ("forwarded", counters.forwarded),
            ("relayed_signals", counters.relayedSignals), ("dropped_signals", counters.droppedSignals),
            ("attempts_started", counters.attemptsStarted), ("attempts_failed", counters.attemptsFailed),
            ("offers_refused", counters.offersRefused), ("send_queue_overflows", counters.sendQueueOverflows),
        ]
        return .object(overlay + delivery + churn + counted.map { ($0.0, JSON.integer(Int64($0.1))) })
    }
}
