import Foundation
import Testing

/// Two `rtc peer` processes whose stdout lines are cross-piped into each other's stdin, exactly
/// as an interop driver for another stack would connect them (docs/rtc-peer.md).
@Suite("rtc peer protocol", .serialized)
struct PeerProtocolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"

    struct Pairing: Sendable, CustomStringConvertible {
        var offererMode: String
        var answererMode: String
        var trickle: Bool
        var description: String { "offerer \(offererMode), answerer \(answererMode), trickle \(trickle)" }
    }

    static let pairings: [Pairing] = [true, false].flatMap { trickle in
        [("ping", "echo"), ("echo", "ping"), ("source", "sink"), ("sink", "source")].map {
            Pairing(offererMode: $0.0, answererMode: $0.1, trickle: trickle)
        }
    }

    @Test(
        "two rtc peer processes connect and pass the mode's traffic",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(2)),
        arguments: pairings)
    func crossPiped(pairing: Pairing) throws {
        let common = ["--bytes", String(8 << 20), "--msg", "16384", "--count", "20", "--trickle", String(pairing.trickle), "--timeout", "30"]
        let results = try PeerDriver.run(
            offerer: ["peer", "--role", "offerer", "--mode", pairing.offererMode] + common,
            answerer: ["peer", "--role", "answerer", "--mode", pairing.answererMode] + common)
        for (name, result) in [("offerer", results.offerer), ("answerer", results.answerer)] {
            #expect(result.status == 0, "\(name) exited \(result.status): \(result.errorText)")
            let last = try #require(result.lines.last.flatMap(PeerDriver.object), "\(name) printed no result line")
            #expect(last["type"] as? String == "result")
            #expect(last["ok"] as? Bool == true, "\(name): \(last)")
            #expect(last["role"] as? String == name)
            let mode = name == "offerer" ? pairing.offererMode : pairing.answererMode
            #expect(last["mode"] as? String == mode)
            if mode == "source" || mode == "sink" {
                #expect(last["bytes"] as? Int == 8 << 20)
            }
            if mode == "ping" {
                #expect(last["messages"] as? Int == 20)
                #expect((last["rtt_ms"] as? [String: Any])?["median"] is Double)
            }
            // Signaling lines: the description first; candidate lines only with trickle.
            let types = result.lines.compactMap(PeerDriver.object).compactMap { $0["type"] as? String }
            #expect(types.first == (name == "offerer" ? "offer" : "answer"))
            #expect(types.contains("candidate") == pairing.trickle)
        }
    }

    @Test(
        "bad arguments and an unreachable peer give clean errors and the documented exit statuses",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(1)))
    func failures() throws {
        let badArgument = try RTC.run(["peer", "--role", "sideways"])
        #expect(badArgument.status != 0)
        #expect(!badArgument.errorText.isEmpty)
        // Nobody answers the offer: the peer times out with status 2 and a result line saying so.
        let alone = try RTC.run(["peer", "--role", "offerer", "--timeout", "2"])
        #expect(alone.status == 2)
        let lines = String(decoding: alone.standardOutput, as: UTF8.self).split(separator: "\n").map(String.init)
        let result = try #require(lines.last.flatMap(PeerDriver.object))
        #expect(result["ok"] as? Bool == false)
        #expect((result["error"] as? String)?.contains("timeout") == true)
    }
}

/// Cross-pipes two `rtc peer` processes.
enum PeerDriver {
    struct Output {
        var status: Int32
        var lines: [String]
        var errorText: String
    }

    static func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }

    static func run(offerer: [String], answerer: [String]) throws -> (offerer: Output, answerer: Output) {
        let binary = try RTC.binary()
        let processes = [Process(), Process()]
        let stdins = [Pipe(), Pipe()]
        let stdouts = [Pipe(), Pipe()]
        let stderrs = [Pipe(), Pipe()]
        for (index, arguments) in [offerer, answerer].enumerated() {
            processes[index].executableURL = binary
            processes[index].arguments = arguments
            processes[index].standardInput = stdins[index]
            processes[index].standardOutput = stdouts[index]
            processes[index].standardError = stderrs[index]
        }
        let collected = [LineCollector(), LineCollector()]
        let errors = [LineCollector(), LineCollector()]
        for index in 0..<2 {
            let peer = stdins[1 - index].fileHandleForWriting
            let collector = collected[index]
            // Every line one peer prints goes to the other's stdin, as a driver would do.
            stdouts[index].fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                guard !data.isEmpty else {
                    handle.readabilityHandler = nil
                    return
                }
                collector.append(data)
                try? peer.write(contentsOf: data)
            }
            let errorCollector = errors[index]
            stderrs[index].fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                if data.isEmpty { handle.readabilityHandler = nil } else { errorCollector.append(data) }
            }
        }
        for process in processes { try process.run() }
        let deadline = ContinuousClock.now + .seconds(90)
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        for process in processes where process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.1)  // let the last reads land
        let outputs = (0..<2).map { index in
            Output(status: processes[index].terminationStatus, lines: collected[index].lines, errorText: errors[index].text)
        }
        return (outputs[0], outputs[1])
    }
}

/// Bytes from a pipe, collected from its handler thread.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()

    func append(_ more: Data) {
        lock.lock()
        data.append(more)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    var lines: [String] { text.split(separator: "\n").map(String.init) }
}
