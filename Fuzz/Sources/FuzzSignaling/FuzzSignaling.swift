import Signaling

/// Drives the signaling server's message handling, sans-IO, with hostile clients: the
/// `SignalingDispatcher` the WebSocket server runs (the hub plus the per-connection queue
/// accounting that detects slow consumers). The input is split at NUL bytes into steps; the
/// first byte of each picks what happens:
///
/// - below 0x80: the rest is a text message from the connection the byte picks (four peers
///   joined in one room, one connection that has not joined, and any opened later);
/// - 0x80–0xBF: a binary frame from that connection;
/// - 0xC0 and above: the driver's side, on the connection the next byte picks: its writer
///   writes one queued text or all of them, the client disconnects, idle expiry runs, a new
///   connection opens, or the server shuts down.
///
/// Writers never write unless told to, so queues fill and the slow-consumer path runs; like the
/// server, a connection is not read while its own queue is half full (its writer is drained
/// first). Whatever arrives, nothing may trap; every text must be a JSON object; nothing may be
/// delivered to a connection after its close, and each is closed at most once; no queue may
/// exceed its limit; the dispatcher and the hub must agree on which connections are open; and
/// idle expiry must leave nothing behind.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignaling(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let start = ContinuousClock.now
    let limits = SignalingLimits(maxMessageBytes: 4_096, burst: 64, maxPeersPerRoom: 8, outboundQueueMessages: 8)
    var driver = Driver(
        dispatcher: SignalingDispatcher(configuration: .init(limits: limits) { 1_800_000_000 }), limits: limits)
    for index in 0..<4 {
        let id = driver.open(now: start)
        driver.run { $0.perform { $0.receive(ClientMessage.join(room: "room", peer: "p\(index)", token: nil).text, from: id, now: start) } }
    }
    _ = driver.open(now: start)
    for (step, message) in bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(4_096).enumerated() {
        guard let selector = message.first else { continue }
        let at = start + .milliseconds(step)
        if selector >= 0xC0 {
            driver.control(selector & 0x3F, on: message.dropFirst().first ?? 0, now: at)
            continue
        }
        let connection = driver.connections[Int(selector) % driver.connections.count]
        // The server does not read a connection whose own queue is half full until its writer
        // catches up (SignalingDispatcher.mustWaitForWriter): a live client's writer does.
        while driver.dispatcher.mustWaitForWriter(connection) { driver.write(connection) }
        if selector & 0x80 == 0 {
            let text = String(decoding: message.dropFirst(), as: UTF8.self)
            driver.run { $0.perform { $0.receive(text, from: connection, now: at) } }
        } else {
            driver.run { $0.perform { $0.receiveBinary(from: connection, now: at) } }
        }
    }
    let hub = driver.dispatcher.hub
    guard hub.peerCount <= hub.connectionCount, hub.connectionCount <= driver.connections.count else {
        fatalError("inconsistent counts: \(hub.peerCount) peers, \(hub.connectionCount) connections")
    }
    driver.run { $0.perform { $0.expireIdle(now: start + .seconds(3_600)) } }
    guard driver.dispatcher.hub.connectionCount == 0, driver.dispatcher.hub.roomCount == 0,
          driver.dispatcher.connectionCount == 0
    else { fatalError("idle expiry left connections behind") }
    return 0
}

/// The server's side: the dispatcher, and what each connection's writer has been handed.
struct Driver {
    var dispatcher: SignalingDispatcher
    let limits: SignalingLimits
    /// Every connection ever opened, in order (closed ones stay: clients may still send).
    var connections: [SignalingHub.ConnectionID] = []
    /// Texts handed to each writer and not yet written.
    var unwritten: [SignalingHub.ConnectionID: Int] = [:]
    /// Connections that received their close.
    var closed: Set<SignalingHub.ConnectionID> = []

    mutating func open(now: ContinuousClock.Instant) -> SignalingHub.ConnectionID {
        let id = dispatcher.open(now: now)
        connections.append(id)
        unwritten[id] = 0
        check()
        return id
    }

    /// The writer of `id` writes one text, if it has one.
    mutating func write(_ id: SignalingHub.ConnectionID) {
        guard let count = unwritten[id], count > 0 else {
            // Nothing handed over, so nothing may be queued: else the reader would wait forever.
            if dispatcher.mustWaitForWriter(id) { fatalError("\(id) must wait for an empty writer") }
            return
        }
        unwritten[id] = count - 1
        _ = dispatcher.wrote(to: id)
        check()
    }

    mutating func control(_ operation: UInt8, on selector: UInt8, now: ContinuousClock.Instant) {
        let id = connections[Int(selector) % connections.count]
        switch operation % 6 {
        case 0: write(id)
        case 1:
            while unwritten[id, default: 0] > 0 { write(id) }
        case 2:
            // The client went away: its writer stops, the server reports it.
            unwritten[id] = nil
            closed.insert(id)
            run { $0.disconnected(id) }
        case 3:
            let later = now + limits.idleTimeout
            run { $0.perform { $0.expireIdle(now: later) } }
        case 4:
            if connections.count < 16 { _ = open(now: now) }
        default:
            run { $0.perform { $0.shutdown() } }
            guard dispatcher.connectionCount == 0, dispatcher.hub.connectionCount == 0 else {
                fatalError("connections left after shutdown")
            }
        }
    }

    /// Runs one dispatcher step and checks its deliveries.
    mutating func run(_ step: (inout SignalingDispatcher) -> [SignalingDispatcher.Delivery]) {
        let deliveries = step(&dispatcher)
        // Bounded work: a step sends at most one message per peer of a room, or fails
        // connections (an error and a close each), and a failure adds at most one per peer.
        guard deliveries.count <= 4 * (connections.count + 2) else { fatalError("\(deliveries.count) deliveries in one step") }
        for delivery in deliveries {
            switch delivery {
            case .text(let text, let id):
                guard !closed.contains(id), let count = unwritten[id] else { fatalError("text to \(id) after its close") }
                guard JSONText.object(from: text) != nil else { fatalError("the server sent something that is not a JSON object: \(text)") }
                unwritten[id] = count + 1
            case .close(let id, _):
                guard closed.insert(id).inserted else { fatalError("\(id) closed twice") }
                // The writer ends with the close: what it had not written is dropped.
                unwritten[id] = nil
            }
        }
        check()
    }

    func check() {
        guard dispatcher.connectionCount == dispatcher.hub.connectionCount else {
            fatalError("dispatcher has \(dispatcher.connectionCount) connections, hub \(dispatcher.hub.connectionCount)")
        }
        for id in connections {
            let queued = dispatcher.queuedCount(for: id)
            if closed.contains(id) {
                guard queued == nil else { fatalError("closed \(id) still has a queue") }
                continue
            }
            guard let queued, queued == unwritten[id], queued <= limits.outboundQueueMessages else {
                fatalError("\(id): dispatcher queue \(String(describing: queued)), writer has \(String(describing: unwritten[id]))")
            }
        }
    }
}
