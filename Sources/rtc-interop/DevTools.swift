import Foundation
import SignalingClient

// A client for the Chrome DevTools Protocol (CDP): commands and replies matched by `id`, events
// routed by `sessionId`, over one WebSocketConnection to the browser target.
// Protocol reference: https://chromedevtools.github.io/devtools-protocol/

// MARK: - JSON

/// A JSON value: what DevTools messages are made of, and what ``DevToolsPage/evaluate(_:timeout:)`` returns.
enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var double: Double? { if case .number(let value) = self { value } else { nil } }
    /// The number, if it is an integer that fits `Int`.
    var int: Int? { double.flatMap { Int(exactly: $0) } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [JSON]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: JSON]? { if case .object(let value) = self { value } else { nil } }
    var isNull: Bool { self == .null }

    /// The member `key` of an object; `nil` for a missing member or a value that is not an object.
    subscript(key: String) -> JSON? { object?[key] }
    /// The element at `index` of an array; `nil` out of range or for a value that is not an array.
    subscript(index: Int) -> JSON? {
        guard let array, array.indices.contains(index) else { return nil }
        return array[index]
    }

    /// Parses JSON text; `nil` if it is not JSON.
    init?(parsing text: String) {
        guard let value = try? JSONDecoder().decode(JSON.self, from: Data(text.utf8)) else { return nil }
        self = value
    }

    /// The value as compact JSON text (keys sorted).
    var serialized: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSON value cannot fail: every case maps to a JSON type (non-finite numbers
        // become null, as in JavaScript's JSON.stringify).
        let data = (try? encoder.encode(self)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

extension JSON: Codable {
    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value) where value.isFinite: try container.encode(value)
        case .number: try container.encodeNil()
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension JSON: CustomStringConvertible {
    var description: String { serialized }
}

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    init(nilLiteral: ()) { self = .null }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(floatLiteral value: Double) { self = .number(value) }
    init(stringLiteral value: String) { self = .string(value) }
    init(arrayLiteral elements: JSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

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
    case event(method: String, params: [String: JSON])
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
        case replied(Result<[String: JSON], DevToolsError>)
        case waiting(CheckedContinuation<Result<[String: JSON], DevToolsError>, Never>)
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
        _ method: String, _ params: [String: JSON] = [:], session: String? = nil, timeout: Duration
    ) async throws(DevToolsError) -> [String: JSON] {
        guard !isClosed else { throw .closed }
        nextID += 1
        let id = nextID
        var message: [String: JSON] = ["id": .number(Double(id)), "method": .string(method), "params": .object(params)]
        if let session { message["sessionId"] = .string(session) }

        // Registered before sending: the reply may be dispatched while `send` is suspended.
        pending[id] = (method, .sent)
        do {
            try await socket.send(JSON.object(message).serialized)
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
        guard let message = JSON(parsing: text)?.object else { return }
        if let id = message["id"]?.int {
            guard let method = pending[id]?.method else { return }  // timed out already
            if let error = message["error"] {
                let failure = DevToolsError.commandFailed(
                    method: method, code: error["code"]?.int ?? 0, message: error["message"]?.string ?? error.serialized
                )
                resolve(id, with: .failure(failure))
            } else {
                resolve(id, with: .success(message["result"]?.object ?? [:]))
            }
        } else if let method = message["method"]?.string, let session = message["sessionId"]?.string {
            subscribers[session]?(.event(method: method, params: message["params"]?.object ?? [:]))
        }
    }

    private func resolve(_ id: Int, with result: Result<[String: JSON], DevToolsError>) {
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
    func evaluate(_ expression: String, timeout: Duration = .seconds(30)) async throws(DevToolsError) -> JSON {
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
        if let text = result["unserializableValue"]?.string {
            return Double(text).map(JSON.number) ?? .string(text)
        }
        return .null  // undefined, or a value (like a function) with no by-value form
    }

    /// The page's console output and uncaught exceptions, oldest first (at most ``consoleLimit``).
    func consoleMessages() -> [String] {
        console.lines
    }

    /// The text of Runtime.ExceptionDetails: the exception's description (message and stack) if it has one.
    static func exceptionText(_ details: JSON) -> String {
        details["exception"]?["description"]?.string ?? details["exception"]?["value"]?.description
            ?? details["text"]?.string ?? details.serialized
    }
}

/// The recent console lines of one page, filled from the connection's reader and read by callers.
final class ConsoleLog: @unchecked Sendable {  // Every stored property is guarded by `lock`.
    private let lock = NSLock()
    private var recent: [String] = []

    var lines: [String] { lock.withLock { recent } }

    /// Records Runtime.consoleAPICalled and Runtime.exceptionThrown events.
    func record(method: String, params: [String: JSON]) {
        let line: String
        switch method {
        case "Runtime.consoleAPICalled":
            let args = params["args"]?.array ?? []
            line = "\(params["type"]?.string ?? "log"): " + args.map(Self.text(of:)).joined(separator: " ")
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
    private static func text(of object: JSON) -> String {
        if let string = object["value"]?.string { return string }
        if let value = object["value"] { return value.serialized }
        return object["unserializableValue"]?.string ?? object["description"]?.string ?? object["type"]?.string ?? "?"
    }
}
