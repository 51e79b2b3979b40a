import Foundation
import Logging
import Mesh
import NIOConcurrencyHelpers
import Signaling
import SignalingServer
import WebRTC

/// N mesh nodes in one process on loopback, entering through an in-process signaling server:
/// how fast the overlay forms, how well broadcasts and direct messages get through once the
/// server is gone, and how it heals when nodes fail. `rtc mesh-sim` prints its report; the
/// mesh tests assert on it.
struct MeshSimulation {
    struct Settings {
        var nodes: Int
        var mode: MeshMode
        /// The share of nodes that fail after the first broadcasts (0: none).
        var killFraction: Double
        /// Broadcasts per phase (before and after the failures), from random nodes.
        var broadcasts = 5
        /// How long each phase may take before it counts as not reached.
        var phaseTimeout: Duration
    }

    struct Report {
        var nodes = 0
        var mode = MeshMode.partial
        /// Joins tried again after the server did not answer in time.
        var joinRetries = 0
        /// From the first join until the overlay is connected and every view is full enough.
        var convergedSeconds: Double?
        var viewMin = 0
        var viewMax = 0
        var viewMean = 0.0
        /// Whether every node saw the signaling server go away.
        var signalingStopped = false
        var broadcastsExpected = 0
        var broadcastsDelivered = 0
        var latenciesMilliseconds: [Double] = []
        /// A direct message between two nodes that are not neighbours (nil: every pair is).
        var directToNonNeighbour: Bool?
        var killed = 0
        /// Survivors whose every neighbour failed at once: with the server gone nothing can reach them.
        var isolated = 0
        /// From the failures until the other survivors' overlay is connected again.
        var healedSeconds: Double?
        var viewMinAfterKill = 0
        var viewMaxAfterKill = 0
        var counters = MeshCounters()

        var deliveryRatio: Double {
            broadcastsExpected == 0 ? 1 : Double(broadcastsDelivered) / Double(broadcastsExpected)
        }
    }

    let settings: Settings
    let progress: @Sendable (String) -> Void

