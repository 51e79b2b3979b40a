import Foundation
import Testing

/// `rtc signal` and two `rtc join`s as a user runs them: real processes, the room
/// application of docs/signaling.md between them (chat and a checked file transfer).
@Suite("rtc signal and rtc join", .serialized)
struct RoomToolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    @Test(
        "two terminals in one room chat and send a file, checked by SHA-256",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)))
    func chatAndFile() async throws {
        let rtc = try RTC.binary()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rtc-room-\(getpid())")
        let received = directory.appendingPathComponent("received")
        try FileManager.default.createDirectory(at: received, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("payload.bin")
        var generator = SystemRandomNumberGenerator()
        let payload = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(payload).write(to: file)

        let signal = try Child(rtc, ["signal", "--port", "0"])
        defer { signal.stop() }
        let listening = try await signal.waitForLine { $0.hasPrefix("listening on http://127.0.0.1:") }
        let port = try #require(listening.split(separator: ":").last.flatMap { Int($0) })
        let url = "ws://127.0.0.1:\(port)/ws"

        let alice = try Child(
            rtc, ["join", "--signal", url, "--room", "r", "--peer", "alice", "--json", "--addresses", "loopback",
                  "--receive", received.path])
        defer { alice.stop() }
        _ = try await alice.waitForEvent("joined")
        let bob = try Child(
            rtc, ["join", "--signal", url, "--room", "r", "--peer", "bob", "--json", "--addresses", "loopback",
                  "--send", file.path, "--to", "alice"])
        defer { bob.stop() }
        _ = try await bob.waitForEvent("chat-open")
        _ = try await alice.waitForEvent("chat-open")
        bob.writeLine("hello alice")

        let chat = try await alice.waitForEvent("chat")
        #expect(chat["from"] as? String == "bob" && chat["text"] as? String == "hello alice")
        let got = try await alice.waitForEvent("file-received")
        #expect(got["ok"] as? Bool == true)
        #expect(got["size"] as? Int == payload.count)
        #expect(try Data(contentsOf: received.appendingPathComponent("payload.bin")) == Data(payload))
        let sent = try await bob.waitForEvent("file-sent")
        #expect(sent["ok"] as? Bool == true && sent["to"] as? String == "alice")

        // End of input leaves the room; the other side hears it; both exit 0.
        bob.closeInput()
        #expect(try await bob.waitForExit() == 0)
        _ = try await alice.waitForEvent("peer-left")
        alice.closeInput()
        #expect(try await alice.waitForExit() == 0)
        signal.stop()
        #expect(try await signal.waitForExit() == 0)
    }
}
