import DataChannel
import Foundation
import Logging
import NIOConcurrencyHelpers
import Signaling
import SignalingClient
import SignalingServer
import ToolSupport
import WebRTC

/// Our peer ↔ headless Chromium through `rtc signal`, with the browser as offerer and as
/// answerer, trickle both ways: messages of every size on ordered, unordered and
/// negotiated channels, large transfers both ways with SHA-256, channel close from each
/// side, peer connection close. The page is Tests/interop/chromium/interop.js.
struct ChromiumCases {
    let chromium: String
    let pages: URL
    let bigBytes: Int

    static let sizes = [0, 1, 1_024, 65_536, 262_144]

    func run(into report: Report) async {
        guard FileManager.default.isExecutableFile(atPath: chromium) else {
            for role in ["browser offerer", "browser answerer"] {
                report.skip(peer: "chromium", role: role, "all cases", because: "no Chromium at \(chromium) (apt-get install chromium)")
            }
            return
        }
        for browserOffers in [true, false] {
            await session(browserOffers: browserOffers, report: report)
        }
    }

    /// One browser, one Swift peer, one connection; the cases run on it in order.
    private func session(browserOffers: Bool, report: Report) async {
        let role = browserOffers ? "browser offerer" : "browser answerer"
        let session = Session()
        await report.run(peer: "chromium", role: role, "connect (trickle both ways)") {
            try await session.connect(browserOffers: browserOffers, pages: pages, chromium: chromium)
        }
        guard session.isConnected else {
            report.skip(peer: "chromium", role: role, "remaining cases", because: "the connection did not come up")
            await session.close()
            return
        }
        await report.run(peer: "chromium", role: role, "channel opened by the browser, message to us") {
            try await session.browserChannelMessage()
        }
        for ordered in [true, false] {
            for binary in [false, true] {
                let name = "\(ordered ? "ordered" : "unordered") \(binary ? "binary" : "text") echo of 0 B, 1 B, 1 KiB, 64 KiB, 256 KiB"
                await report.run(peer: "chromium", role: role, name) {
                    try await session.echo(ordered: ordered, binary: binary, sizes: Self.sizes)
                }
            }
        }
        await report.run(peer: "chromium", role: role, "negotiated channel (id 9)") {
            try await session.negotiated()
        }
        await report.run(peer: "chromium", role: role, "\(bigBytes >> 20) MiB to the browser, SHA-256") {
            try await session.sendToBrowser(bytes: bigBytes)
        }
        await report.run(peer: "chromium", role: role, "\(bigBytes >> 20) MiB from the browser, SHA-256") {
            try await session.receiveFromBrowser(bytes: bigBytes)
        }
        await report.run(peer: "chromium", role: role, "channel close from our side") {
            try await session.closeChannelFromUs()
        }
        await report.run(peer: "chromium", role: role, "channel close from the browser") {
            try await session.closeChannelFromBrowser()
        }
        await report.run(peer: "chromium", role: role, browserOffers ? "peer connection close by the browser" : "peer connection close by us") {
            try await session.closePeerConnection(byBrowser: browserOffers)
        }
        await session.close()
    }
}

/// The state of one browser session: the signaling server, the browser and its page, our room.
private final class Session: @unchecked Sendable {
    // Used from one case at a time, in order; the cases share it through this object.
    var server: SignalingServer?
    var browser: ChromiumBrowser?
    var page: DevToolsPage?
    var room: SignalingRoom?
    var peer: RoomPeer?
    var incoming: IncomingChannels?
    var isConnected = false

