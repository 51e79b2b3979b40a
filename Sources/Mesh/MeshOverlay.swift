import RTCCollections
import Signaling

/// Which side offered a link.
public enum MeshDirection: String, Sendable, Hashable {
    /// We connected to the neighbour (an outgoing arc).
    case outgoing = "out"
    /// The neighbour connected to us (an incoming arc).
    case incoming = "in"
}

/// What the overlay reports to the application.
public enum MeshEvent: Sendable, Hashable {
    /// A link is up (both `hello`s exchanged); `brokered` when its signaling went through the
    /// overlay rather than the signaling server.
    case neighbourUp(String, MeshDirection, brokered: Bool)
    /// A link went down; the overlay replaces it on its own.
    case neighbourDown(String)
    /// A broadcast from `from`, delivered once.
    case broadcast(from: String, id: String, data: JSONValue)
    /// A direct message from `from` to us.
    case direct(from: String, id: String, data: JSONValue)
}

/// What the overlay counted; see docs/mesh.md for each rule.
public struct MeshCounters: Sendable, Hashable {
    /// Messages that were not a well-formed overlay message.
    public var malformed = 0
    /// Well-formed messages of a type we do not know.
    public var unknown = 0
    /// Routed messages seen before.
    public var duplicates = 0
    /// Routed messages whose hop limit ran out here.
    public var expired = 0
    /// Routed messages passed on (each copy counted).
    public var forwarded = 0
    /// `signal` messages relayed for other nodes.
    public var relayedSignals = 0
    /// `signal` messages over a neighbour's relay rate, dropped.
    public var droppedSignals = 0
    /// Outgoing attempts started, and those refused or timed out.
    public var attemptsStarted = 0
    public var attemptsFailed = 0
    /// Offers refused (`connected`, `full`, `glare`).
    public var offersRefused = 0
    /// Texts dropped because a neighbour's send queue was full.
    public var sendQueueOverflows = 0

    /// All zero.
    public init() {}
}

/// The overlay of docs/mesh.md as a sans-IO state machine: texts from neighbours, link
/// changes, application requests and time in; texts to neighbours, connection work for the
/// driver and events out. One instance per node; not thread-safe (its driver serialises).
struct MeshOverlay: Sendable {
    /// What the driver does for the overlay.
    enum Action: Sendable, Hashable {
        /// Send `text` on the link to `to`.
        case send(String, to: String)
        /// Make a link to `to` as the offerer; its signals go through ``MeshOverlay/signal(_:to:conn:now:)``.
        case connect(to: String, conn: String)
        /// Make a link to `to` as the offerer, signaled through the server (the entrance).
        case connectThroughServer(to: String)
        /// Make a link to `from` as the answerer of `offer`.
        case accept(from: String, conn: String, offer: String)
        /// A signal for the attempt or link `conn` with `from` (answer, candidate, end).
        case signal(from: String, conn: String, MeshSignal)
        /// Close the link or attempt to `id` (refused, timed out, lost a glare, protocol error).
        case drop(String)
        case event(MeshEvent)
    }

    /// A link on its way up: made, not yet greeted.
    private struct Attempt: Sendable {
        /// `nil` for links signaled through the server, which has no attempt ids.
        var conn: String?
        var direction: MeshDirection
        var deadline: ContinuousClock.Instant
        var helloSent = false
    }

    private struct Neighbour: Sendable {
        var conn: String?
        var direction: MeshDirection
        var relayBudget: TokenBucket
    }

    let id: String
    let configuration: MeshConfiguration
    var counters = MeshCounters()

    private var attempts: [String: Attempt] = [:]
    private var neighbours: [String: Neighbour] = [:]
    /// Nodes we may link to, each with the neighbour that listed it (the broker).
    private var known: BoundedMap<String>
    /// The neighbour through which a node was last heard (reverse-path routes).
    private var routes: BoundedMap<String>
    private var seen: RecentIDs
    private var random: SplitMix64
    private var nextGossip: ContinuousClock.Instant
    /// Peers present in the room, in random order, not yet asked (docs/mesh.md, "Entering").
    private var entranceCandidates: [String] = []

