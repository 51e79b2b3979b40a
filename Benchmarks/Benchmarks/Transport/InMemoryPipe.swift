import DTLS
import SCTP
import WebRTC

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One end of an in-memory link: a sans-IO layer that takes datagrams (or packets) and the time,
/// and gives datagrams back.
protocol PipeEndpoint: AnyObject {
    func receive(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant)
    func pollTransmit() -> [UInt8]?
    var nextTimeout: ContinuousClock.Instant? { get }
    func handleTimeout(now: ContinuousClock.Instant)
}

extension DataChannelTransport: PipeEndpoint {
    func receive(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        handleDatagram(datagram, now: now)
    }
}

extension SCTPAssociation: PipeEndpoint {
    func receive(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        handlePacket(datagram, now: now)
    }
}

extension OpenSSLDTLSSession: PipeEndpoint {
    /// Only the handshake runs through a pipe; the DTLS benchmarks feed records themselves.
    func receive(_ datagram: UnsafeRawBufferPointer, now: ContinuousClock.Instant) {
        handleDatagram(datagram, now: now) { _ in }
    }
}

/// Why a fixture could not be brought to the state a benchmark needs.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Two endpoints joined by a lossless in-memory link, with no sockets and one thread.
///
/// Each direction is a queue, as a socket buffer would be: everything an endpoint emits is moved
/// into it right after each call, which is what the production driver does (it flushes a layer's
/// output to the socket after every input). The queues are unbounded here, so nothing is lost;
/// congestion control bounds them to what is in flight.
///
/// Time is the real monotonic clock, as in production: usrsctp reads its own clock for RTT and
/// retransmission age, so a virtual clock that ran ahead would stall its recovery.
final class InMemoryPipe<A: PipeEndpoint, B: PipeEndpoint> {
    let a: A
    let b: B
    /// Datagrams on their way from `a` to `b` and back, oldest first.
    private var towardB: [[UInt8]] = []
    private var towardA: [[UInt8]] = []
    /// The batch being delivered; kept to reuse its storage (no allocation per round).
    private var batch: [[UInt8]] = []

    init(_ a: A, _ b: B) {
        self.a = a
        self.b = b
        // Room for a full congestion window of 1200-byte datagrams (4 MiB), so the queues do
        // not grow inside a measurement.
        towardB.reserveCapacity(4096)
        towardA.reserveCapacity(4096)
        batch.reserveCapacity(4096)
    }

    /// Moves what each endpoint emitted into the queue toward the other.
    func collect() {
        while let datagram = a.pollTransmit() { towardB.append(datagram) }
        while let datagram = b.pollTransmit() { towardA.append(datagram) }
    }

    /// Datagrams queued toward `b`.
    var queuedTowardB: Int { towardB.count }

    /// Delivers queued datagrams both ways, and what they cause, until nothing is left; returns
    /// whether anything moved.
    @discardableResult
    func exchange() -> Bool {
        var moved = false
        collect()
        while !towardB.isEmpty || !towardA.isEmpty {
            moved = true
            deliverTowardB()
            deliverTowardA()
        }
        return moved
    }

    /// Hands `b` every datagram queued toward it, collecting what each one causes.
    func deliverTowardB() {
        swap(&towardB, &batch)
        deliverBatch(to: b)
    }

    /// Hands `a` every datagram queued toward it, collecting what each one causes.
    func deliverTowardA() {
        swap(&towardA, &batch)
        deliverBatch(to: a)
    }

    private func deliverBatch<Receiver: PipeEndpoint>(to receiver: Receiver) {
        let now = ContinuousClock.now
        for datagram in batch {
            datagram.withUnsafeBytes { receiver.receive($0, now: now) }
            // At once, as a driver flushing to its socket would: a layer's own output queue is
            // bounded (DTLS keeps at most 256 datagrams) and would drop the excess.
            collect()
        }
        batch.removeAll(keepingCapacity: true)
    }

    /// Runs the timers of both endpoints that are due.
    func runDueTimers() {
        let now = ContinuousClock.now
        if let deadline = a.nextTimeout, deadline <= now { a.handleTimeout(now: now) }
        if let deadline = b.nextTimeout, deadline <= now { b.handleTimeout(now: now) }
        collect()
    }

    /// Delivers everything in flight, runs the due timers and delivers what they caused, calling
    /// `drain` after each round.
    func settle(drain: () throws -> Void) throws {
        exchange()
        try drain()
        runDueTimers()
        exchange()
        try drain()
    }

    /// Sleeps until the earliest timer (at most until `limit`), then runs the due timers.
    func waitForTimers(until limit: ContinuousClock.Instant) {
        let next = min(a.nextTimeout ?? limit, b.nextTimeout ?? limit, limit)
        let wait = ContinuousClock.now.duration(to: next)
        if wait > .zero {
            let (seconds, attoseconds) = wait.components
            var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            nanosleep(&request, nil)
        }
        runDueTimers()
    }

    /// Exchanges datagrams, calls `drain` after each round and runs timers when nothing moves,
    /// until `done` holds.
    /// - Throws: `drain`'s errors, or ``FixtureError`` when `limit` passes first.
    func run(
        until done: () -> Bool, drain: () throws -> Void = {}, limit: Duration = .seconds(30), what: String
    ) throws {
        let deadline = ContinuousClock.now + limit
        while true {
            let moved = exchange()
            try drain()
            if done() { return }
            guard ContinuousClock.now < deadline else {
                throw FixtureError(description: "timed out waiting for \(what)")
            }
            if moved { runDueTimers() } else { waitForTimers(until: deadline) }
        }
    }
}