    func connect(browserOffers: Bool, pages: URL, chromium: String) async throws {
        // Quiet: stopping the server mid-connection logs cancellations that are expected here.
        var logger = Logger(label: "interop.signal")
        logger.logLevel = .critical
        let server = try await SignalingServer.start(
            SignalingServerConfiguration(port: 0, staticDirectories: [pages], logger: logger))
        self.server = server
        let url = "ws://127.0.0.1:\(server.port)/ws"
        let pageURL = "http://127.0.0.1:\(server.port)/interop.html?room=interop&peer=browser"
        var configuration = PeerConnectionConfiguration()
        configuration.hostAddresses = .loopback
        let browser = try await ChromiumBrowser.launch(executable: chromium, timeout: .seconds(20))
        self.browser = browser
        if browserOffers {
            // We are present first, so the browser is the newcomer and offers.
            room = try await SignalingRoom.join(url: url, room: "interop", peer: "swift", configuration: configuration)
            page = try await browser.openPage(url: pageURL)
        } else {
            page = try await browser.openPage(url: pageURL)
            _ = try await evaluate("interop.joined()")
            room = try await SignalingRoom.join(url: url, room: "interop", peer: "swift", configuration: configuration) {
                connection, _, isOfferer in
                if isOfferer { _ = try await connection.createDataChannel("echo-swift") }
            }
        }
        guard let room else { throw CaseFailure("no room") }
        let peer = try await within(20, "the browser's peer connection") {
            for await event in room.events {
                if case .peerAdded(let peer) = event { return peer }
            }
            throw CaseFailure("the room closed")
        }
        self.peer = peer
        try require(peer.isOfferer == !browserOffers, "we \(peer.isOfferer ? "offered" : "answered") against the rule")
        incoming = IncomingChannels(peer)
        try await waitUntil(20, "both sides connected") {
            let browserState = try await self.evaluate("interop.connectionState()").stringValue
            return peer.connection.connectionState == .connected && browserState == "connected"
        }
        isConnected = true
    }

    func browserChannelMessage() async throws {
        guard let incoming else { throw CaseFailure("no connection") }
        if let channel = try await incoming.channel(labelled: "echo-browser", within: 2, required: false) {
            // The browser offered and created echo-browser before its offer: it echoes what we send.
            let inbox = Inbox(channel)
            try await channel.send("hello browser")
            try require(try await inbox.next() == .text("hello browser"), "no echo on the browser's channel")
        } else {
            _ = try await evaluate("interop.createChannel('echo-from-browser')")
            let channel = try await incoming.channel(labelled: "echo-from-browser", within: 10)
            let inbox = Inbox(channel)
            _ = try await evaluate("interop.sendOn('echo-from-browser', 'hello swift')")
            try require(try await inbox.next() == .text("hello swift"), "the browser's message did not arrive")
        }
    }

    func echo(ordered: Bool, binary: Bool, sizes: [Int]) async throws {
        let label = "echo-\(ordered ? "o" : "u")-\(binary ? "b" : "t")"
        let channel = try await openChannel(label, DataChannelOptions(ordered: ordered))
        let inbox = Inbox(channel)
        for size in sizes {
            let message: DataChannelMessage = binary ? .binary(randomBytes(size)) : .text(String(repeating: "a", count: size))
            try await channel.send(message)
            let echoed = try await inbox.next()
            try require(echoed == message, "\(size) B: the echo differs (\(echoed.byteCount) B)")
        }
        channel.close()
    }

    func negotiated() async throws {
        guard let peer else { throw CaseFailure("no connection") }
        _ = try await evaluate("interop.createChannel('echo-negotiated', {negotiated: true, id: 9})")
        let channel = try await peer.connection.createDataChannel(
            "echo-negotiated", options: DataChannelOptions(negotiated: true, id: 9))
        try await waitUntil(10, "the negotiated channel open") { channel.readyState == .open }
        let inbox = Inbox(channel)
        try await channel.send("negotiated")
        try require(try await inbox.next() == .text("negotiated"), "no echo on the negotiated channel")
        channel.close()
    }

    func sendToBrowser(bytes: Int) async throws {
        let channel = try await openChannel("sink:\(bytes)", DataChannelOptions())
        let inbox = Inbox(channel)
        let hasher = SHA256Hasher()
        var sent = 0
        while sent < bytes {
            let chunk = randomBytes(min(65_536, bytes - sent))
            hasher.update(chunk)
            try await channel.send(chunk)
            sent += chunk.count
        }
        let verdict = try await inbox.next(within: 120)
        try require(verdict == .text("sha256:" + hasher.finish()), "the browser's digest differs: \(verdict)")
        channel.close()
    }

