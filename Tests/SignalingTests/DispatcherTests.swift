import Signaling
import Testing

/// The server's message handling without sockets: hub steps turned into deliveries, with the
/// per-connection queue accounting that detects slow consumers (docs/signaling.md).
@Suite("Signaling dispatcher: queues and slow consumers")
struct DispatcherTests {
    let now = ContinuousClock.now

    func makeDispatcher(queue: Int = 4) -> SignalingDispatcher {
        let limits = SignalingLimits(messagesPerSecond: 1e6, burst: 1_000_000, outboundQueueMessages: queue)
        return SignalingDispatcher(configuration: .init(limits: limits) { 1_800_000_000 })
    }

    func join(_ dispatcher: inout SignalingDispatcher, as peer: String) -> SignalingHub.ConnectionID {
        let id = dispatcher.open(now: now)
        let text = ClientMessage.join(room: "room", peer: peer, token: nil).text
        _ = dispatcher.perform { $0.receive(text, from: id, now: now) }
        return id
    }

    func relay(to peer: String) -> String {
        #"{"type": "message", "to": "\#(peer)", "data": 1}"#
    }

    @Test func aConnectionThatDoesNotReadIsFailedAsASlowConsumer() {
        var dispatcher = makeDispatcher()
        let alice = join(&dispatcher, as: "alice")
        let bob = join(&dispatcher, as: "bob")
        // Bob's writer has the welcome; Alice's has the welcome and the peer-joined notice.
        while (dispatcher.queuedCount(for: bob) ?? 0) > 0 { _ = dispatcher.wrote(to: bob) }
        var closes: [SignalingDispatcher.Delivery] = []
        for _ in 0..<5 {
            for delivery in dispatcher.perform({ $0.receive(relay(to: "bob"), from: alice, now: now) }) {
                if case .close = delivery { closes.append(delivery) }
            }
        }
        #expect(closes == [.close(bob, code: SignalingErrorCode.slowConsumer.closeCode ?? 1008)])
        #expect(dispatcher.queuedCount(for: bob) == nil)
        #expect(dispatcher.hub.connectionCount == 1)
        // Nothing more reaches Bob once closed.
        #expect(dispatcher.perform { $0.receive(relay(to: "bob"), from: alice, now: now) }.allSatisfy {
            if case .text(_, let to) = $0 { to != bob } else { true }
        })
    }

    @Test func theReaderWaitsAtHalfTheQueueAndResumesWhenTheWriterCatchesUp() {
        var dispatcher = makeDispatcher()
        let alice = join(&dispatcher, as: "alice")
        #expect(dispatcher.queuedCount(for: alice) == 1)
        #expect(!dispatcher.mustWaitForWriter(alice))
        _ = dispatcher.perform { $0.receive(#"{"type": "ping"}"#, from: alice, now: now) }
        #expect(dispatcher.mustWaitForWriter(alice))
        let resumes = dispatcher.wrote(to: alice)
        #expect(resumes)
        #expect(!dispatcher.mustWaitForWriter(alice))
        // Reports beyond what was queued are ignored.
        _ = dispatcher.wrote(to: alice)
        let extra = dispatcher.wrote(to: alice)
        #expect(!extra)
        #expect(dispatcher.queuedCount(for: alice) == 0)
    }

    @Test func aDisconnectTellsTheRoomAndForgetsTheQueue() {
        var dispatcher = makeDispatcher(queue: 16)
        let alice = join(&dispatcher, as: "alice")
        let bob = join(&dispatcher, as: "bob")
        let deliveries = dispatcher.disconnected(bob)
        #expect(deliveries.count == 1)
        #expect(deliveries.allSatisfy { if case .text(_, let to) = $0 { to == alice } else { false } })
        #expect(dispatcher.queuedCount(for: bob) == nil)
        #expect(dispatcher.connectionCount == 1 && dispatcher.hub.connectionCount == 1)
        #expect(dispatcher.disconnected(bob).isEmpty)
    }
}
