import NetworkEmulation
import Testing

@Suite("Impaired path (sans-IO network emulation)")
struct ImpairedPathTests {
    private let start = ContinuousClock.now

    /// Sends `count` numbered datagrams at `start` (or spaced by `spacing`) and collects what is
    /// delivered by `until`, in delivery order.
    private func run(
        _ impairment: Impairment, seed: UInt64 = 7, count: Int, size: Int = 100, spacing: Duration = .zero,
        until: Duration = .seconds(60)
    ) -> (path: ImpairedPath, delivered: [Int]) {
        var path = ImpairedPath(impairment, seed: seed)
        var delivered: [Int] = []
        for index in 0..<count {
            var datagram = [UInt8](repeating: 0, count: size)
            datagram[0] = UInt8(truncatingIfNeeded: index >> 8)
            datagram[1] = UInt8(truncatingIfNeeded: index)
            path.send(datagram, now: start + spacing * index)
        }
        while let due = path.nextDelivery, due <= start + until, let datagram = path.receive(now: due) {
            delivered.append(Int(datagram[0]) << 8 | Int(datagram[1]))
        }
        return (path, delivered)
    }

    @Test func withoutImpairmentEverythingArrivesAtOnceInOrder() {
        let (path, delivered) = run(Impairment(), count: 500)
        #expect(delivered == Array(0..<500))
        #expect(path.counters.sent == 500 && path.counters.delivered == 500 && path.counters.reordered == 0)
    }

    @Test func lossDropsAboutItsShareAndRepeatsWithTheSeed() {
        let (path, delivered) = run(Impairment(loss: 0.1), count: 10_000)
        #expect((800...1_200).contains(path.counters.lost), "lost \(path.counters.lost)")
        #expect(delivered.count == 10_000 - path.counters.lost)
        #expect(run(Impairment(loss: 0.1), count: 10_000).delivered == delivered)
        #expect(run(Impairment(loss: 0.1), seed: 8, count: 10_000).delivered != delivered)
    }

    @Test func delayHoldsEveryDatagram() {
        var path = ImpairedPath(Impairment(delay: .milliseconds(50)), seed: 1)
        path.send([1], now: start)
        #expect(path.receive(now: start + .milliseconds(49)) == nil)
        #expect(path.nextDelivery == start + .milliseconds(50))
        #expect(path.receive(now: start + .milliseconds(50)) == [1])
    }

    @Test func jitterReordersWithinItsBounds() {
        // One datagram a millisecond, each held 50 ± 20 ms: many overtake each other.
        let impairment = Impairment(delay: .milliseconds(50), jitter: .milliseconds(20))
        let (path, delivered) = run(impairment, seed: 3, count: 1_000, spacing: .milliseconds(1))
        #expect(delivered.count == 1_000 && Set(delivered).count == 1_000)
        #expect(path.counters.reordered > 100, "only \(path.counters.reordered) reordered")
        // Sent together, they arrive between 30 and 70 ms later.
        var together = ImpairedPath(impairment, seed: 3)
        for _ in 0..<200 { together.send([0], now: start) }
        var waits: [Duration] = []
        while let due = together.nextDelivery, together.receive(now: due) != nil { waits.append(start.duration(to: due)) }
        #expect(waits.count == 200)
        #expect(waits.allSatisfy { (.milliseconds(30)...(.milliseconds(70))).contains($0) })
    }

    @Test func duplicationDeliversSomeTwice() {
        let (path, delivered) = run(Impairment(duplication: 0.01), count: 10_000)
        #expect((50...150).contains(path.counters.duplicated), "duplicated \(path.counters.duplicated)")
        #expect(delivered.count == 10_000 + path.counters.duplicated)
        #expect(Set(delivered).count == 10_000)
    }

    @Test func theRateLimitSpacesDatagramsAndDropsBeyondItsQueue() {
        // 1 000 bytes/s: a 100-byte datagram takes 100 ms; a datagram may wait 250 ms for its
        // turn, so the fourth (which would wait 300 ms) and the rest are dropped.
        let impairment = Impairment(bytesPerSecond: 1_000, queueLimit: .milliseconds(250))
        var path = ImpairedPath(impairment, seed: 1)
        for _ in 0..<10 { path.send([UInt8](repeating: 0, count: 100), now: start) }
        var dues: [Duration] = []
        while let due = path.nextDelivery, path.receive(now: due) != nil { dues.append(start.duration(to: due)) }
        #expect(dues == [.milliseconds(100), .milliseconds(200), .milliseconds(300)])
        #expect(path.counters.dropped == 7)
        // Once the queue has drained, the path takes datagrams again.
        path.send([UInt8](repeating: 0, count: 100), now: start + .seconds(1))
        #expect(path.nextDelivery == start + .milliseconds(1_100))
    }

    @Test func datagramsAboveTheMTUAreDropped() {
        var path = ImpairedPath(Impairment(mtu: 1_200), seed: 1)
        path.send([UInt8](repeating: 0, count: 1_200), now: start)
        path.send([UInt8](repeating: 0, count: 1_201), now: start)
        #expect(path.receive(now: start)?.count == 1_200)
        #expect(path.receive(now: start) == nil)
        #expect(path.counters.dropped == 1)
    }
}