    init(id: String, configuration: MeshConfiguration, seed: UInt64, now: ContinuousClock.Instant) {
        self.id = id
        self.configuration = configuration
        known = BoundedMap(capacity: configuration.knownLimit)
        routes = BoundedMap(capacity: configuration.messageIDCacheSize)
        seen = RecentIDs(capacity: configuration.messageIDCacheSize)
        random = SplitMix64(seed: seed)
        nextGossip = now + configuration.gossipInterval
    }

    // MARK: - Views

    /// The neighbours and their directions.
    var view: [String: MeshDirection] { neighbours.mapValues(\.direction) }

    /// Ids known besides the neighbours.
    var knownCount: Int { known.count }

    /// Links made and not yet up.
    var attemptCount: Int { attempts.count }

    /// docs/mesh.md, "Membership": log2(N) + 1 within [3, maximum]; N estimated from what we know.
    var targetDegree: Int {
        switch configuration.mode {
        case .full:
            return configuration.maxNeighbours
        case .partial:
            let estimate = 1 + neighbours.count + known.count
            let log2Estimate = estimate <= 1 ? 0 : Int.bitWidth - (estimate - 1).leadingZeroBitCount
            return min(configuration.maxNeighbours, max(3, log2Estimate + 1))
        }
    }

    /// Incoming links accepted up to twice the target (docs/mesh.md, "Membership").
    private var acceptanceLimit: Int {
        configuration.mode == .full ? configuration.maxNeighbours : min(configuration.maxNeighbours, 2 * targetDegree)
    }

    // MARK: - Links

    /// We joined the room where `present` are: link to some of them through the server.
    mutating func enter(present: [String], now: ContinuousClock.Instant) -> [Action] {
        entranceCandidates = present.filter { $0 != id }.shuffled(using: &random)
        return continueEntrance(now: now)
    }

    /// Asks the next peers present until enough links are up or on their way; a refused or
    /// failed entrance link is replaced by the next peer (docs/mesh.md, "Entering").
    private mutating func continueEntrance(now: ContinuousClock.Instant) -> [Action] {
        let wanted = configuration.entranceNeighbours
        guard neighbours.count < wanted else {
            entranceCandidates = []
            return []
        }
        var actions: [Action] = []
        var underway = attempts.values.filter { $0.conn == nil && $0.direction == .outgoing }.count
        while neighbours.count + underway < wanted, let remote = entranceCandidates.popLast() {
            guard neighbours[remote] == nil, attempts[remote] == nil else { continue }
            attempts[remote] = Attempt(conn: nil, direction: .outgoing, deadline: now + configuration.attemptTimeout)
            underway += 1
            actions.append(.connectThroughServer(to: remote))
        }
        return actions
    }

    /// An offer came through the signaling server: accept it (true) or not.
    mutating func admitServerOffer(from remote: String, now: ContinuousClock.Instant) -> Bool {
        guard remote != id, neighbours[remote] == nil, attempts[remote] == nil,
            neighbours.count + attempts.count < acceptanceLimit
        else {
            counters.offersRefused += 1
            return false
        }
        attempts[remote] = Attempt(conn: nil, direction: .incoming, deadline: now + configuration.attemptTimeout)
        return true
    }

    /// The link's channel is open: greet (docs/mesh.md, "Link start").
    mutating func channelOpened(to remote: String) -> [Action] {
        guard attempts[remote]?.helloSent == false else { return [] }
        attempts[remote]?.helloSent = true
        return [.send(hello, to: remote)]
    }

    private var hello: String { MeshMessage.hello(version: MeshMessage.version, id: id, mode: configuration.mode).text }

