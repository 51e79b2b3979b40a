import Foundation
import Signaling
import SignalingClient

// A client for the Chrome DevTools Protocol (CDP): commands and replies matched by `id`, events
// routed by `sessionId`, over one WebSocketConnection to the browser target.
// Protocol reference: https://chromedevtools.github.io/devtools-protocol/

// MARK: - Errors

/// Why driving Chromium failed.
enum DevToolsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No executable file at this path.
    case executableNotFound(String)
    /// The browser could not be started or stopped before it was ready (the text says why,
    /// with the tail of its log).
    case launchFailed(String)
    /// The WebSocket to the browser failed.
    case connection(WebSocketError)
    /// The browser answered a command with an error.
    case commandFailed(method: String, code: Int, message: String)
    /// Evaluated JavaScript threw; the text is the exception's description (message and stack).
    case javaScriptException(String)
    /// No reply, event or exit within the time allowed for this.
    case timedOut(String)
    /// The browser's reply was not what the protocol promises.
    case unexpectedReply(String)
    /// The connection to the browser is closed.
    case closed

    var description: String {
        switch self {
        case .executableNotFound(let path): "Chromium executable not found at \(path)"
        case .launchFailed(let why): "Chromium failed to start: \(why)"
        case .connection(let error): "DevTools connection: \(error)"
        case .commandFailed(let method, let code, let message): "DevTools \(method) failed (\(code)): \(message)"
        case .javaScriptException(let text): "JavaScript exception: \(text)"
        case .timedOut(let what): "timed out: \(what)"
        case .unexpectedReply(let what): "unexpected DevTools reply: \(what)"
        case .closed: "the DevTools connection is closed"
        }
    }
}

// MARK: - Connection

/// An event for one session (a page), or the end of the connection.
enum DevToolsEvent: Sendable {
    case event(method: String, params: [String: JSONValue])
    case connectionClosed
}

/// One DevTools WebSocket connection: sends commands, matches replies to them by `id`, hands
/// events to the subscriber of their `sessionId`. Every command waits at most its timeout, and
/// all of them fail with ``DevToolsError/closed`` when the connection closes.
actor DevToolsConnection {
    typealias EventHandler = @Sendable (DevToolsEvent) -> Void

    private enum Slot {
        /// Sent; no reply yet and nobody suspended on it yet.
        case sent
        /// The reply came before the caller suspended.
        case replied(Result<[String: JSONValue], DevToolsError>)
        case waiting(CheckedContinuation<Result<[String: JSONValue], DevToolsError>, Never>)
    }

    private let socket: WebSocketConnection
    private var nextID = 0
    private var pending: [Int: (method: String, slot: Slot)] = [:]
    /// Event handlers by session id; browser-level events (no session) are not routed.
    private var subscribers: [String: EventHandler] = [:]
    private var isClosed = false

    /// Starts reading `socket`; the connection owns it from now on.
    static func start(on socket: WebSocketConnection) -> DevToolsConnection {
        let connection = DevToolsConnection(socket: socket)
        Task {
            for await text in socket.messages { await connection.dispatch(text) }
            await connection.didClose()
        }
        return connection
    }

    private init(socket: WebSocketConnection) {
        self.socket = socket
    }

    /// Sends `method` and returns its reply's `result`.
    func command(
        _ method: String, _ params: [String: JSONValue] = [:], session: String? = nil, timeout: Duration
    ) async throws(DevToolsError) -> [String: JSONValue] {
        guard !isClosed else { throw .closed }
        nextID += 1
        let id = nextID
        var message: [String: JSONValue] = ["id": .number(Double(id)), "method": .string(method), "params": .object(params)]
        if let session { message["sessionId"] = .string(session) }

        // Registered before sending: the reply may be dispatched while `send` is suspended.
        pending[id] = (method, .sent)
        do {
            try await socket.send(JSONValue.object(message).serialized)
        } catch {
            pending[id] = nil
            throw error.reason == .closed ? .closed : .connection(error)
        }
        let timer = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }  // cancelled: the reply came
            await self?.resolve(id, with: .failure(.timedOut("\(method) after \(timeout)")))
        }
        defer { timer.cancel() }
        let result = await withCheckedContinuation { continuation in
            switch pending[id]?.slot {
            case .replied(let result):
                pending[id] = nil
                continuation.resume(returning: result)
            case .sent:
                pending[id]?.slot = .waiting(continuation)
            case .waiting, nil:
                // Only this task suspends on `id`, and resolve() keeps replies until it does.
                continuation.resume(returning: .failure(.closed))
            }
        }
        return try result.get()
    }

    /// Routes the events of `session` to `handler` (replacing any handler it had).
    func subscribe(session: String, _ handler: @escaping EventHandler) {
        if isClosed {
            handler(.connectionClosed)
        } else {
            subscribers[session] = handler
        }
    }

    func unsubscribe(session: String) {
        subscribers[session] = nil
    }

    /// Closes the WebSocket (bounded by its close timeout); pending commands fail with ``DevToolsError/closed``.
    func close() async {
        await socket.close()
        didClose()
    }

    private func dispatch(_ text: String) {
        guard let message = JSONValue(parsing: text)?.objectValue else { return }
        if let id = message["id"]?.intValue {
            guard let method = pending[id]?.method else { return }  // timed out already
            if let error = message["error"] {
                let failure = DevToolsError.commandFailed(
                    method: method, code: error["code"]?.intValue ?? 0, message: error["message"]?.stringValue ?? error.serialized
                )
                resolve(id, with: .failure(failure))
            } else {
                resolve(id, with: .success(message["result"]?.objectValue ?? [:]))
            }
        } else if let method = message["method"]?.stringValue, let session = message["sessionId"]?.stringValue {
            subscribers[session]?(.event(method: method, params: message["params"]?.objectValue ?? [:]))
        }
    }

    private func resolve(_ id: Int, with result: Result<[String: JSONValue], DevToolsError>) {
        switch pending[id]?.slot {
        case .sent:
            pending[id]?.slot = .replied(result)
        case .waiting(let continuation):
            pending[id] = nil
            continuation.resume(returning: result)
        case .replied, nil:
            break  // the first outcome (reply, timeout or close) wins
        }
    }

    private func didClose() {
        guard !isClosed else { return }
        isClosed = true
        for id in pending.keys { resolve(id, with: .failure(.closed)) }
        let handlers = subscribers.values
        subscribers = [:]
        for handler in handlers { handler(.connectionClosed) }
    }
}

