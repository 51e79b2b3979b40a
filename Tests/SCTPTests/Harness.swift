import Foundation
import SCTP
import TestSupport

/// One forward-only virtual clock shared by every test: usrsctp's timer wheel is process-wide and ignores a
/// `now` earlier than the last advance, so all tests must live on one monotonic timeline.
final class VirtualClock: @unchecked Sendable {
    static let shared = VirtualClock()
    private let lock = NSLock()
    private var current = ContinuousClock.now

    var now: ContinuousClock.Instant { lock.withLock { current } }

    @discardableResult
    func advance(by duration: Duration) -> ContinuousClock.Instant {
        lock.withLock {
            current = current.advanced(by: duration)
            return current
        }
    }
}

/// Deterministic message content for index `index`.
func pattern(_ index: Int, size: Int) -> [UInt8] {
    var random = SplitMix64(seed: UInt64(index) &* 7919 &+ UInt64(size))
    var bytes = [UInt8](repeating: 0, count: size)
    var position = 0
    while position < size {
        var word = random.next()
        for _ in 0..<8 where position < size {
            bytes[position] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            position += 1
        }
    }
    return bytes
}

/// Two associations joined by an in-memory packet pipe (no DTLS), with optional loss and capture.
final class Pair {
    let a: SCTPAssociation
    let b: SCTPAssociation
    var eventsA: [SCTPEvent] = []
    var eventsB: [SCTPEvent] = []
    /// Returns true to drop a packet travelling a → b (or b → a).
    var dropAToB: (([UInt8]) -> Bool)?
    var dropBToA: (([UInt8]) -> Bool)?
    var capturedAToB: [[UInt8]]?
    let clock = VirtualClock.shared
    let tick: Duration = .milliseconds(10)
    /// Real seconds slept per virtual tick (0: virtual time runs as fast as the CPU allows).
    var realTimePerTick = 0.0

    init(_ configurationA: SCTPConfiguration = .init(), _ configurationB: SCTPConfiguration = .init()) throws {
        let now = VirtualClock.shared.now
        a = try SCTPAssociation(configuration: configurationA, now: now)
        b = try SCTPAssociation(configuration: configurationB, now: now)
    }

    /// Moves packets both ways until none is left; bounded.
    func pump(maximumRounds: Int = 1_000_000) {
        let now = clock.now
        var rounds = 0
        var moved = true
        while moved, rounds < maximumRounds {
            moved = false
            rounds += 1
            while let packet = a.pollTransmit() {
                moved = true
                capturedAToB?.append(packet)
                if dropAToB?(packet) == true { continue }
                packet.withUnsafeBytes { b.handlePacket($0, now: now) }
            }
            while let packet = b.pollTransmit() {
                moved = true
                if dropBToA?(packet) == true { continue }
                packet.withUnsafeBytes { a.handlePacket($0, now: now) }
            }
            while let event = a.pollEvent() { eventsA.append(event) }
            while let event = b.pollEvent() { eventsB.append(event) }
        }
    }

    /// Advances virtual time tick by tick (driving both timers) until `condition` holds; bounded.
    @discardableResult
    func run(for limit: Duration = .seconds(30), until condition: () -> Bool = { false }) -> Bool {
        var elapsed: Duration = .zero
        pump()
        while elapsed < limit {
            if condition() { return true }
            if realTimePerTick > 0 { Thread.sleep(forTimeInterval: realTimePerTick) }
            let now = clock.advance(by: tick)
            elapsed += tick
            a.handleTimeout(now: now)
            b.handleTimeout(now: now)
            pump()
        }
        return condition()
    }

    func connect() -> Bool {
        let now = clock.now
        a.connect(now: now)
        b.connect(now: now)
        return run(for: .seconds(10)) { eventsA.contains(.connected) && eventsB.contains(.connected) }
    }

    static func messages(_ events: [SCTPEvent]) -> [SCTPReceivedMessage] {
        events.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    var messagesA: [SCTPReceivedMessage] { Self.messages(eventsA) }
    var messagesB: [SCTPReceivedMessage] { Self.messages(eventsB) }
}

extension SCTPAssociation {
    func send(_ bytes: [UInt8], stream: UInt16 = 0, ppid: UInt32 = 53, ordered: Bool = true,
              reliability: SCTPReliability = .reliable) throws {
        try bytes.withUnsafeBytes { raw in
            try send(raw, stream: stream, ppid: ppid, ordered: ordered, reliability: reliability)
        }
    }
}

/// Sends `messages` from `pair.a`, waiting for `.writable` (bounded) whenever the buffer is full.
func sendAll(_ pair: Pair, count: Int, stream: (Int) -> UInt16 = { _ in 0 }, ordered: Bool = true,
             reliability: SCTPReliability = .reliable, message: (Int) -> [UInt8]) throws {
    var index = 0
    var stalls = 0
    while index < count {
        do {
            try pair.a.send(message(index), stream: stream(index), ppid: 53, ordered: ordered, reliability: reliability)
            index += 1
        } catch let error as SCTPError where error.reason == .wouldBlock {
            stalls += 1
            guard stalls < 100_000 else { throw error }
            let before = pair.eventsA.count
            pair.run(for: .seconds(30)) { pair.eventsA[before...].contains(.writable) }
        }
    }
}

/// The DATA chunks (type 0) of a packet: (stream, ppid as on the wire).
func dataChunks(_ packet: [UInt8]) -> [(stream: UInt16, wirePPID: UInt32)] {
    var result: [(UInt16, UInt32)] = []
    var offset = 12
    while offset + 4 <= packet.count {
        let length = Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
        guard length >= 4 else { break }
        if packet[offset] == 0, length >= 16, offset + 16 <= packet.count {
            let stream = UInt16(packet[offset + 8]) << 8 | UInt16(packet[offset + 9])
            let ppid = packet[(offset + 12)..<(offset + 16)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            result.append((stream, ppid))
        }
        offset += (length + 3) & ~3
    }
    return result
}