    func run() async throws -> Report {
        var report = Report()
        report.nodes = settings.nodes
        report.mode = settings.mode
        var limits = SignalingLimits()
        limits.maxPeersPerRoom = max(limits.maxPeersPerRoom, settings.nodes)
        var logger = Logger(label: "rtc.mesh-sim")
        logger.logLevel = .critical
        let server = try await SignalingServer.start(
            SignalingServerConfiguration(host: "127.0.0.1", port: 0, limits: limits, logger: logger))
        let url = "ws://127.0.0.1:\(server.port)/ws"
        var connection = PeerConnectionConfiguration()
        connection.hostAddresses = .loopback

        let start = ContinuousClock.now
        let deliveries = Deliveries(start: start)
        var nodes: [MeshNode] = []
        var readers: [Task<Void, Never>] = []
        for index in 0..<settings.nodes {
            let (node, failedTries) = try await join(url: url, id: String(format: "node-%03d", index), connection: connection)
            report.joinRetries += failedTries
            nodes.append(node)
            readers.append(Task { for await event in node.events { deliveries.record(event, at: node.id) } })
            // Nodes arrive one after the other, each once the one before is in (bounded wait):
            // a crowd of handshakes at once would measure the machine, not the overlay.
            if index > 0 { _ = await waitFor(atMost: .seconds(10)) { !node.snapshot.neighbours.isEmpty } }
            if (index + 1) % 10 == 0 { progress("  \(index + 1) nodes in after \(seconds(since: start)) s") }
        }
        progress("\(settings.nodes) nodes joined in \(seconds(since: start)) s")
        if let converged = await waitUntilFormed(nodes, since: start) {
            report.convergedSeconds = converged
            (report.viewMin, report.viewMax, report.viewMean) = viewSizes(nodes)
        }
        progress("converged: \(report.convergedSeconds.map { "\($0) s" } ?? "no")")

        await server.stop()
        report.signalingStopped = await waitFor { nodes.allSatisfy { !$0.snapshot.signalingOpen } }
        await broadcastPhase(from: nodes, deliveries: deliveries, into: &report)
        report.directToNonNeighbour = await directMessage(among: nodes, deliveries: deliveries)

        var survivors = nodes
        if settings.killFraction > 0 {
            var random = SystemRandomNumberGenerator()
            let victims = Array(nodes.shuffled(using: &random).prefix(Int((Double(nodes.count) * settings.killFraction).rounded())))
            let killedIDs = Set(victims.map(\.id))
            survivors = nodes.filter { !killedIDs.contains($0.id) }
            let cutOff = Set(survivors.filter { Set($0.snapshot.neighbours.keys).isSubset(of: killedIDs) }.map(\.id))
            report.isolated = cutOff.count
            let failedAt = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                for victim in victims { group.addTask { await victim.fail() } }
            }
            report.killed = victims.count
            let reachable = survivors.filter { !cutOff.contains($0.id) }
            report.healedSeconds = await waitUntilFormed(reachable, since: failedAt)
            (report.viewMinAfterKill, report.viewMaxAfterKill, _) = viewSizes(reachable)
            progress(
                "killed \(victims.count) (\(cutOff.count) survivors cut off); healed: \(report.healedSeconds.map { "\($0) s" } ?? "no")")
            await broadcastPhase(from: reachable, deliveries: deliveries, into: &report)
        }
        report.latenciesMilliseconds = deliveries.latencies
        for node in nodes {
            let counters = node.snapshot.counters
            report.counters.malformed += counters.malformed
            report.counters.unknown += counters.unknown
            report.counters.duplicates += counters.duplicates
            report.counters.forwarded += counters.forwarded
            report.counters.relayedSignals += counters.relayedSignals
            report.counters.droppedSignals += counters.droppedSignals
            report.counters.attemptsStarted += counters.attemptsStarted
            report.counters.attemptsFailed += counters.attemptsFailed
            report.counters.offersRefused += counters.offersRefused
            report.counters.sendQueueOverflows += counters.sendQueueOverflows
        }
        await withTaskGroup(of: Void.self) { group in
            for node in survivors { group.addTask { await node.close() } }
        }
        for reader in readers { await reader.value }
        return report
    }

    /// Joins one node, trying again (twice at most) when the server does not answer in time, as
    /// a user would: on a loaded machine the in-process server's handshake can take a while.
    /// Returns the node and how many tries failed.
    private func join(url: String, id: String, connection: PeerConnectionConfiguration) async throws -> (MeshNode, Int) {
        let configuration = MeshConfiguration(mode: settings.mode)
        for failed in 0..<2 {
            do {
                let node = try await MeshNode.join(
                    url: url, room: "mesh-sim", id: id, configuration: configuration, connection: connection)
                return (node, failed)
            } catch {
                progress("  \(id): \(error); trying again")
            }
        }
        let node = try await MeshNode.join(url: url, room: "mesh-sim", id: id, configuration: configuration, connection: connection)
        return (node, 2)
    }

    // MARK: - Phases

    /// `settings.broadcasts` broadcasts from random nodes; waits until each reached every other node.
    private func broadcastPhase(from nodes: [MeshNode], deliveries: Deliveries, into report: inout Report) async {
        var sent: [String] = []
        for _ in 0..<settings.broadcasts {
            guard let origin = nodes.randomElement() else { break }
            let id = await origin.broadcast(.object(["sent_ms": .number(deliveries.millisecondsSinceStart())]))
            deliveries.expect(id, receivers: Set(nodes.map(\.id)).subtracting([origin.id]))
            sent.append(id)
            try? await Task.sleep(for: .milliseconds(20))
        }
        _ = await waitFor { sent.allSatisfy(deliveries.isComplete) }
        for id in sent {
            let (expected, delivered) = deliveries.counts(of: id)
            report.broadcastsExpected += expected
            report.broadcastsDelivered += delivered
        }
    }

    /// A direct message between two nodes that are not neighbours; nil when there is no such pair.
    private func directMessage(among nodes: [MeshNode], deliveries: Deliveries) async -> Bool? {
        for sender in nodes.shuffled() {
            let neighbours = sender.snapshot.neighbours
            guard let target = nodes.first(where: { $0.id != sender.id && neighbours[$0.id] == nil }) else { continue }
            let id = await sender.send(.string("direct"), to: target.id)
            deliveries.expect(id, receivers: [target.id])
            return await waitFor { deliveries.isComplete(id) }
        }
        return nil
    }

    // MARK: - Observing the overlay

    /// Waits until `nodes` form one connected overlay in which every node has the neighbours its
    /// membership rule aims for (every other node in full mode, its target in partial mode) and no
    /// link to a node outside `nodes`. Returns the seconds since `since`.
    private func waitUntilFormed(_ nodes: [MeshNode], since: ContinuousClock.Instant) async -> Double? {
        let ids = Set(nodes.map(\.id))
        var nextProgress = ContinuousClock.now + .seconds(1)
        let formed = await waitFor {
            let views = nodes.map { $0.snapshot.neighbours.keys }
            if ContinuousClock.now >= nextProgress {
                nextProgress += .seconds(1)
                let sizes = views.map(\.count)
                progress(
                    "  \(seconds(since: since)) s: views \(sizes.min() ?? 0)...\(sizes.max() ?? 0), "
                        + "\(sizes.reduce(0, +) / 2) links, \(nodes.map { $0.snapshot.attempts }.reduce(0, +)) attempts")
            }
            let wanted = nodes.map { min(nodes.count - 1, settings.mode == .full ? nodes.count - 1 : $0.snapshot.targetDegree) }
            guard zip(views, wanted).allSatisfy({ view, wanted in view.count >= wanted && view.allSatisfy(ids.contains) })
            else { return false }
            return Self.isConnected(nodes.map(\.id), views: Dictionary(uniqueKeysWithValues: zip(nodes.map(\.id), views.map(Set.init))))
        }
        return formed ? seconds(since: since) : nil
    }

    static func isConnected(_ ids: [String], views: [String: Set<String>]) -> Bool {
        guard let first = ids.first else { return true }
        var reached: Set<String> = [first]
        var frontier = [first]
        while let id = frontier.popLast() {
            for next in views[id] ?? [] where reached.insert(next).inserted { frontier.append(next) }
        }
        return reached.count == ids.count
    }

    private func viewSizes(_ nodes: [MeshNode]) -> (min: Int, max: Int, mean: Double) {
        let sizes = nodes.map { $0.snapshot.neighbours.count }
        return (sizes.min() ?? 0, sizes.max() ?? 0, Double(sizes.reduce(0, +)) / Double(max(1, sizes.count)))
    }

    /// Polls `condition` every 10 ms until it holds or `atMost` (the phase timeout) passes.
    private func waitFor(atMost timeout: Duration? = nil, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + (timeout ?? settings.phaseTimeout)
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return (seconds * 1000).rounded() / 1000
    }
}

