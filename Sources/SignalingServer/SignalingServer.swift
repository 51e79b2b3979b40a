import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import Signaling

/// The settings of a ``SignalingServer``.
public struct SignalingServerConfiguration: Sendable {
    /// The address to listen on.
    public var host: String
    /// The port; 0 picks a free one (see ``SignalingServer/port``).
    public var port: Int
    /// Limits on messages, rates, rooms and queues.
    public var limits: SignalingLimits
    /// Who may join.
    public var admission: Admission
    /// Origins (`scheme://host:port`) whose pages may connect besides the server's own;
    /// `"*"` allows any. Clients that send no `Origin` (not browsers) are always allowed.
    public var allowedOrigins: [String]
    /// Directories whose files are served next to the built-in page (and override it).
    public var staticDirectories: [URL]
    /// Where the server logs.
    public var logger: Logger

    public init(
        host: String = "127.0.0.1", port: Int = 8080, limits: SignalingLimits = SignalingLimits(),
        admission: Admission = .open, allowedOrigins: [String] = [], staticDirectories: [URL] = [],
        logger: Logger = Logger(label: "rtc.signal")
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.admission = admission
        self.allowedOrigins = allowedOrigins
        self.staticDirectories = staticDirectories
        self.logger = logger
    }
}

/// The WebSocket signaling server of docs/signaling.md, with the browser page and `/healthz`.
///
/// ```swift
/// let server = try await SignalingServer.start(SignalingServerConfiguration(port: 0))
/// print("ws://127.0.0.1:\(server.port)/ws")
/// await server.stop()
/// ```
public final class SignalingServer: Sendable {
    /// The port the server listens on.
    public let port: Int
    private let task: Task<Void, Never>
    private let services: ServiceGroup
    private let state: ServerState

    private init(port: Int, task: Task<Void, Never>, services: ServiceGroup, state: ServerState) {
        self.port = port
        self.task = task
        self.services = services
        self.state = state
    }

    /// Binds and starts serving; returns once the port is open.
    public static func start(_ configuration: SignalingServerConfiguration) async throws(SignalingServerError)
        -> SignalingServer
    {
        let files = try StaticFiles(directories: configuration.staticDirectories)
        let state = ServerState(configuration: configuration)
        let router = Router(context: BasicWebSocketRequestContext.self)
        router.get("/healthz") { _, _ in
            let counts = state.counts()
            return Response.json(#"{"status":"ok","rooms":\#(counts.rooms),"peers":\#(counts.peers)}"#)
        }
        router.get("/") { _, _ in try staticResponse(files.file(named: "")) }
        router.get("/:file") { _, context in try staticResponse(files.file(named: context.parameters.get("file") ?? "")) }
        router.ws("/ws") { request, _ in
            guard state.isOriginAllowed(request.headers[.origin], authority: request.head.authority) else {
                throw HTTPError(.forbidden, message: "origin not allowed")
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, _ in
            try await state.serve(inbound: inbound, outbound: outbound)
        }

        let (bound, boundPort) = AsyncStream.makeStream(of: Int?.self)
        let application = Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: router,
                configuration: .init(ws: .init(maxFrameSize: configuration.limits.maxMessageBytes))),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in
                boundPort.yield(channel.localAddress?.port)
                boundPort.finish()
            },
            logger: configuration.logger
        )
        // A service group of our own, so that stopping is a graceful shutdown: connections
        // are closed with `server-shutdown` first, then the listener stops.
        let services = ServiceGroup(
            configuration: .init(services: [application], logger: configuration.logger))
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await state.runIdleTimer() }
                do {
                    try await services.run()
                } catch {
                    configuration.logger.error("signaling server stopped: \(error)")
                }
                group.cancelAll()
            }
            boundPort.finish()
        }
        var iterator = bound.makeAsyncIterator()
        guard let port = await iterator.next() ?? nil else {
            task.cancel()
            await task.value
            throw SignalingServerError.bindFailed("\(configuration.host):\(configuration.port)")
        }
        return SignalingServer(port: port, task: task, services: services, state: state)
    }

    /// Rooms and peers right now.
    public var counts: (rooms: Int, peers: Int) { state.counts() }

    /// Closes every connection (`server-shutdown`) and stops listening.
    public func stop() async {
        state.shutdown()
        await services.triggerGracefulShutdown()
        await task.value
    }
}

private func staticResponse(_ file: StaticFiles.File?) throws -> Response {
    guard let file else { throw HTTPError(.notFound) }
    var headers = HTTPFields()
    headers[.contentType] = file.contentType
    headers[.cacheControl] = "no-cache"
    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.bytes)))
}