    func receiveFromBrowser(bytes: Int) async throws {
        guard let incoming else { throw CaseFailure("no connection") }
        let label = "source:\(bytes):65536"
        _ = try await evaluate("interop.createChannel('\(label)')")
        let channel = try await incoming.channel(labelled: label, within: 10)
        let received = try await within(180, "\(bytes) bytes from the browser") { () -> (count: Int, digest: String, verdict: String?) in
            let hasher = SHA256Hasher()
            var count = 0
            for await message in channel.messages {
                switch message {
                case .binary(let chunk):
                    hasher.update(chunk)
                    count += chunk.count
                case .text(let text):
                    return (count, hasher.finish(), text)
                }
            }
            return (count, hasher.finish(), nil)
        }
        try require(received.count == bytes, "received \(received.count) of \(bytes) bytes")
        try require(received.verdict == "sha256:" + received.digest, "the browser's digest differs: \(received.verdict ?? "none")")
        channel.close()
    }

    func closeChannelFromUs() async throws {
        let channel = try await openChannel("echo-close-ours", DataChannelOptions())
        channel.close()
        try await waitUntil(10, "our side closed") { channel.readyState == .closed }
        try await waitUntil(10, "the browser's side closed") {
            try await self.evaluate("interop.channelState('echo-close-ours')").stringValue == "closed"
        }
    }

    func closeChannelFromBrowser() async throws {
        guard let incoming else { throw CaseFailure("no connection") }
        _ = try await evaluate("interop.createChannel('echo-close-browser')")
        let channel = try await incoming.channel(labelled: "echo-close-browser", within: 10)
        _ = try await evaluate("interop.closeChannel('echo-close-browser')")
        try await waitUntil(10, "our side closed") { channel.readyState == .closed }
        try await waitUntil(10, "the browser's side closed") {
            try await self.evaluate("interop.channelState('echo-close-browser')").stringValue == "closed"
        }
    }

    func closePeerConnection(byBrowser: Bool) async throws {
        guard let peer else { throw CaseFailure("no connection") }
        let channel = try await openChannel("echo-last", DataChannelOptions())
        if byBrowser {
            _ = try await evaluate("interop.closePeer()")
            try await waitUntil(40, "our connection to leave connected and the channel to close") {
                peer.connection.connectionState != .connected && channel.readyState == .closed
            }
        } else {
            await peer.connection.close()
            try require(peer.connection.connectionState == .closed, "our state is \(peer.connection.connectionState)")
            try await waitUntil(40, "the browser's channel to close") {
                try await self.evaluate("interop.channelState('echo-last')").stringValue == "closed"
            }
        }
    }

    func close() async {
        await room?.close()
        await browser?.close()
        await server?.stop()
    }

    // MARK: - Helpers

    @discardableResult
    func evaluate(_ expression: String) async throws -> JSONValue {
        guard let page else { throw CaseFailure("no page") }
        return try await page.evaluate(expression)
    }

    /// Opens a channel from our side and waits for it to be open on both.
    func openChannel(_ label: String, _ options: DataChannelOptions) async throws -> DataChannel {
        guard let peer else { throw CaseFailure("no connection") }
        let channel = try await peer.connection.createDataChannel(label, options: options)
        try await waitUntil(10, "channel \(label) open") {
            let browserSide = try await self.evaluate("interop.channelState(\(JSONValue.string(label).serialized))").stringValue
            return channel.readyState == .open && browserSide == "open"
        }
        return channel
    }
}

/// The channels the browser opens, kept by label until a case takes them.
private final class IncomingChannels: Sendable {
    private let channels = NIOLockedValueBox<[String: DataChannel]>([:])
    private let reader: Task<Void, Never>

    init(_ peer: RoomPeer) {
        let channels = channels
        reader = Task {
            for await event in peer.events {
                if case .dataChannel(let channel) = event {
                    channels.withLockedValue { $0[channel.label] = channel }
                }
            }
        }
    }

    deinit { reader.cancel() }

    /// The channel with this label, once the browser opened it.
    func channel(labelled label: String, within seconds: Double) async throws -> DataChannel {
        guard let channel = try await channel(labelled: label, within: seconds, required: true) else {
            throw CaseFailure("no channel \(label)")
        }
        return channel
    }

    func channel(labelled label: String, within seconds: Double, required: Bool) async throws -> DataChannel? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let channel = channels.withLockedValue({ $0.removeValue(forKey: label) }) { return channel }
            try await Task.sleep(for: .milliseconds(10))
        }
        if required { throw CaseFailure("timed out after \(Int(seconds)) s: the browser's channel \(label)") }
        return nil
    }
}