/// Who received which message, and how long after it was sent.
private final class Deliveries: Sendable {
    private struct State {
        var expected: [String: Set<String>] = [:]
        var received: [String: Set<String>] = [:]
        var latencies: [Double] = []
    }

    private let start: ContinuousClock.Instant
    private let state = NIOLockedValueBox(State())

    init(start: ContinuousClock.Instant) {
        self.start = start
    }

    func millisecondsSinceStart() -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) * 1e-15
    }

    func expect(_ id: String, receivers: Set<String>) {
        state.withLockedValue { $0.expected[id] = receivers }
    }

    func record(_ event: MeshEvent, at receiver: String) {
        let now = millisecondsSinceStart()
        switch event {
        case .broadcast(_, let id, let data):
            let sent = data.objectValue?["sent_ms"].flatMap { value -> Double? in
                if case .number(let milliseconds) = value { return milliseconds }
                return nil
            }
            state.withLockedValue { state in
                guard state.received[id, default: []].insert(receiver).inserted, let sent else { return }
                state.latencies.append(now - sent)
            }
        case .direct(_, let id, _):
            state.withLockedValue { _ = $0.received[id, default: []].insert(receiver) }
        case .neighbourUp, .neighbourDown:
            break
        }
    }

    func isComplete(_ id: String) -> Bool {
        state.withLockedValue { state in
            guard let expected = state.expected[id] else { return false }
            return expected.isSubset(of: state.received[id] ?? [])
        }
    }

    /// Receivers expected, and how many of them got it.
    func counts(of id: String) -> (expected: Int, delivered: Int) {
        state.withLockedValue { state in
            let expected = state.expected[id] ?? []
            return (expected.count, expected.intersection(state.received[id] ?? []).count)
        }
    }

    var latencies: [Double] { state.withLockedValue { $0.latencies } }
}
