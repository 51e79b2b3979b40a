import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Testing

@testable import SignalingClient

/// WebSocketConnection against a real WebSocket server (SwiftNIO's server-side upgrader) on
/// 127.0.0.1, one per test, whose behaviour each test scripts frame by frame.
@Suite(.timeLimit(.minutes(1)))
struct WebSocketConnectionTests {
    @Test func echoesTextMessagesIncludingA200KiBOneTheServerFragments() async throws {
        // Multi-byte characters, so fragment boundaries fall inside them: the client must
        // reassemble bytes, not strings.
        let large = String(repeating: "añ€😀", count: 200 * 1024 / 10)
        #expect(large.utf8.count >= 200 * 1024)

        try await withWebSocketServer { session in
            var maskKeys: Set<[UInt8]> = []
            while let message = try await session.nextMessage(maskKeys: &maskKeys) {
                // Large echoes go out in 4 KiB fragments with a Ping between the first two,
                // as RFC 6455 §5.4 allows control frames inside a fragmented message.
                try await session.sendText(message, fragmentSize: message.utf8.count > 16384 ? 4096 : nil, pingAfterFirst: true)
            }
            // RFC 6455 §5.3: every client frame masked, with a fresh key each time.
            #expect(maskKeys.count == session.clientFrameCount)
            #expect(session.receivedCloseCode == 1000)
            #expect(session.pongPayloads == [[1, 2, 3]])
        } client: { url in
            let connection = try await WebSocketConnection.connect(to: url, group: .singletonMultiThreadedEventLoopGroup)
            var messages = connection.messages.makeAsyncIterator()
            try await connection.send("hello")
            #expect(await messages.next() == "hello")
            try await connection.send(large)
            #expect(await messages.next() == large)
            await connection.close()
            #expect(await messages.next() == nil)
            #expect(connection.closeCode == 1000)
            await connection.close()  // idempotent
            await #expect(throws: WebSocketError(.closed)) { try await connection.send("late") }
        }
    }

    @Test func answersPingWithPongCarryingItsPayload() async throws {
        try await withWebSocketServer { session in
            try await session.send(.ping, Array("are you there".utf8))
            let answer = try #require(try await session.nextFrame())
            #expect(answer.opcode == .pong)
            #expect(Array(buffer: answer.unmaskedData) == Array("are you there".utf8))
            try await session.sendText("done")
            _ = try await session.nextFrame()  // the client's Close
            try await session.sendClose(code: 1000)
        } client: { url in
            let connection = try await WebSocketConnection.connect(to: url, group: .singletonMultiThreadedEventLoopGroup)
            var messages = connection.messages.makeAsyncIterator()
            #expect(await messages.next() == "done")
            await connection.close()
        }
    }

    @Test func serverCloseIsAnsweredAndEndsTheStreamWithItsCode() async throws {
        try await withWebSocketServer { session in
            try await session.sendText("bye")
            try await session.sendClose(code: 4001)
            let answer = try #require(try await session.nextFrame())
            // RFC 6455 §5.5.1: the answer echoes the status code.
            #expect(answer.opcode == .connectionClose)
            var body = answer.unmaskedData
            #expect(body.readInteger(as: UInt16.self) == 4001)
        } client: { url in
            let connection = try await WebSocketConnection.connect(to: url, group: .singletonMultiThreadedEventLoopGroup)
            var received: [String] = []
            for await message in connection.messages { received.append(message) }
            #expect(received == ["bye"])
            #expect(connection.closeCode == 4001)
            await #expect(throws: WebSocketError(.closed)) { try await connection.send("after close") }
            await connection.close()
        }
    }