extension Response {
    fileprivate static func json(_ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The dispatcher (hub and queue accounting, sans-IO) and the connections' writers, behind one
/// lock: every hub step and the queueing of its output happen together, so messages keep their
/// order per connection.
private final class ServerState: Sendable {
    /// What a connection's writer task sends.
    enum Outgoing: Sendable {
        case text(String)
        case close(UInt16)
    }

    private struct Outbox {
        var continuation: AsyncStream<Outgoing>.Continuation
        /// The connection's own reader, paused until the writer catches up (see `serve`).
        var drainWaiter: CheckedContinuation<Void, Never>?
    }

    private struct Locked {
        var dispatcher: SignalingDispatcher
        var outboxes: [SignalingHub.ConnectionID: Outbox] = [:]
    }

    private let locked: NIOLockedValueBox<Locked>
    private let limits: SignalingLimits
    private let allowedOrigins: [String]

    init(configuration: SignalingServerConfiguration) {
        limits = configuration.limits
        allowedOrigins = configuration.allowedOrigins
        let dispatcher = SignalingDispatcher(
            configuration: .init(limits: configuration.limits, admission: configuration.admission) {
                Int64(Date().timeIntervalSince1970)
            })
        locked = NIOLockedValueBox(Locked(dispatcher: dispatcher))
    }

    func counts() -> (rooms: Int, peers: Int) {
        locked.withLockedValue { ($0.dispatcher.hub.roomCount, $0.dispatcher.hub.peerCount) }
    }

    /// docs/signaling.md, "Transport": same-origin pages, listed origins, and non-browsers.
    func isOriginAllowed(_ origin: String?, authority: String?) -> Bool {
        guard let origin else { return true }
        if allowedOrigins.contains("*") || allowedOrigins.contains(origin) { return true }
        guard let authority, let components = URLComponents(string: origin), let host = components.host else { return false }
        let originAuthority = components.port.map { "\(host):\($0)" } ?? host
        return originAuthority.lowercased() == authority.lowercased()
    }

    /// One WebSocket connection, from upgrade to close.
    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        let (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self)
        let id = locked.withLockedValue { state in
            let id = state.dispatcher.open(now: .now)
            state.outboxes[id] = Outbox(continuation: continuation)
            return id
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The writer: a slow client waits here, alone; nobody else's messages wait for it.
            group.addTask {
                for await item in outgoing {
                    switch item {
                    case .text(let text):
                        try await outbound.write(.text(text))
                        self.wrote(to: id)
                    case .close(let code):
                        try await outbound.close(.init(codeNumber: Int(code)), reason: nil)
                        return
                    }
                }
            }
            defer {
                deliver { $0.disconnected(id) }
                locked.withLockedValue { $0.outboxes.removeValue(forKey: id)?.drainWaiter?.resume() }
                continuation.finish()
            }
            for try await message in inbound.messages(maxSize: limits.maxMessageBytes) {
                // A client's messages can answer to itself (errors, acknowledgements) faster than
                // its writer sends them; it then waits here, so only other peers' traffic can make
                // it a slow consumer.
                await waitForWriter(of: id)
                switch message {
                case .text(let text): perform { $0.receive(text, from: id, now: .now) }
                case .binary: perform { $0.receiveBinary(from: id, now: .now) }
                }
            }
        }
    }

    private func waitForWriter(of id: SignalingHub.ConnectionID) async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let resumeNow = locked.withLockedValue { state -> Bool in
                guard state.dispatcher.mustWaitForWriter(id), var outbox = state.outboxes[id] else { return true }
                outbox.drainWaiter = waiter
                state.outboxes[id] = outbox
                return false
            }
            if resumeNow { waiter.resume() }
        }
    }

    private func wrote(to id: SignalingHub.ConnectionID) {
        let waiter = locked.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard state.dispatcher.wrote(to: id), var outbox = state.outboxes[id] else { return nil }
            let waiter = outbox.drainWaiter
            outbox.drainWaiter = nil
            state.outboxes[id] = outbox
            return waiter
        }
        waiter?.resume()
    }

    /// Expires idle connections, once a second, until cancelled.
    func runIdleTimer() async {
        while (try? await Task.sleep(for: .seconds(1))) != nil {
            perform { $0.expireIdle(now: .now) }
        }
    }

    func shutdown() {
        perform { $0.shutdown() }
    }

    /// Runs one hub step through the dispatcher, under the lock.
    private func perform(_ step: (inout SignalingHub) -> [SignalingHub.Action]) {
        deliver { $0.perform(step) }
    }

    /// Hands the dispatcher's deliveries to the writers, under the same lock as the step.
    private func deliver(_ step: (inout SignalingDispatcher) -> [SignalingDispatcher.Delivery]) {
        locked.withLockedValue { state in
            for delivery in step(&state.dispatcher) {
                switch delivery {
                case .text(let text, let id):
                    state.outboxes[id]?.continuation.yield(.text(text))
                case .close(let id, let code):
                    guard let outbox = state.outboxes.removeValue(forKey: id) else { continue }
                    outbox.drainWaiter?.resume()
                    outbox.continuation.yield(.close(code))
                    outbox.continuation.finish()
                }
            }
        }
    }
}
