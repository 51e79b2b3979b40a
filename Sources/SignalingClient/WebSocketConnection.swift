// NSLock only: `NIOLockedValueBox` lives in NIOConcurrencyHelpers, which this module does not
// depend on, and `Synchronization.Mutex` needs macOS 15 (the package supports macOS 14).
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A text-message WebSocket client connection (RFC 6455) over plain TCP (ws://).
///
/// ``connect(to:headers:maxMessageBytes:timeout:group:)`` opens it; ``messages`` delivers the
/// server's text messages; ``send(_:)`` sends one; ``close()`` ends it. The connection answers
/// pings, reassembles fragmented messages and answers the server's Close frame by itself.
/// Binary messages from the server are ignored.
///
/// Every wait is bounded: the handshake by the `timeout` given to `connect`, a send by
/// ``sendTimeout``, the closing handshake by ``closeTimeout``. Closing (by either side, or
/// by a protocol failure) closes the TCP connection and finishes ``messages``; dropping the
/// last reference closes the TCP connection too.
package final class WebSocketConnection: Sendable {
    /// How long a frame may wait for the connection to take it (backpressure from a server that
    /// does not read) before the connection is considered dead and closed.
    package static let sendTimeout: Duration = .seconds(30)

    /// How long the closing handshake may take. RFC 6455 §7.1.1 has the client wait for the
    /// server to close the TCP connection first; past this, the client closes it itself.
    package static let closeTimeout: Duration = .seconds(3)

    /// How many received messages may wait for the application to read ``messages``. Past this
    /// the connection closes with 1008 rather than drop messages silently or grow without bound
    /// (memory held: at most this many times `maxMessageBytes`).
    package static let maxQueuedMessages = 1024

    /// Text messages in arrival order (fragmented messages reassembled, up to `maxMessageBytes`);
    /// finishes when the connection closes.
    package let messages: AsyncStream<String>

    private let channel: any Channel
    private let outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>
    private let shared: SharedState
    private let reader: Task<Void, Never>
    private let maxMessageBytes: Int

    private init(
        messages: AsyncStream<String>, channel: any Channel, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>,
        shared: SharedState, reader: Task<Void, Never>, maxMessageBytes: Int
    ) {
        self.messages = messages
        self.channel = channel
        self.outbound = outbound
        self.shared = shared
        self.reader = reader
        self.maxMessageBytes = maxMessageBytes
    }

    deinit {
        // Without a close() the reader task would wait on the socket for as long as the server keeps it open.
        channel.close(promise: nil)
    }

    /// Connects and completes the opening handshake within `timeout`.
    ///
    /// - Parameters:
    ///   - url: `ws://host[:port][/path][?query]`; the host is an IPv4 address, an IPv6 address in
    ///     brackets or a name; the port defaults to 80.
    ///   - headers: Extra request headers for the handshake (for example `Authorization`). A `Host`
    ///     header is added unless one is given.
    ///   - maxMessageBytes: The largest text message accepted, in UTF-8 bytes, in either direction.
    ///     A larger message from the server closes the connection with 1009 (RFC 6455 §7.4.1).
    ///   - timeout: The bound on name resolution, the TCP connection and the opening handshake together.
    ///   - group: The event loops to run the connection on.
    /// - Throws: `invalidURL`, `connectFailed`, `handshakeFailed` or `timedOut`.
    package static func connect(
        to url: String, headers: [(String, String)] = [], maxMessageBytes: Int = 1 << 20,
        timeout: Duration = .seconds(10), group: any EventLoopGroup
    ) async throws(WebSocketError) -> WebSocketConnection {
        guard let target = WebSocketURL(parsing: url) else { throw WebSocketError(.invalidURL) }
        guard let bootstrap = ClientBootstrap(validatingGroup: group) else {
            throw WebSocketError(.connectFailed("the event loop group cannot run NIOPosix sockets"))
        }
        // The frame decoder holds a whole frame before passing it on, so a frame may be no larger
        // than a message; its limit must also fit in 32 bits.
        let messageLimit = min(max(maxMessageBytes, 1), Int(UInt32.max))
        let deadline = NIODeadline.now() + TimeAmount(timeout)

        var requestHeaders = HTTPHeaders(headers)
        if !requestHeaders.contains(name: "Host") {
            // RFC 6455 §4.1: the handshake is an HTTP/1.1 GET that carries Host.
            requestHeaders.add(name: "Host", value: target.hostHeader)
        }
        // Without a length the HTTP encoder would announce a chunked body the server does not expect.
        requestHeaders.replaceOrAdd(name: "Content-Length", value: "0")
        let requestHead = HTTPRequestHead(version: .http1_1, method: .GET, uri: target.requestTarget, headers: requestHeaders)

        let upgraded: EventLoopFuture<UpgradedChannel?>
        do {
            upgraded = try await bootstrap
                .connectTimeout(TimeAmount(timeout))
                // Signaling messages are small and latency-sensitive.
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(host: target.host, port: target.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try Self.configureUpgrade(channel, request: requestHead, maxFrameSize: messageLimit, deadline: deadline)
                    }
                }
        } catch ChannelError.connectTimeout {
            throw WebSocketError(.timedOut)
        } catch {
            throw WebSocketError(.connectFailed(Self.describe(error)))
        }

        let asyncChannel: UpgradedChannel
        do {
            guard let channel = try await upgraded.get() else {
                throw WebSocketError(.handshakeFailed("the server answered without switching protocols"))
            }
            asyncChannel = channel
        } catch let error as WebSocketError {
            throw error
        } catch {
            throw WebSocketError(.handshakeFailed(Self.describe(error)))
        }
        return try await Self.start(asyncChannel, maxMessageBytes: messageLimit)
    }

    /// Sends one text message.
    ///
    /// Returns once the connection has taken the message (it may still be in flight).
    /// - Throws: `messageTooLarge` if its UTF-8 form is larger than `maxMessageBytes`; `closed` if
    ///   the closing handshake has started, the connection is closed, or it closes because it took
    ///   nothing for ``sendTimeout``.
    package func send(_ text: String) async throws(WebSocketError) {
        guard text.utf8.count <= maxMessageBytes else { throw WebSocketError(.messageTooLarge) }
        // RFC 6455 §5.5.1: no data frames after a Close frame. This check is for the caller's
        // benefit; ClientFrameRules enforces the rule on the wire even for a send racing close().
        guard !shared.isClosing else { throw WebSocketError(.closed) }
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        try await Self.write(frame, to: outbound, on: channel)
    }

    /// Starts the close handshake (code 1000) and waits (bounded) for the connection to close. Idempotent.
    ///
    /// Returns once the TCP connection is closed and ``messages`` has finished, at most
    /// ``closeTimeout`` after the Close frame was sent.
    package func close() async {
        if shared.claimClose() {
            await Self.sendCloseFrame(code: Self.normalClosure, outbound: outbound, channel: channel)
        }
        // Whoever claimed the close (here or the reader) armed a timer that closes the channel;
        // if the reader ended first, the channel is closed already.
        try? await channel.closeFuture.get()
        // The reader ends once the channel is closed; it finishes `messages`.
        await reader.value
    }

    /// The close code the server sent, once closed, if any.
    ///
    /// `nil` while open, and after a close whose Close frame from the server carried no code or
    /// never came (for example, the TCP connection dropped).
    package var closeCode: UInt16? { shared.closeCode }
}