    /// A message over `maxMessageBytes` closes the connection with 1009, whether it comes as one
    /// frame (caught by the frame decoder) or as fragments that only add up to too much.
    @Test(arguments: [nil, 500])
    func oversizeMessageClosesWith1009(fragmentSize: Int?) async throws {
        try await withWebSocketServer { session in
            try await session.sendText(String(repeating: "x", count: 1500), fragmentSize: fragmentSize)
            #expect(try await session.nextClose() == 1009)
        } client: { url in
            let connection = try await WebSocketConnection.connect(
                to: url, maxMessageBytes: 1024, group: .singletonMultiThreadedEventLoopGroup
            )
            await #expect(throws: WebSocketError(.messageTooLarge)) {
                try await connection.send(String(repeating: "y", count: 1025))
            }
            var received: [String] = []
            for await message in connection.messages { received.append(message) }
            #expect(received.isEmpty)
            await #expect(throws: WebSocketError(.closed)) { try await connection.send("small") }
            await connection.close()
        }
    }

    @Test func binaryMessagesAreIgnored() async throws {
        try await withWebSocketServer { session in
            try await session.send(.binary, [1, 2, 3], fin: false)
            try await session.send(.continuation, [4], fin: true)
            try await session.sendText("text")
            try await session.sendClose(code: 1000)
            _ = try await session.nextClose()
        } client: { url in
            let connection = try await WebSocketConnection.connect(to: url, group: .singletonMultiThreadedEventLoopGroup)
            var received: [String] = []
            for await message in connection.messages { received.append(message) }
            #expect(received == ["text"])
        }
    }

    @Test func connectingToAClosedPortFailsWithinTheTimeout() async throws {
        let port = try await unusedPort()
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: WebSocketError.self) {
            try await WebSocketConnection.connect(
                to: "ws://127.0.0.1:\(port)/", timeout: .seconds(5), group: .singletonMultiThreadedEventLoopGroup
            )
        }
        guard case .connectFailed = error?.reason else {
            Issue.record("expected connectFailed, got \(String(describing: error))")
            return
        }
        #expect(clock.now - start < .seconds(5))
    }

    @Test func silentServerTimesOutTheHandshake() async throws {
        try await withRawTCPServer(reply: nil) { port in
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: WebSocketError(.timedOut)) {
                try await WebSocketConnection.connect(
                    to: "ws://127.0.0.1:\(port)/", timeout: .milliseconds(500), group: .singletonMultiThreadedEventLoopGroup
                )
            }
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(3))
        }
    }

    @Test func plainHTTPAnswerFailsTheHandshake() async throws {
        try await withRawTCPServer(reply: "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n") { port in
            let error = await #expect(throws: WebSocketError.self) {
                try await WebSocketConnection.connect(to: "ws://127.0.0.1:\(port)/x", group: .singletonMultiThreadedEventLoopGroup)
            }
            guard case .handshakeFailed = error?.reason else {
                Issue.record("expected handshakeFailed, got \(String(describing: error))")
                return
            }
        }
    }

    @Test(arguments: ["http://127.0.0.1/", "wss://example.com/", "ws://", "ws://host:0/", "ws://host:65536/", "ws://a b/"])
    func connectRejectsInvalidURLs(url: String) async {
        await #expect(throws: WebSocketError(.invalidURL)) {
            try await WebSocketConnection.connect(to: url, group: .singletonMultiThreadedEventLoopGroup)
        }
    }

    @Test func parsesWebSocketURLs() {
        func parts(_ url: String) -> [String]? {
            WebSocketURL(parsing: url).map { [$0.host, String($0.port), $0.requestTarget, $0.hostHeader] }
        }
        #expect(parts("ws://127.0.0.1:9222/devtools/browser/abc?x=1") == ["127.0.0.1", "9222", "/devtools/browser/abc?x=1", "127.0.0.1:9222"])
        #expect(parts("WS://[::1]:8080") == ["::1", "8080", "/", "[::1]:8080"])
        #expect(parts("ws://signal.example?room=a") == ["signal.example", "80", "/?room=a", "signal.example"])
        for invalid in ["ws://::1/", "ws://[::1/", "ws://[::1]x/", "ws://user@host/", "ws://host/#frag", "ws://host:/", "ws://[]:80/", "ws://h/ü"] {
            #expect(WebSocketURL(parsing: invalid) == nil, "\(invalid)")
        }
    }

    /// The frame rules the assembler enforces on its own (RFC 6455 §5.2, §5.4, §8.1).
    @Test func assemblerFailsProtocolViolations() throws {
        let reserved = try #require(WebSocketOpcode(encodedWebSocketOpcode: 0x3))
        func frames(_ list: [(WebSocketOpcode, [UInt8], Bool)]) -> MessageAssembler.Action {
            var assembler = MessageAssembler(maxMessageBytes: 100)
            var last = MessageAssembler.Action.none
            for (opcode, bytes, fin) in list {
                last = assembler.receive(WebSocketFrame(fin: fin, opcode: opcode, data: ByteBuffer(bytes: bytes)))
            }
            return last
        }
        #expect(frames([(.continuation, [0x61], true)]) == .fail(code: 1002))
        #expect(frames([(.text, [0x61], false), (.text, [0x62], true)]) == .fail(code: 1002))
        #expect(frames([(reserved, [], true)]) == .fail(code: 1002))
        #expect(frames([(.text, [0xC3], false), (.continuation, [0xA9], true)]) == .message("é"))
        #expect(frames([(.text, [0xC3, 0x28], true)]) == .fail(code: 1007))
        #expect(frames([(.connectionClose, [0x03], true)]) == .fail(code: 1002))
        #expect(frames([(.connectionClose, [0x03, 0xED], true)]) == .fail(code: 1002))  // 1005 is never sent
        #expect(frames([(.connectionClose, [], true)]) == .close(code: nil))
        #expect(frames([(.connectionClose, [0x03, 0xE8], true), (.text, [0x61], true)]) == .none)
    }
}

// MARK: - Test servers

private typealias ServerWebSocket = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

