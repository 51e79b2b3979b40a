import Foundation
import NIOPosix
import SignalingClient

/// A headless Chromium this process started, driven over the DevTools protocol.
///
/// ``launch(executable:timeout:)`` starts it with a fresh profile in a temporary directory and
/// connects to its browser target; ``openPage(url:timeout:)`` opens pages; ``close()`` stops it
/// (killing it by its PID if it does not exit) and removes the directory.
actor ChromiumBrowser {
    /// Debian's real binary: the `/usr/bin/chromium` wrapper adds flags of its own.
    static let defaultExecutable = "/usr/lib/chromium/chromium"
    /// How long Browser.close may take before the browser is killed.
    static let exitGrace: Duration = .seconds(3)
    /// The largest DevTools message accepted: replies carry whole evaluation results.
    static let maxMessageBytes = 64 << 20
    /// How many lines ``logTail`` shows.
    static let logTailLines = 40

    /// The browser process's id.
    nonisolated let pid: Int32
    /// The fresh profile directory; it also holds `chromium.log`.
    nonisolated let userDataDirectory: String

    private let process: Process
    private let connection: DevToolsConnection
    private var isClosed = false
    /// The log's tail as it was when close() removed the directory.
    private var finalLogTail: String?

    private init(process: Process, connection: DevToolsConnection, userDataDirectory: String) {
        self.process = process
        self.pid = process.processIdentifier
        self.connection = connection
        self.userDataDirectory = userDataDirectory
    }

    deinit {
        // A browser nobody closed must not outlive its driver.
        if !isClosed {
            kill(pid, SIGKILL)
            try? FileManager.default.removeItem(atPath: userDataDirectory)
        }
    }

    /// Starts Chromium and connects to it, all within `timeout`.
    ///
    /// The flags are the ones that make WebRTC work in a loopback-only network namespace (see
    /// FACTS.md): without `--allow-loopback-in-peer-connection` and a media permission
    /// (`--use-fake-ui-for-media-stream`) Chromium gathers no candidate there, and mDNS would hide
    /// the addresses it does gather.
    /// - Throws: ``DevToolsError/executableNotFound(_:)`` if there is no executable at
    ///   `executable`; ``DevToolsError/launchFailed(_:)`` (with the tail of the browser's log) if it
    ///   exits, does not open its DevTools endpoint within `timeout`, or refuses the connection.
    static func launch(executable: String = defaultExecutable, timeout: Duration) async throws(DevToolsError) -> ChromiumBrowser {
        guard FileManager.default.isExecutableFile(atPath: executable) else { throw .executableNotFound(executable) }
        let deadline = ContinuousClock.now + timeout
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("rtc-interop-chromium-\(UUID().uuidString)").path
        let logPath = directory + "/chromium.log"
        let log: FileHandle
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: logPath, contents: nil) else {
                throw CocoaError(.fileWriteUnknown)
            }
            log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw .launchFailed("cannot create \(logPath): \(error)")
        }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "--headless=new", "--no-sandbox", "--user-data-dir=\(directory)",
            "--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            // Port 0: Chromium picks a free port and writes it to DevToolsActivePort.
            "--remote-debugging-port=0", "--no-first-run", "--no-default-browser-check",
            "--enable-logging=stderr", "--v=0",
            "about:blank",
        ]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        do {
            try process.run()
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw .launchFailed("cannot run \(executable): \(error)")
        }
        // The child has its own copy of the descriptor.
        try? log.close()

        do throws(DevToolsError) {
            let (port, path) = try await waitForDevToolsEndpoint(in: directory, of: process, until: deadline)
            let socket: WebSocketConnection
            do {
                socket = try await WebSocketConnection.connect(
                    to: "ws://127.0.0.1:\(port)\(path)", maxMessageBytes: maxMessageBytes,
                    timeout: max(.zero, deadline - .now), group: MultiThreadedEventLoopGroup.singleton
                )
            } catch {
                throw .connection(error)
            }
            return ChromiumBrowser(process: process, connection: .start(on: socket), userDataDirectory: directory)
        } catch {
            kill(process.processIdentifier, SIGKILL)
            _ = await waitForExit(of: process, within: .seconds(2))
            let tail = tail(ofFileAt: logPath)
            try? FileManager.default.removeItem(atPath: directory)
            throw .launchFailed("\(error)\n--- chromium log (last lines) ---\n\(tail)")
        }
    }

    /// Opens `url` in a new page and returns once it has loaded, within `timeout`.
    ///
    /// The page starts at about:blank and is attached (flat mode, its own session), with the
    /// Runtime and Page domains enabled, before it navigates: so no console line and no load
    /// event is missed. Its load is recognised by the navigation's loader id, not by any load event.
    func openPage(url: String, timeout: Duration = .seconds(30)) async throws(DevToolsError) -> DevToolsPage {
        let deadline = ContinuousClock.now + timeout
        func remaining() -> Duration { max(.zero, deadline - .now) }

        let target = try await connection.command("Target.createTarget", ["url": "about:blank"], timeout: remaining())
        guard let targetID = target["targetId"]?.stringValue else { throw .unexpectedReply("Target.createTarget without targetId") }
        var subscribedSession: String?
        do throws(DevToolsError) {
            let attachment = try await connection.command(
                "Target.attachToTarget", ["targetId": .string(targetID), "flatten": true], timeout: remaining()
            )
            guard let sessionID = attachment["sessionId"]?.stringValue else {
                throw .unexpectedReply("Target.attachToTarget without sessionId")
            }
            subscribedSession = sessionID
            let console = ConsoleLog()
            // Loader ids of documents that finished loading; only read until this page's has.
            let (loads, loadSink) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(16))
            await connection.subscribe(session: sessionID) { event in
                switch event {
                case .event("Page.lifecycleEvent", let params):
                    if params["name"]?.stringValue == "load", let loaderID = params["loaderId"]?.stringValue { loadSink.yield(loaderID) }
                case .event(let method, let params):
                    console.record(method: method, params: params)
                case .connectionClosed:
                    loadSink.finish()
                }
            }
            for method in ["Runtime.enable", "Page.enable"] {
                _ = try await connection.command(method, session: sessionID, timeout: remaining())
            }
            _ = try await connection.command(
                "Page.setLifecycleEventsEnabled", ["enabled": true], session: sessionID, timeout: remaining()
            )
            let navigation = try await connection.command(
                "Page.navigate", ["url": .string(url)], session: sessionID, timeout: remaining()
            )
            if let errorText = navigation["errorText"]?.stringValue {
                throw .commandFailed(method: "Page.navigate", code: 0, message: "\(url): \(errorText)")
            }
            guard let loaderID = navigation["loaderId"]?.stringValue else {
                throw .unexpectedReply("Page.navigate to \(url) started no new document")
            }
            try await Self.waitForLoad(of: loaderID, in: loads, within: remaining(), url: url)
            loadSink.finish()
            return DevToolsPage(targetID: targetID, sessionID: sessionID, connection: connection, console: console)
        } catch {
            // Leave no half-opened page behind.
            if let subscribedSession { await connection.unsubscribe(session: subscribedSession) }
            _ = try? await connection.command("Target.closeTarget", ["targetId": .string(targetID)], timeout: .seconds(2))
            throw error
        }
    }

    /// Closes the browser: Browser.close, then SIGKILL by its PID if it is still running after
    /// ``exitGrace``; then removes its profile directory. Idempotent.
    func close() async {
        guard !isClosed else { return }
        isClosed = true
        let deadline = ContinuousClock.now + Self.exitGrace
        // The browser may close the connection before it replies: either way it is shutting down.
        _ = try? await connection.command("Browser.close", timeout: Self.exitGrace)
        if !(await Self.waitForExit(of: process, within: max(.zero, deadline - .now))) {
            kill(pid, SIGKILL)  // by the PID this process started, never by name
            _ = await Self.waitForExit(of: process, within: .seconds(2))
        }
        await connection.close()
        finalLogTail = Self.tail(ofFileAt: userDataDirectory + "/chromium.log")
        try? FileManager.default.removeItem(atPath: userDataDirectory)
    }

    /// The last ``logTailLines`` lines of the browser's stderr log, for failure reports.
    var logTail: String {
        finalLogTail ?? Self.tail(ofFileAt: userDataDirectory + "/chromium.log")
    }

    // MARK: Helpers

    /// Waits for `<user-data-dir>/DevToolsActivePort`: line 1 the port, line 2 the browser
    /// target's WebSocket path.
    private static func waitForDevToolsEndpoint(
        in directory: String, of process: Process, until deadline: ContinuousClock.Instant
    ) async throws(DevToolsError) -> (port: Int, path: String) {
        let file = directory + "/DevToolsActivePort"
        while true {
            // Chromium may be between creating the file and writing it: read until both lines parse.
            if let text = try? String(contentsOfFile: file, encoding: .utf8), let endpoint = parseActivePort(text) {
                return endpoint
            }
            guard process.isRunning else {
                throw .launchFailed("exited with status \(process.terminationStatus) before opening its DevTools endpoint")
            }
            guard ContinuousClock.now < deadline else { throw .timedOut("waiting for \(file)") }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Parses DevToolsActivePort; `nil` unless it holds a port and a whole browser path
    /// (`/devtools/browser/` and a 36-character UUID).
    static func parseActivePort(_ text: String) -> (port: Int, path: String)? {
        let lines = text.split(separator: "\n")
        guard lines.count >= 2, let port = Int(lines[0]), (1...65535).contains(port) else { return nil }
        let path = String(lines[1])
        let prefix = "/devtools/browser/"
        guard path.hasPrefix(prefix) else { return nil }
        let id = path.dropFirst(prefix.count)
        guard id.count == 36, id.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        return (port, path)
    }

    /// Waits until the load of the document `loaderID` (its lifecycle "load" event).
    private static func waitForLoad(
        of loaderID: String, in loads: AsyncStream<String>, within timeout: Duration, url: String
    ) async throws(DevToolsError) {
        let loaded: Bool? = await withTaskGroup(of: Bool?.self) { group in
            group.addTask {
                for await loaded in loads where loaded == loaderID { return true }
                return false  // the connection closed
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
        switch loaded {
        case true?: return
        case false?: throw .closed
        case nil: throw .timedOut("load of \(url)")
        }
    }

    /// Polls `process` until it has exited or `limit` passed; true if it exited.
    private static func waitForExit(of process: Process, within limit: Duration) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !process.isRunning
    }

    private static func tail(ofFileAt path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "(no log at \(path))" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(logTailLines).joined(separator: "\n")
    }
}