// MARK: - Opening handshake

extension WebSocketConnection {
    fileprivate typealias UpgradedChannel = NIOAsyncChannel<WebSocketFrame, WebSocketFrame>

    /// RFC 6455 §7.4.1: 1000 indicates a normal closure.
    fileprivate static let normalClosure: UInt16 = 1000

    /// Adds the HTTP client and upgrade handlers; the returned future gives the WebSocket channel,
    /// `nil` if the server answered without switching protocols, or fails (with `timedOut` once
    /// `deadline` passes, closing the channel).
    private static func configureUpgrade(
        _ channel: any Channel, request: HTTPRequestHead, maxFrameSize: Int, deadline: NIODeadline
    ) throws -> EventLoopFuture<UpgradedChannel?> {
        let upgrader = NIOTypedWebSocketClientUpgrader<UpgradedChannel?>(
            maxFrameSize: maxFrameSize,
            // WebSocketProtocolErrorHandler answers malformed or oversized frames from the decoder
            // with a (masked) Close frame carrying 1002 or 1009, then closes the channel.
            enableAutomaticErrorHandling: true,
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ClientFrameRules())
                    return try UpgradedChannel(wrappingChannelSynchronously: channel)
                }
            }
        )
        var configuration = NIOUpgradableHTTPClientPipelineConfiguration(
            upgradeConfiguration: NIOTypedHTTPClientUpgradeConfiguration(
                upgradeRequestHead: request,
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(nil) }
            )
        )
        // Frames the server sends right behind its 101 response may share a read with it: keep them.
        configuration.leftOverBytesStrategy = .forwardBytes
        let upgraded = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(configuration: configuration)

        let result = channel.eventLoop.makePromise(of: UpgradedChannel?.self)
        let watchdog = channel.eventLoop.scheduleTask(deadline: deadline) {
            result.fail(WebSocketError(.timedOut))
            channel.close(promise: nil)
        }
        upgraded.whenComplete { outcome in
            watchdog.cancel()
            // A failed or refused upgrade leaves the channel open with nobody to close it.
            if case .success(.some) = outcome {} else { channel.close(promise: nil) }
            // After the watchdog fired the promise is already failed and this does nothing.
            result.completeWith(outcome)
        }
        return result.futureResult
    }

    /// Starts the reader task and waits for it to hand over the channel's writer.
    private static func start(
        _ asyncChannel: UpgradedChannel, maxMessageBytes: Int
    ) async throws(WebSocketError) -> WebSocketConnection {
        let channel = asyncChannel.channel
        let shared = SharedState()
        let (messages, messageSink) = AsyncStream.makeStream(
            of: String.self, bufferingPolicy: .bufferingOldest(maxQueuedMessages)
        )
        let (writers, writerSink) = AsyncStream.makeStream(of: NIOAsyncChannelOutboundWriter<WebSocketFrame>.self)
        let reader = Task {
            // executeThenClose closes the channel however the body ends.
            try? await asyncChannel.executeThenClose { inbound, outbound in
                writerSink.yield(outbound)
                writerSink.finish()
                await receive(
                    from: inbound, outbound: outbound, channel: channel, shared: shared,
                    messages: messageSink, maxMessageBytes: maxMessageBytes
                )
            }
            shared.markClosing()
            messageSink.finish()
        }
        var handedOver = writers.makeAsyncIterator()
        // executeThenClose runs its body at once, so the writer comes unless the task was cancelled.
        guard let outbound = await handedOver.next() else { throw WebSocketError(.closed) }
        return WebSocketConnection(
            messages: messages, channel: channel, outbound: outbound, shared: shared, reader: reader,
            maxMessageBytes: maxMessageBytes
        )
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return "\(error.host):\(error.port): \(first.error)"
        }
        return String(describing: error)
    }
}

