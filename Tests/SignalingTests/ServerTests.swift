#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOPosix
import Signaling
import SignalingClient
import SignalingServer
import Testing
import TestSupport
import WebRTC

private let inLoopbackNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

/// The server over real WebSockets on 127.0.0.1, with the Swift client: only inside the
/// loopback-only namespace that `make test` runs in.
@Suite(
    "Signaling server over WebSockets", .serialized,
    .enabled(if: inLoopbackNamespace, "needs a loopback-only network namespace (run as root through make test)"))
struct ServerTests {
    func withServer(
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
    func nextEvent(
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

/// A WebSocket client that completes the opening handshake and then never reads: the
/// slow consumer the server must shed. Plain blocking POSIX calls; bounded by socket timeouts.
final class StalledWebSocketClient {
    private let descriptor: Int32

    init(port: Int, room: String, peer: String) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw CaseError("socket failed") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // A small receive buffer, so that the server's writes back up quickly.
        var small: Int32 = 4096
        setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw CaseError("connect failed") }
        try write(
            Array(
                ("GET /ws HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        // The 101 response and nothing else is read before the join.
        var response = [UInt8]()
        var byte: UInt8 = 0
        while !response.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard recv(descriptor, &byte, 1, 0) == 1 else { throw CaseError("no handshake response") }
            response.append(byte)
        }
        guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw CaseError("upgrade refused") }
        try sendText(ClientMessage.join(room: room, peer: peer, token: nil).text)
    }

    deinit { close(descriptor) }

    /// One masked text frame (RFC 6455 §5.2; client frames are masked, here with a zero key).
    func sendText(_ text: String) throws {
        let payload = Array(text.utf8)
        var frame: [UInt8] = [0x81]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        frame += [0, 0, 0, 0] + payload
        try write(frame)
    }

    private func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw CaseError("send failed") }
            offset += written
        }
    }
}

struct CaseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension ServerTests {
    @Test(
        .timeLimit(.minutes(2)),
        .disabled(if: Sanitizer.isThread, "under ThreadSanitizer the server sheds the stalled client only after the 60 s the test allows"))
    func aClientThatStopsReadingIsDroppedAndDelaysNobody() async throws {
        // A small queue: the `unknown-peer` errors for the sender's messages still in flight
        // after the shedding come in a burst, and must pause the sender, not shed it too.
        let limits = SignalingLimits(messagesPerSecond: 1e6, burst: 1_000_000, outboundQueueMessages: 8)
        try await withServer(SignalingServerConfiguration(limits: limits)) { url, server in
            let sender = try await SignalingClient.join(url: url, room: "room", peer: "sender")
            let bystander = try await SignalingClient.join(url: url, room: "room", peer: "bystander")
            let stalled = try StalledWebSocketClient(port: server.port, room: "room", peer: "stalled")
            let senderEvents = EventLog(sender.events)
            let bystanderEvents = EventLog(bystander.events)
            try await senderEvents.wait(for: .peerJoined("stalled"))
            // Messages to the peer that never reads, until the server sheds it: the socket
            // buffers fill (a few MiB on loopback), then its queue overflows.
            let payload = RelayPayload.message(.string(String(repeating: "x", count: 30_000)))
            var sent = 0
            while !senderEvents.contains(.peerLeft("stalled")) && sent < 3_000 {
                for _ in 0..<20 { try await sender.send(payload, to: "stalled") }
                sent += 20
                try await Task.sleep(for: .milliseconds(5))
            }
            try await senderEvents.wait(for: .peerLeft("stalled"))
            // Everyone else heard so, and traffic between them flows as before.
            try await bystanderEvents.wait(for: .peerLeft("stalled"))
            try await sender.send(.message("still here"), to: "bystander")
            try await bystanderEvents.wait(for: .relayed(from: "sender", .message("still here")))
            _ = stalled
            await sender.close()
            await bystander.close()
        }
    }
}

/// Collects a client's events as they come, for tests that poll while doing other things.
private final class EventLog: @unchecked Sendable {
    // `events` is guarded by `lock`.
    private let lock = NSLock()
    private var events: [SignalingClientEvent] = []
    private var reader: Task<Void, Never>?

    init(_ stream: AsyncStream<SignalingClientEvent>) {
        reader = Task { [weak self] in
            for await event in stream { self?.lock.withLock { self?.events.append(event) } }
        }
    }

    deinit { reader?.cancel() }

    func contains(_ event: SignalingClientEvent) -> Bool {
        lock.withLock { events.contains(event) }
    }

    /// Waits up to 60 s for `event` (the server may still be working through a flood).
    func wait(for event: SignalingClientEvent) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while !contains(event) {
            guard ContinuousClock.now < deadline else {
                throw CaseError("no \(event) within 60 s; got \(lock.withLock { events.suffix(5) })")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