// MARK: - Page

/// One page (tab) of the browser, attached through its own DevTools session.
final class DevToolsPage: Sendable {
    /// How many console lines a page keeps (the most recent ones).
    static let consoleLimit = 500

    /// The target id (Target.createTarget).
    let targetID: String
    /// The session id of the flat-mode attachment (Target.attachToTarget).
    let sessionID: String

    private let connection: DevToolsConnection
    private let console: ConsoleLog

    init(targetID: String, sessionID: String, connection: DevToolsConnection, console: ConsoleLog) {
        self.targetID = targetID
        self.sessionID = sessionID
        self.connection = connection
        self.console = console
    }

    /// Evaluates `expression` in the page (Runtime.evaluate), waiting for it if it is a promise,
    /// and returns its value as JSON (`undefined` as ``JSON/null``).
    ///
    /// - Throws: ``DevToolsError/javaScriptException(_:)`` with the exception's text if it throws
    ///   or its promise rejects; ``DevToolsError/timedOut(_:)`` after `timeout`.
    func evaluate(_ expression: String, timeout: Duration = .seconds(30)) async throws(DevToolsError) -> JSONValue {
        let reply = try await connection.command(
            "Runtime.evaluate",
            ["expression": .string(expression), "awaitPromise": true, "returnByValue": true],
            session: sessionID, timeout: timeout
        )
        if let details = reply["exceptionDetails"] {
            throw .javaScriptException(Self.exceptionText(details))
        }
        guard let result = reply["result"] else { throw .unexpectedReply("Runtime.evaluate without a result") }
        if let value = result["value"] { return value }
        // NaN, ±Infinity, -0 and BigInt values have no JSON form; the protocol spells them out.
        if let text = result["unserializableValue"]?.stringValue {
            return Double(text).map(JSONValue.number) ?? .string(text)
        }
        return .null  // undefined, or a value (like a function) with no by-value form
    }

    /// The page's console output and uncaught exceptions, oldest first (at most ``consoleLimit``).
    func consoleMessages() -> [String] {
        console.lines
    }

    /// The text of Runtime.ExceptionDetails: the exception's description (message and stack) if it has one.
    static func exceptionText(_ details: JSONValue) -> String {
        details["exception"]?["description"]?.stringValue ?? details["exception"]?["value"]?.description
            ?? details["text"]?.stringValue ?? details.serialized
    }
}

/// The recent console lines of one page, filled from the connection's reader and read by callers.
final class ConsoleLog: @unchecked Sendable {  // Every stored property is guarded by `lock`.
    private let lock = NSLock()
    private var recent: [String] = []

    var lines: [String] { lock.withLock { recent } }

    /// Records Runtime.consoleAPICalled and Runtime.exceptionThrown events.
    func record(method: String, params: [String: JSONValue]) {
        let line: String
        switch method {
        case "Runtime.consoleAPICalled":
            let args = params["args"]?.arrayValue ?? []
            line = "\(params["type"]?.stringValue ?? "log"): " + args.map(Self.text(of:)).joined(separator: " ")
        case "Runtime.exceptionThrown":
            line = "exception: " + DevToolsPage.exceptionText(params["exceptionDetails"] ?? .null)
        default:
            return
        }
        lock.withLock {
            recent.append(line)
            if recent.count > DevToolsPage.consoleLimit { recent.removeFirst(recent.count - DevToolsPage.consoleLimit) }
        }
    }

    /// A Runtime.RemoteObject as console.log shows it: strings bare, other values as JSON,
    /// objects by their description.
    private static func text(of object: JSONValue) -> String {
        if let string = object["value"]?.stringValue { return string }
        if let value = object["value"] { return value.serialized }
        return object["unserializableValue"]?.stringValue ?? object["description"]?.stringValue ?? object["type"]?.stringValue ?? "?"
    }
}