// MARK: - Receiving and writing

extension WebSocketConnection {
    /// Reads frames until the channel closes, delivering messages and answering control frames.
    private static func receive(
        from inbound: NIOAsyncChannelInboundStream<WebSocketFrame>, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>,
        channel: any Channel, shared: SharedState, messages: AsyncStream<String>.Continuation, maxMessageBytes: Int
    ) async {
        var assembler = MessageAssembler(maxMessageBytes: maxMessageBytes)
        /// Ends `messages` and answers with a Close frame unless one was sent. The close is claimed
        /// first, so that a caller that sees `messages` end also sees `send` fail.
        func finish(closeCode: UInt16?) async {
            let mustSendClose = shared.claimClose()
            messages.finish()
            if mustSendClose { await sendCloseFrame(code: closeCode, outbound: outbound, channel: channel) }
        }
        do {
            for try await frame in inbound {
                switch assembler.receive(frame) {
                case .none:
                    continue
                case .message(let text):
                    if case .dropped = messages.yield(text) {
                        // RFC 6455 §7.4.1: 1008 is the generic "policy" code; here, an application
                        // that does not read its messages.
                        assembler.fail()
                        await finish(closeCode: 1008)
                    }
                case .pong(let payload):
                    // RFC 6455 §5.5.2-§5.5.3: a Pong carries the Ping's application data.
                    try? await write(WebSocketFrame(fin: true, opcode: .pong, data: payload), to: outbound, on: channel)
                case .close(let code):
                    shared.closeCode = code
                    // RFC 6455 §5.5.1: answer a Close frame with one echoing its status code.
                    await finish(closeCode: code)
                case .fail(let code):
                    // RFC 6455 §7.1.7: fail the connection, telling the server why first.
                    await finish(closeCode: code)
                }
            }
        } catch {
            // The decoder's protocol errors were already answered by WebSocketProtocolErrorHandler,
            // and a reset or I/O error ends the connection: either way there is nothing to send.
        }
    }

