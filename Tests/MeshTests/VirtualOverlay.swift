@testable import Mesh
import Signaling

/// Many ``MeshOverlay`` state machines joined by an in-memory network with a virtual clock:
/// a link comes up as soon as the answer reaches the offerer, texts arrive in order, and a
/// dropped link is seen closed by both ends. What the drivers would do with peer connections,
/// in a few lines, so the overlay's rules can be checked on hundreds of nodes in milliseconds.
struct VirtualOverlay {
    private(set) var nodes: [String: MeshOverlay] = [:]
    private(set) var links: Set<Pair> = []
    private(set) var delivered: [String: [MeshEvent]] = [:]
    private(set) var now: ContinuousClock.Instant = .now
    private var queue: [(node: String, action: MeshOverlay.Action)] = []
    private var seed: UInt64 = 1

    /// An unordered pair of node ids.
    struct Pair: Hashable {
        let low: String
        let high: String
        init(_ a: String, _ b: String) { (low, high) = a < b ? (a, b) : (b, a) }
    }

    var ids: [String] { nodes.keys.sorted() }

    func view(of id: String) -> Set<String> { Set(nodes[id]?.view.keys.map { $0 } ?? []) }

    /// Adds a node that finds `entrance` in the signaling room and links to some of them through the server.
    mutating func add(_ id: String, configuration: MeshConfiguration, entrance: [String] = []) {
        seed += 1
        nodes[id] = MeshOverlay(id: id, configuration: configuration, seed: seed, now: now)
        apply(id, nodes[id]?.enter(present: entrance, now: now) ?? [])
        settle()
    }

    /// Removes a node as a crash would: its neighbours see their links close.
    mutating func kill(_ id: String) {
        nodes[id] = nil
        for link in links where link.low == id || link.high == id {
            links.remove(link)
            let survivor = link.low == id ? link.high : link.low
            apply(survivor, nodes[survivor]?.linkClosed(id, now: now) ?? [])
        }
        settle()
    }

    /// Advances the clock in maintenance steps, running every node's timers.
    mutating func run(for duration: Duration) {
        let end = now + duration
        while now < end {
            let step = nodes.values.first?.configuration.maintenanceInterval ?? .milliseconds(250)
            now += step
            for id in ids { apply(id, nodes[id]?.tick(now: now) ?? []) }
            settle()
        }
    }

    mutating func broadcast(from id: String, _ data: JSONValue) -> String {
        guard let (messageID, actions) = nodes[id]?.broadcast(data) else { return "" }
        apply(id, actions)
        settle()
        return messageID
    }

    mutating func send(_ data: JSONValue, from id: String, to target: String) -> String {
        guard let (messageID, actions) = nodes[id]?.send(data, to: target, now: now) else { return "" }
        apply(id, actions)
        settle()
        return messageID
    }

    /// Feeds a raw text to `node` as if neighbour `from` had sent it.
    mutating func inject(_ text: String, to node: String, from: String) {
        apply(node, nodes[node]?.receive(text, from: from, now: now) ?? [])
        settle()
    }

    /// Whether the links form one connected graph over the live nodes.
    var isConnected: Bool {
        guard let first = ids.first else { return true }
        var reached: Set<String> = [first]
        var frontier = [first]
        while let id = frontier.popLast() {
            for next in view(of: id) where reached.insert(next).inserted { frontier.append(next) }
        }
        return reached.count == nodes.count
    }

    func receivers(of messageID: String) -> [String] {
        delivered.compactMap { node, events in
            events.contains {
                switch $0 {
                case .broadcast(_, let id, _), .direct(_, let id, _): id == messageID
                default: false
                }
            } ? node : nil
        }
    }

    // MARK: - The network

    private mutating func apply(_ node: String, _ actions: [MeshOverlay.Action]) {
        queue += actions.map { (node, $0) }
    }

    /// Runs queued actions until nothing is left (bounded: the overlay must go quiet).
    private mutating func settle() {
        var rounds = 0
        while !queue.isEmpty {
            rounds += 1
            precondition(rounds < 10_000, "the overlay never went quiet")
            let batch = queue
            queue = []
            for (node, action) in batch { perform(action, at: node) }
        }
    }

    private mutating func perform(_ action: MeshOverlay.Action, at node: String) {
        switch action {
        case .send(let text, let remote):
            guard links.contains(Pair(node, remote)) else { return }
            apply(remote, nodes[remote]?.receive(text, from: node, now: now) ?? [])
        case .connectThroughServer(let remote):
            if nodes[remote]?.admitServerOffer(from: node, now: now) == true {
                connect(node, remote)
            } else {
                apply(node, nodes[node]?.linkClosed(remote, now: now) ?? [])  // the server relays a bye
            }
        case .connect(let remote, let conn):
            apply(node, nodes[node]?.signal(.offer(sdp: "offer"), to: remote, conn: conn, now: now) ?? [])
        case .accept(let remote, let conn, _):
            apply(node, nodes[node]?.signal(.answer(sdp: "answer"), to: remote, conn: conn, now: now) ?? [])
        case .signal(let remote, _, .answer):
            connect(node, remote)
        case .signal:
            break
        case .drop(let remote):
            guard links.remove(Pair(node, remote)) != nil else { return }
            apply(remote, nodes[remote]?.linkClosed(node, now: now) ?? [])
        case .event(let event):
            delivered[node, default: []].append(event)
        }
    }

    /// The peer connection is up and the channel open at both ends.
    private mutating func connect(_ a: String, _ b: String) {
        links.insert(Pair(a, b))
        apply(a, nodes[a]?.channelOpened(to: b) ?? [])
        apply(b, nodes[b]?.channelOpened(to: a) ?? [])
    }
}