    /// The link to `remote` closed or failed (or never came up).
    mutating func linkClosed(_ remote: String, now: ContinuousClock.Instant) -> [Action] {
        if let attempt = attempts.removeValue(forKey: remote) {
            known.remove(remote)
            return attempt.conn == nil && !entranceCandidates.isEmpty ? continueEntrance(now: now) : []
        }
        guard neighbours.removeValue(forKey: remote) != nil else { return [] }
        known.remove(remote)
        routes.remove(remote)
        routes.removeAll { $0 == remote }
        return [.event(.neighbourDown(remote))]
    }

    // MARK: - Input from neighbours

    /// A text from the link to `remote`.
    mutating func receive(_ text: String, from remote: String, now: ContinuousClock.Instant) -> [Action] {
        let message: MeshMessage
        do {
            message = try MeshMessage(parsing: text)
        } catch .unknownType {
            counters.unknown += 1
            return []
        } catch {
            counters.malformed += 1
            return []
        }
        guard neighbours[remote] != nil else { return greeted(by: remote, message, now: now) }
        switch message {
        case .hello:
            // A second hello (docs/mesh.md, "Link start").
            counters.malformed += 1
            return [.drop(remote)] + linkClosed(remote, now: now)
        case .peers(let ids):
            for listed in ids where listed != id && neighbours[listed] == nil {
                known.set(listed, remote)
            }
            return []
        case .signal(let header, let conn, let signal):
            return route(.signal(header, conn: conn, signal), header: header, from: remote, now: now)
        case .direct(let header, let data):
            return route(.direct(header, data: data), header: header, from: remote, now: now)
        case .broadcast(let messageID, let origin, let ttl, let data):
            return flood(messageID: messageID, origin: origin, ttl: ttl, data: data, from: remote)
        case .bye:
            return [.drop(remote)] + linkClosed(remote, now: now)
        }
    }

    /// Before its `hello`, a link carries nothing else.
    private mutating func greeted(by remote: String, _ message: MeshMessage, now: ContinuousClock.Instant) -> [Action] {
        guard let attempt = attempts[remote] else { return [] }
        guard case .hello(let version, let helloID, _) = message, version == MeshMessage.version, helloID == remote
        else {
            counters.malformed += 1
            return [.drop(remote)] + linkClosed(remote, now: now)
        }
        attempts[remote] = nil
        known.remove(remote)
        routes.remove(remote)
        neighbours[remote] = Neighbour(
            conn: attempt.conn, direction: attempt.direction,
            relayBudget: TokenBucket(
                rate: configuration.relayedSignalsPerSecond, capacity: configuration.relayedSignalBurst, now: now))
        var actions: [Action] = []
        if !attempt.helloSent {
            // The peer's hello overtook our channel's open event: greet first, then go on.
            actions.append(.send(hello, to: remote))
        }
        actions += [
            .event(.neighbourUp(remote, attempt.direction, brokered: attempt.conn != nil)),
            .send(peersMessage(excluding: remote), to: remote),
        ]
        if configuration.mode == .full {
            // docs/mesh.md, "Membership": a full mesh tells its neighbours about the newcomer at once.
            let announcement = MeshMessage.peers([remote]).text
            actions += neighbours.keys.filter { $0 != remote }.map { .send(announcement, to: $0) }
        }
        return actions
    }

    // MARK: - Application requests

    /// Closes the link to `remote` on purpose, with a `bye`.
    mutating func disconnect(_ remote: String, now: ContinuousClock.Instant) -> [Action] {
        guard neighbours[remote] != nil else { return [] }
        return [.send(MeshMessage.bye.text, to: remote), .drop(remote)] + linkClosed(remote, now: now)
    }

    /// Sends `data` to every node; returns its message id.
    mutating func broadcast(_ data: JSONValue) -> (id: String, actions: [Action]) {
        let messageID = freshID()
        _ = seen.insert(messageID)
        let text = MeshMessage.broadcast(id: messageID, from: id, ttl: configuration.ttl, data: data).text
        return (messageID, neighbours.keys.map { .send(text, to: $0) })
    }