    /// Sends a Close frame (the caller claimed it) and arms the timer that closes the TCP
    /// connection if the server has not closed it within ``closeTimeout``.
    private static func sendCloseFrame(
        code: UInt16?, outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, channel: any Channel
    ) async {
        channel.eventLoop.scheduleTask(in: TimeAmount(closeTimeout)) { channel.close(promise: nil) }
        var payload = channel.allocator.buffer(capacity: 2)
        if let code { payload.writeInteger(code) }
        try? await write(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload), to: outbound, on: channel)
    }

    /// Hands one frame to the channel, closing the channel if it takes nothing for ``sendTimeout``.
    private static func write(
        _ frame: WebSocketFrame, to outbound: NIOAsyncChannelOutboundWriter<WebSocketFrame>, on channel: any Channel
    ) async throws(WebSocketError) {
        // Closing the channel resumes a write suspended by backpressure with an error.
        let watchdog = channel.eventLoop.scheduleTask(in: TimeAmount(sendTimeout)) { channel.close(promise: nil) }
        defer { watchdog.cancel() }
        do {
            try await outbound.write(frame)
        } catch {
            throw WebSocketError(.closed)
        }
    }
}

/// State the reader task shares with callers of ``WebSocketConnection``.
private final class SharedState: @unchecked Sendable {  // Every stored property is guarded by `lock`.
    private let lock = NSLock()
    private var closing = false
    private var receivedCloseCode: UInt16?

    /// True once a Close frame was sent or the connection closed.
    var isClosing: Bool { lock.withLock { closing } }

    var closeCode: UInt16? {
        get { lock.withLock { receivedCloseCode } }
        set { lock.withLock { receivedCloseCode = newValue } }
    }

    /// Returns true to exactly one caller: the one that sends the Close frame
    /// (RFC 6455 §5.5.1 allows one).
    func claimClose() -> Bool {
        lock.withLock {
            defer { closing = true }
            return !closing
        }
    }

    func markClosing() { lock.withLock { closing = true } }
}

/// The client's rules for the frames it writes, applied on the event loop so that they hold
/// whichever task wrote a frame.
private final class ClientFrameRules: ChannelOutboundHandler {
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private var closeWritten = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var frame = Self.unwrapOutboundIn(data)
        // RFC 6455 §5.5.1: nothing follows a Close frame.
        guard !closeWritten else {
            promise?.fail(WebSocketError(.closed))
            return
        }
        closeWritten = frame.opcode == .connectionClose
        // RFC 6455 §5.3: every frame from a client is masked with a fresh, unpredictable key.
        frame.maskKey = .random()
        context.write(Self.wrapOutboundOut(frame), promise: promise)
    }
}

