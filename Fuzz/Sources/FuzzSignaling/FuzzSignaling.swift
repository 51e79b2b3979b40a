import Signaling

/// Drives the signaling hub with hostile clients: the input is split at NUL bytes into
/// messages, each from the connection its first byte picks (four peers joined in one room,
/// one connection that has not joined). Whatever arrives, the hub must not trap, every
/// message it sends must be a JSON object, and its counts must stay consistent.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSignaling(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let now = ContinuousClock.now
    var hub = SignalingHub(
        configuration: .init(limits: SignalingLimits(maxMessageBytes: 4_096, burst: 64, maxPeersPerRoom: 8)) {
            1_800_000_000
        })
    var connections: [SignalingHub.ConnectionID] = []
    for index in 0..<4 {
        let id = hub.open(now: now)
        _ = hub.receive(ClientMessage.join(room: "room", peer: "p\(index)", token: nil).text, from: id, now: now)
        connections.append(id)
    }
    connections.append(hub.open(now: now))
    for (step, message) in bytes.split(separator: 0, omittingEmptySubsequences: false).enumerated() {
        guard let selector = message.first else { continue }
        let connection = connections[Int(selector) % connections.count]
        let text = String(decoding: message.dropFirst(), as: UTF8.self)
        let at = now + .milliseconds(step)
        let actions = selector & 0x80 == 0 ? hub.receive(text, from: connection, now: at) : hub.receiveBinary(from: connection, now: at)
        for case .send(let output, _) in actions where JSONText.object(from: output) == nil {
            fatalError("the hub sent something that is not a JSON object: \(output)")
        }
    }
    guard hub.peerCount <= hub.connectionCount, hub.connectionCount <= connections.count else {
        fatalError("inconsistent counts: \(hub.peerCount) peers, \(hub.connectionCount) connections")
    }
    _ = hub.expireIdle(now: now + .seconds(3_600))
    guard hub.connectionCount == 0, hub.roomCount == 0 else { fatalError("idle expiry left connections behind") }
    return 0
}
