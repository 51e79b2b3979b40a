import Foundation
import NIOPosix
import Signaling
import SignalingClient
import SignalingServer
import Testing
import WebRTC

private let inLoopbackNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

/// The server over real WebSockets on 127.0.0.1, with the Swift client: only inside the
/// loopback-only namespace that `make test` runs in.
@Suite(
    "Signaling server over WebSockets", .serialized,
    .enabled(if: inLoopbackNamespace, "needs a loopback-only network namespace (run as root through make test)"))
struct ServerTests {
    private func withServer(
        _ configuration: SignalingServerConfiguration = SignalingServerConfiguration(port: 0),
        _ body: (String, SignalingServer) async throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.port = 0
        let server = try await SignalingServer.start(configuration)
        do {
            try await body("ws://127.0.0.1:\(server.port)/ws", server)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// The next event of `client` within `timeout`, or nil.
    private func nextEvent(
        _ iterator: inout AsyncStream<SignalingClientEvent>.Iterator, timeout: Duration = .seconds(5)
    ) async -> SignalingClientEvent? {
        let box = IteratorBox(iterator)
        let event = await withTaskGroup(of: SignalingClientEvent?.self) { group in
            group.addTask { await box.next() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        iterator = box.iterator
        return event
    }

    @Test func twoClientsMeetAndRelay() async throws {
        try await withServer { url, server in
            let alice = try await SignalingClient.join(url: url, room: "room", peer: "alice")
            #expect(alice.peersPresent.isEmpty)
            let bob = try await SignalingClient.join(url: url, room: "room", peer: "bob")
            #expect(bob.peersPresent == ["alice"])
            var aliceEvents = alice.events.makeAsyncIterator()
            var bobEvents = bob.events.makeAsyncIterator()
            #expect(await nextEvent(&aliceEvents) == .peerJoined("bob"))
            #expect(server.counts.peers == 2)

            try await bob.send(.offer(sdp: "v=0\r\n"), to: "alice")
            #expect(await nextEvent(&aliceEvents) == .relayed(from: "bob", .offer(sdp: "v=0\r\n")))
            try await alice.send(.message(.object(["n": .number(1)])), to: "bob")
            #expect(await nextEvent(&bobEvents) == .relayed(from: "alice", .message(.object(["n": .number(1)]))))
            try await alice.send(.bye, to: "nobody")
            #expect(await nextEvent(&aliceEvents) == .error(.unknownPeer, message: "no peer nobody in room room"))

            await bob.close()
            #expect(await nextEvent(&aliceEvents) == .peerLeft("bob"))
            await alice.close()
        }
    }

    @Test func aWrongSecretIsRefusedWithItsCode() async throws {
        try await withServer(SignalingServerConfiguration(admission: .sharedSecret("s"))) { url, _ in
            do {
                _ = try await SignalingClient.join(url: url, room: "room", token: "wrong")
                Issue.record("joined with a wrong secret")
            } catch let error as SignalingClientError {
                #expect(error.reason == .refused(.unauthorized, "a valid token for this room is required"))
            }
            let admitted = try await SignalingClient.join(url: url, room: "room", token: "s")
            await admitted.close()
        }
    }

    @Test func foreignOriginsAreRefusedAtTheUpgrade() async throws {
        try await withServer { url, server in
            let group = MultiThreadedEventLoopGroup.singleton
            await #expect(throws: WebSocketError.self) {
                _ = try await WebSocketConnection.connect(to: url, headers: [("Origin", "http://evil.example")], group: group)
            }
            // The server's own origin is fine.
            let same = try await WebSocketConnection.connect(
                to: url, headers: [("Origin", "http://127.0.0.1:\(server.port)")], group: group)
            await same.close()
        }
    }

    @Test func theServerClosesIdleClients() async throws {
        let configuration = SignalingServerConfiguration(limits: SignalingLimits(idleTimeout: .seconds(1)))
        try await withServer(configuration) { url, _ in
            let connection = try await WebSocketConnection.connect(to: url, group: MultiThreadedEventLoopGroup.singleton)
            var received: [String] = []
            for await text in connection.messages { received.append(text) }  // ends at the close (about 1-2 s)
            #expect(received.compactMap(ServerMessage.init(text:)).contains {
                if case .error(.idleTimeout, _, _) = $0 { true } else { false }
            })
            #expect(connection.closeCode == 1001)
        }
    }

    @Test func aRoomConnectsPeersAndTheirChannels() async throws {
        try await withServer { url, _ in
            var configuration = PeerConnectionConfiguration()
            configuration.hostAddresses = .loopback
            let first = try await SignalingRoom.join(url: url, room: "mesh", peer: "first", configuration: configuration)
            let second = try await SignalingRoom.join(url: url, room: "mesh", peer: "second", configuration: configuration) {
                connection, _, isOfferer in
                if isOfferer { _ = try await connection.createDataChannel("chat") }
            }
            // The newcomer (second) offered; the first peer receives its channel and a message on it.
            var events = first.events.makeAsyncIterator()
            guard case .peerAdded(let peer)? = await events.next() else {
                Issue.record("no peer added")
                return
            }
            #expect(peer.id == "second" && !peer.isOfferer)
            let channel = try await withTimeout(.seconds(10)) {
                for await event in peer.events {
                    if case .dataChannel(let channel) = event { return channel }
                }
                return nil
            }
            #expect(channel?.label == "chat")
            let offered = second.peer("first")
            #expect(offered?.isOfferer == true)
            await first.close()
            await second.close()
        }
    }
}

/// Runs `body` with a deadline; nil if it passes first.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async -> T?) async throws -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Lets a child task advance an iterator that the test then keeps using (one user at a time).
private final class IteratorBox: @unchecked Sendable {
    var iterator: AsyncStream<SignalingClientEvent>.Iterator
    init(_ iterator: AsyncStream<SignalingClientEvent>.Iterator) { self.iterator = iterator }
    func next() async -> SignalingClientEvent? { await iterator.next() }
}