/// Runs a WebSocket server on 127.0.0.1 (a free port) whose every connection runs `session`, and
/// `client` with its URL; returns once both are done.
private func withWebSocketServer(
    session: @escaping @Sendable (ServerSession) async throws -> Void,
    client: (_ url: String) async throws -> Void
) async throws {
    let server = try await ServerBootstrap(group: .singletonMultiThreadedEventLoopGroup)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture {
                let upgrader = NIOTypedWebSocketServerUpgrader<ServerWebSocket?>(
                    maxFrameSize: 1 << 22,
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture { try ServerWebSocket(wrappingChannelSynchronously: channel) }
                    }
                )
                return try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(
                    configuration: .init(
                        upgradeConfiguration: .init(
                            upgraders: [upgrader],
                            notUpgradingCompletionHandler: { channel in
                                channel.close(promise: nil)
                                return channel.eventLoop.makeSucceededFuture(nil)
                            }
                        )
                    )
                )
            }
        }
    let port = try #require(server.channel.localAddress?.port)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await withThrowingDiscardingTaskGroup { sessions in
                try await server.executeThenClose { upgrades in
                    for try await upgrade in upgrades {
                        sessions.addTask {
                            guard let webSocket = try await upgrade.get() else { return }
                            try await webSocket.executeThenClose { inbound, outbound in
                                try await session(ServerSession(inbound: inbound, outbound: outbound))
                            }
                        }
                    }
                }
            }
        }
        try await client("ws://127.0.0.1:\(port)/test?x=1")
        try await server.channel.close()
        try await group.waitForAll()
    }
}

/// The server's side of one test connection.
private final class ServerSession {
    private var frames: NIOAsyncChannelInboundStream<WebSocketFrame>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>
    private(set) var clientFrameCount = 0
    private(set) var receivedCloseCode: UInt16?
    private(set) var pongPayloads: [[UInt8]] = []

    init(inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>) {
        frames = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// The next frame from the client; `nil` once the connection closed.
    func nextFrame() async throws -> WebSocketFrame? {
        guard let frame = try await frames.next() else { return nil }
        clientFrameCount += 1
        return frame
    }

    /// The next text message, collecting Pong payloads and mask keys on the way; at a Close frame,
    /// answers it and returns `nil`.
    func nextMessage(maskKeys: inout Set<[UInt8]>) async throws -> String? {
        var text: [UInt8] = []
        while let frame = try await nextFrame() {
            if let key = frame.maskKey { maskKeys.insert(Array(key)) }
            switch frame.opcode {
            case .text, .continuation:
                text += Array(buffer: frame.unmaskedData)
                if frame.fin { return String(decoding: text, as: UTF8.self) }
            case .pong:
                pongPayloads.append(Array(buffer: frame.unmaskedData))
            case .connectionClose:
                var body = frame.unmaskedData
                receivedCloseCode = body.readInteger(as: UInt16.self)
                try await sendClose(code: receivedCloseCode)
                return nil
            default:
                Issue.record("unexpected \(frame.opcode)")
            }
        }
        return nil
    }

    /// Waits for the client's Close frame and returns its code.
    func nextClose() async throws -> UInt16? {
        while let frame = try await nextFrame() {
            guard frame.opcode == .connectionClose else { continue }
            var body = frame.unmaskedData
            return body.readInteger(as: UInt16.self)
        }
        return nil
    }

    func send(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) async throws {
        try await outbound.write(WebSocketFrame(fin: fin, opcode: opcode, data: ByteBuffer(bytes: payload)))
    }

    /// Sends `text` whole, or in fragments of `fragmentSize` bytes (optionally with a Ping after the first).
    func sendText(_ text: String, fragmentSize: Int? = nil, pingAfterFirst: Bool = false) async throws {
        let bytes = Array(text.utf8)
        guard let fragmentSize else { return try await send(.text, bytes) }
        var offset = 0
        repeat {
            let end = min(offset + fragmentSize, bytes.count)
            try await send(offset == 0 ? .text : .continuation, Array(bytes[offset..<end]), fin: end == bytes.count)
            if offset == 0, pingAfterFirst { try await send(.ping, [1, 2, 3]) }
            offset = end
        } while offset < bytes.count
    }

    func sendClose(code: UInt16?) async throws {
        var body = ByteBuffer()
        if let code { body.writeInteger(code) }
        try await outbound.write(WebSocketFrame(fin: true, opcode: .connectionClose, data: body))
    }
}

/// Runs a TCP server on 127.0.0.1 that answers the first bytes of each connection with `reply`
/// (or never answers, if `nil`) and holds the connection open until the client closes it.
private func withRawTCPServer(reply: String?, _ body: (_ port: Int) async throws -> Void) async throws {
    let server = try await ServerBootstrap(group: .singletonMultiThreadedEventLoopGroup)
        .bind(host: "127.0.0.1", port: 0) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    let port = try #require(server.channel.localAddress?.port)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await withThrowingDiscardingTaskGroup { connections in
                try await server.executeThenClose { accepted in
                    for try await connection in accepted {
                        connections.addTask {
                            try? await connection.executeThenClose { inbound, outbound in
                                var replied = false
                                for try await _ in inbound where !replied {
                                    if let reply { try await outbound.write(ByteBuffer(string: reply)) }
                                    replied = true
                                }
                            }
                        }
                    }
                }
            }
        }
        try await body(port)
        try await server.channel.close()
        try await group.waitForAll()
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (it was bound, then closed).
private func unusedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: .singletonMultiThreadedEventLoopGroup)
        .bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(channel.localAddress?.port)
    try await channel.close()
    return port
}
