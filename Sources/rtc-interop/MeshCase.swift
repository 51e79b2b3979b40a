import Foundation
import Signaling

/// Two headless Chromium pages (the browser page of `rtc signal`) and one `rtc join` in one
/// room: every participant receives every chat line; a file goes from a browser to the Swift
/// peer and back intact.
struct MeshCase {
    let chromium: String
    let rtc: URL

    func run(into report: Report) async {
        let peer = "browser mesh"
        let role = "2 Chromium pages + rtc join"
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            report.skip(peer: peer, role: role, "all cases", because: "no Chromium at \(chromium)")
            return
        }
        let mesh = Mesh(rtc: rtc, chromium: chromium)
        await report.run(peer: peer, role: role, "all three connect through rtc signal") { try await mesh.connect() }
        if mesh.connected {
            await report.run(peer: peer, role: role, "every participant receives every chat line") { try await mesh.chat() }
            await report.run(peer: peer, role: role, "file browser → rtc join → browser, SHA-256 intact") {
                try await mesh.fileRoundTrip()
            }
        } else {
            report.skip(peer: peer, role: role, "chat and file", because: "the mesh did not connect")
        }
        await mesh.close()
    }
}

private final class Mesh: @unchecked Sendable {
    // Used by one case at a time, in order.
    let rtc: URL
    let chromium: String
    var signal: ChildProcess?
    var join: ChildProcess?
    var browser: ChromiumBrowser?
    var pages: [String: DevToolsPage] = [:]
    var receiveDirectory: URL?
    var connected = false

    init(rtc: URL, chromium: String) {
        self.rtc = rtc
        self.chromium = chromium
    }

    func connect() async throws {
        let (signal, port) = try await startSignalServer(rtc)
        self.signal = signal
        let browser = try await ChromiumBrowser.launch(executable: chromium, timeout: .seconds(20))
        self.browser = browser
        for name in ["browserA", "browserB"] {
            let page = try await browser.openPage(url: "http://127.0.0.1:\(port)/?room=mesh&peer=\(name)")
            pages[name] = page
            try await waitUntil(10, "\(name) joined") { try await page.evaluate("app.id").stringValue == name }
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtc-interop-mesh-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        receiveDirectory = directory
        join = try ChildProcess(
            rtc,
            [
                "join", "--signal", "ws://127.0.0.1:\(port)/ws", "--room", "mesh", "--peer", "swift", "--json",
                "--addresses", "loopback", "--receive", directory.path,
            ])
        try await waitUntil(30, "every pair connected with chat open") {
            for page in self.pages.values {
                let open = try await page.evaluate(
                    "app.peers().filter(p => p.connectionState === 'connected' && p.chatOpen).length")
                guard open.doubleValue == 2 else { return false }
            }
            return Set(self.joinEvents("chat-open").compactMap { $0["peer"] as? String }) == ["browserA", "browserB"]
        }
        connected = true
    }

    func chat() async throws {
        guard let join else { throw CaseFailure("no rtc join") }
        for (name, page) in pages {
            _ = try await page.evaluate("app.sendChat('hello from \(name)')")
        }
        join.writeLine("hello from swift")
        let everyone = ["browserA", "browserB", "swift"]
        try await waitUntil(15, "every line everywhere") {
            for (name, page) in self.pages {
                for other in everyone where other != name {
                    let seen = try await page.evaluate(
                        "app.chatLog.some(l => l.from === '\(other)' && l.text === 'hello from \(other)')")
                    guard seen.boolValue == true else { return false }
                }
            }
            let lines = self.joinEvents("chat").compactMap { $0["text"] as? String }
            return lines.contains("hello from browserA") && lines.contains("hello from browserB")
        }
    }

    func fileRoundTrip() async throws {
        guard let join, let page = pages["browserA"], let directory = receiveDirectory else {
            throw CaseFailure("the mesh is not up")
        }
        // 4 MiB of random bytes, made and kept in the page.
        let sent = try await page.evaluate(
            """
            (async () => {
              const bytes = new Uint8Array(4 << 20);
              for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
              return await app.sendFile('swift', 'mesh.bin', bytes);
            })()
            """, timeout: .seconds(60))
        try require(sent["ok"]?.boolValue == true, "the browser's send failed: \(sent)")
        guard let digest = sent["sha256"]?.stringValue else { throw CaseFailure("no digest from the browser: \(sent)") }
        try await waitUntil(30, "rtc join received mesh.bin") {
            self.joinEvents("file-received").contains { $0["name"] as? String == "mesh.bin" }
        }
        let received = joinEvents("file-received").first { $0["name"] as? String == "mesh.bin" }
        try require(received?["ok"] as? Bool == true && received?["sha256"] as? String == digest, "rtc join: \(received ?? [:])")
        join.writeLine("/send \(directory.appendingPathComponent("mesh.bin").path) browserA")
        try await waitUntil(30, "browserA received it back") {
            try await page.evaluate("app.receivedFiles.some(f => f.name === 'mesh.bin')").boolValue == true
        }
        let back = try await page.evaluate("app.receivedFiles.find(f => f.name === 'mesh.bin')")
        try require(back["ok"]?.boolValue == true && back["sha256"]?.stringValue == digest, "browserA got \(back)")
    }

    func close() async {
        join?.closeInput()
        await join?.stop(after: 10)
        await browser?.close()
        await signal?.stop(after: 0)
        if let receiveDirectory { try? FileManager.default.removeItem(at: receiveDirectory) }
    }

    private func joinEvents(_ name: String) -> [[String: Any]] {
        (join?.objects ?? []).filter { $0["event"] as? String == name }
    }
}