// MARK: - Message assembly (no I/O)

/// Turns the server's frames into messages and the client's answers (RFC 6455 §5).
struct MessageAssembler {
    /// What the client does about one frame.
    enum Action: Equatable {
        case none
        /// Deliver a complete text message.
        case message(String)
        /// Answer a Ping with a Pong carrying this payload.
        case pong(ByteBuffer)
        /// The server closed, with this status code if its Close frame had one.
        case close(code: UInt16?)
        /// Fail the connection with this status code (RFC 6455 §7.1.7, §7.4.1).
        case fail(code: UInt16)
    }

    private enum State {
        /// Between messages.
        case idle
        /// Inside a fragmented text message: the bytes so far.
        case text(ByteBuffer)
        /// Inside a fragmented binary message, which is ignored.
        case binary
        /// The connection failed: only a Close frame from the server still matters.
        case failed
        /// The server's Close frame arrived: nothing follows it (RFC 6455 §5.5.1).
        case closed
    }

    private let maxMessageBytes: Int
    private var state = State.idle

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Ignores everything but a Close frame from now on (the client has failed the connection).
    mutating func fail() {
        if case .closed = state { return }
        state = .failed
    }

    mutating func receive(_ frame: WebSocketFrame) -> Action {
        switch state {
        case .closed:
            return .none
        case .failed:
            return frame.opcode == .connectionClose ? closeAction(frame.data) : .none
        case .idle, .text, .binary:
            break
        }
        // RFC 6455 §5.2: RSV bits are zero unless an extension was negotiated (none is);
        // §5.1: a client fails the connection on a masked frame from the server.
        if frame.rsv1 || frame.rsv2 || frame.rsv3 || frame.maskKey != nil {
            return failure(1002)
        }
        switch frame.opcode {
        case .text:
            // RFC 6455 §5.4: a new message may not start inside a fragmented one.
            guard case .idle = state else { return failure(1002) }
            guard frame.data.readableBytes <= maxMessageBytes else { return failure(1009) }
            return complete(frame.data, fin: frame.fin)
        case .binary:
            guard case .idle = state else { return failure(1002) }
            state = frame.fin ? .idle : .binary
            return .none
        case .continuation:
            switch state {
            case .text(var message):
                // Drop the state's reference first, so that appending does not copy the buffer.
                state = .idle
                guard message.readableBytes + frame.data.readableBytes <= maxMessageBytes else { return failure(1009) }
                message.writeImmutableBuffer(frame.data)
                return complete(message, fin: frame.fin)
            case .binary:
                if frame.fin { state = .idle }
                return .none
            case .idle, .failed, .closed:
                // RFC 6455 §5.4: a continuation frame belongs to a started message.
                return failure(1002)
            }
        case .ping:
            return .pong(frame.data)
        case .pong:
            // RFC 6455 §5.5.3: an unsolicited Pong needs no answer.
            return .none
        case .connectionClose:
            return closeAction(frame.data)
        default:
            // RFC 6455 §5.2: an unknown opcode fails the connection.
            return failure(1002)
        }
    }

    /// Delivers `message` if it is complete, else keeps it for the next fragment.
    private mutating func complete(_ message: ByteBuffer, fin: Bool) -> Action {
        guard fin else {
            state = .text(message)
            return .none
        }
        state = .idle
        // RFC 6455 §8.1: a text message that is not valid UTF-8 fails the connection with 1007.
        guard Self.isValidUTF8(message.readableBytesView) else { return failure(1007) }
        return .message(String(buffer: message))
    }