    /// Sends `data` to node `target`, through the overlay; returns its message id.
    mutating func send(_ data: JSONValue, to target: String, now: ContinuousClock.Instant) -> (id: String, actions: [Action]) {
        let header = RoutedHeader(id: freshID(), from: id, to: target, ttl: configuration.ttl)
        return (header.id, route(.direct(header, data: data), header: header, from: nil, now: now))
    }

    /// Sends our own signal for the attempt or link `conn` with `target`.
    mutating func signal(_ signal: MeshSignal, to target: String, conn: String, now: ContinuousClock.Instant) -> [Action] {
        let header = RoutedHeader(id: freshID(), from: id, to: target, ttl: configuration.ttl)
        return route(.signal(header, conn: conn, signal), header: header, from: nil, now: now)
    }

    // MARK: - Time

    /// Runs what is due: attempt timeouts, gossip, membership.
    mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for (remote, attempt) in attempts where attempt.deadline <= now {
            if attempt.direction == .outgoing { counters.attemptsFailed += 1 }
            actions.append(.drop(remote))
            actions += linkClosed(remote, now: now)
        }
        if now >= nextGossip {
            nextGossip = now + configuration.gossipInterval
            if let target = neighbours.keys.randomElement(using: &random) {
                actions.append(.send(peersMessage(excluding: target), to: target))
            }
        }
        actions += startAttempts(now: now)
        return actions
    }

    /// docs/mesh.md, "Membership": whom to connect to now.
    private mutating func startAttempts(now: ContinuousClock.Instant) -> [Action] {
        var outgoing = attempts.values.filter { $0.direction == .outgoing }.count
        var candidates = known.newestFirst.filter { neighbours[$0] == nil && attempts[$0] == nil }
        switch configuration.mode {
        case .full:
            candidates = candidates.filter { id < $0 }
        case .partial:
            // A random pick among the most recently listed: a node that left stops being
            // listed, so its entry ages and is not tried before live ones.
            candidates = Array(candidates.prefix(8)).shuffled(using: &random)
        }
        var actions: [Action] = []
        for target in candidates {
            guard outgoing < configuration.attemptsAtOnce, neighbours.count + attempts.count < targetDegree else { break }
            let conn = freshID()
            // A node that does not answer within `answerTimeout` is likely gone (docs/mesh.md).
            attempts[target] = Attempt(conn: conn, direction: .outgoing, deadline: now + configuration.answerTimeout)
            counters.attemptsStarted += 1
            outgoing += 1
            actions.append(.connect(to: target, conn: conn))
        }
        return actions
    }

    // MARK: - Routing (docs/mesh.md, "Routing signal and direct")

    private mutating func route(
        _ message: MeshMessage, header: RoutedHeader, from neighbour: String?, now: ContinuousClock.Instant
    ) -> [Action] {
        guard seen.insert(header.id) else {
            counters.duplicates += 1
            return []
        }
        if let neighbour, header.from != id { routes.set(header.from, neighbour) }
        if header.to == id { return deliver(message, now: now) }
        if let neighbour, case .signal = message {
            guard neighbours[neighbour]?.relayBudget.take(now: now) == true else {
                counters.droppedSignals += 1
                return []
            }
            counters.relayedSignals += 1
        }
        let ttl = neighbour == nil ? header.ttl : header.ttl - 1
        guard ttl > 0 else {
            counters.expired += 1
            return []
        }
        let text = message.withTTL(ttl).text
        let nextHops: [String]
        if neighbours[header.to] != nil {
            nextHops = [header.to]
        } else if let via = known[header.to] ?? routes[header.to], neighbours[via] != nil, via != neighbour {
            nextHops = [via]
        } else {
            nextHops = neighbours.keys.filter { $0 != neighbour }
        }
        counters.forwarded += nextHops.count
        return nextHops.map { .send(text, to: $0) }
    }

    private mutating func flood(messageID: String, origin: String, ttl: Int, data: JSONValue, from neighbour: String) -> [Action] {
        guard seen.insert(messageID) else {
            counters.duplicates += 1
            return []
        }
        if origin != id { routes.set(origin, neighbour) }
        var actions: [Action] = [.event(.broadcast(from: origin, id: messageID, data: data))]
        guard ttl > 1 else {
            counters.expired += 1
            return actions
        }
        let text = MeshMessage.broadcast(id: messageID, from: origin, ttl: ttl - 1, data: data).text
        for next in neighbours.keys where next != neighbour {
            counters.forwarded += 1
            actions.append(.send(text, to: next))
        }
        return actions
    }

    private mutating func deliver(_ message: MeshMessage, now: ContinuousClock.Instant) -> [Action] {
        switch message {
        case .direct(let header, let data):
            return [.event(.direct(from: header.from, id: header.id, data: data))]
        case .signal(let header, let conn, let signal):
            return signalArrived(signal, from: header.from, conn: conn, now: now)
        default:
            return []
        }
    }

    // MARK: - Brokered connections (docs/mesh.md)

    private mutating func signalArrived(
        _ signal: MeshSignal, from remote: String, conn: String, now: ContinuousClock.Instant
    ) -> [Action] {
        guard case .offer(let sdp) = signal else {
            let current = attempts[remote]?.conn ?? neighbours[remote]?.conn
            guard current == conn else { return [] }  // another attempt's, or none
            if case .refuse = signal {
                counters.attemptsFailed += 1
                return [.drop(remote)] + linkClosed(remote, now: now)
            }
            if case .answer = signal {
                let deadline = now + configuration.attemptTimeout
                attempts[remote]?.deadline = deadline
            }
            return [.signal(from: remote, conn: conn, signal)]
        }
        var actions: [Action] = []
        if neighbours[remote] != nil {
            return refuse(remote, conn: conn, reason: "connected", now: now)
        }
        if let attempt = attempts[remote] {
            if attempt.direction == .outgoing && id < remote {
                return refuse(remote, conn: conn, reason: "glare", now: now)
            }
            // Our own attempt loses the glare, or the peer retries: its offer replaces it.
            actions.append(.drop(remote))
            attempts[remote] = nil
        }
        guard neighbours.count + attempts.count < acceptanceLimit else {
            return actions + refuse(remote, conn: conn, reason: "full", now: now)
        }
        attempts[remote] = Attempt(conn: conn, direction: .incoming, deadline: now + configuration.attemptTimeout)
        actions.append(.accept(from: remote, conn: conn, offer: sdp))
        return actions
    }

    private mutating func refuse(_ remote: String, conn: String, reason: String, now: ContinuousClock.Instant) -> [Action] {
        counters.offersRefused += 1
        return signal(.refuse(reason: reason), to: remote, conn: conn, now: now)
    }

    // MARK: - Helpers

    /// A `peers` message listing a random sample of our neighbours other than `excluded`.
    private mutating func peersMessage(excluding excluded: String) -> String {
        let limit = configuration.mode == .full ? MeshMessage.maxPeersListed : 8
        let listed = Array(neighbours.keys.filter { $0 != excluded }.shuffled(using: &random).prefix(limit))
        return MeshMessage.peers(listed).text
    }

    /// 16 hex digits from 64 random bits (docs/mesh.md, "Messages").
    private mutating func freshID() -> String {
        let hex = String(random.next(), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension MeshMessage {
    /// The same routed message with another hop limit.
    fileprivate func withTTL(_ ttl: Int) -> MeshMessage {
        switch self {
        case .signal(var header, let conn, let signal):
            header.ttl = ttl
            return .signal(header, conn: conn, signal)
        case .direct(var header, let data):
            header.ttl = ttl
            return .direct(header, data: data)
        case .broadcast(let id, let from, _, let data):
            return .broadcast(id: id, from: from, ttl: ttl, data: data)
        default:
            return self
        }
    }
}