    /// RFC 6455 §5.5.1: an empty body means no status code; otherwise the first two bytes are one
    /// (§7.4), which must be a code an endpoint may send.
    private mutating func closeAction(_ body: ByteBuffer) -> Action {
        state = .closed
        var body = body
        guard body.readableBytes > 0 else { return .close(code: nil) }
        guard let code = body.readInteger(as: UInt16.self), Self.isSendableCloseCode(code) else {
            state = .failed
            return .fail(code: 1002)
        }
        return .close(code: code)
    }

    private mutating func failure(_ code: UInt16) -> Action {
        state = .failed
        return .fail(code: code)
    }

    /// RFC 6455 §7.4.1-§7.4.2: codes below 1000 are unused, and 1004 (reserved), 1005, 1006 and
    /// 1015 (local-only meanings) never appear in a Close frame; 5000 and above are not defined.
    static func isSendableCloseCode(_ code: UInt16) -> Bool {
        (1000...4999).contains(code) && ![1004, 1005, 1006, 1015].contains(code)
    }

    static func isValidUTF8(_ bytes: ByteBufferView) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

// MARK: - URL

/// A `ws://` URL split into what the connection needs (RFC 6455 §3).
struct WebSocketURL: Equatable {
    /// A name or address to connect to; an IPv6 address without its brackets.
    var host: String
    var port: Int
    /// The path and query for the request line, at least `/`.
    var requestTarget: String
    /// The `Host` header value: the host (IPv6 in brackets), with the port unless it is 80.
    var hostHeader: String

    /// Parses `ws://host[:port][/path][?query]`; `nil` for anything else, including `wss://`
    /// (no TLS here), user information and fragments (RFC 6455 §3 forbids them).
    init?(parsing text: String) {
        let scheme = "ws://"
        guard text.prefix(scheme.count).lowercased() == scheme else { return nil }
        let rest = text.dropFirst(scheme.count)
        // Only visible ASCII: the request line carries the target as it is.
        guard !rest.isEmpty, rest.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }),
            !rest.contains("#")
        else { return nil }

        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        let target = rest[authorityEnd...]
        requestTarget = target.first == "/" ? String(target) : "/" + target
        guard !authority.contains("@") else { return nil }

        let portText: Substring?
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let afterHost = authority[authority.index(after: close)...]
            guard afterHost.isEmpty || afterHost.first == ":" else { return nil }
            portText = afterHost.isEmpty ? nil : afterHost.dropFirst()
            guard host.contains(":"), host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority)
            portText = nil
        }
        guard !host.isEmpty, !host.hasPrefix("["), host.contains(":") == authority.hasPrefix("[") else { return nil }

        if let portText {
            guard portText.count <= 5, portText.allSatisfy(\.isASCII), let port = Int(portText), (1...65535).contains(port)
            else { return nil }
            self.port = port
        } else {
            port = 80
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        hostHeader = port == 80 ? bracketed : "\(bracketed):\(port)"
    }
}

// MARK: - Errors

/// Why a WebSocket operation failed.
package struct WebSocketError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Reason: Sendable, Hashable {
        /// The URL is not `ws://host[:port][/path][?query]`.
        case invalidURL
        /// The TCP connection could not be made (the text says why).
        case connectFailed(String)
        /// The server did not complete the opening handshake (RFC 6455 §4.1-§4.2).
        case handshakeFailed(String)
        /// The opening handshake did not complete in time.
        case timedOut
        /// The connection is closed or closing.
        case closed
        /// A message is larger than the connection's `maxMessageBytes`.
        case messageTooLarge
    }

    package let reason: Reason

    package init(_ reason: Reason) {
        self.reason = reason
    }

    package var description: String {
        switch reason {
        case .invalidURL: "invalid WebSocket URL (expected ws://host[:port][/path][?query])"
        case .connectFailed(let why): "WebSocket connection failed: \(why)"
        case .handshakeFailed(let why): "WebSocket handshake failed: \(why)"
        case .timedOut: "WebSocket connection timed out"
        case .closed: "WebSocket connection closed"
        case .messageTooLarge: "WebSocket message too large"
        }
    }
}
