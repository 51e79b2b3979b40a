#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Logging
import Signaling
import SignalingServer

/// `rtc-interop chromium-bench`: Chromium's figures for the side-by-side benchmarks
/// (Benchmarks/compare.py). Two RTCPeerConnections in one headless Chromium page
/// (Benchmarks/chromium/bench.js), served over http://127.0.0.1 so that Chromium gathers its
/// loopback candidate; one workload per run, printed as one JSON line: the page's result, plus
/// `cpu_s`, the CPU time all of the browser's processes spent on it.
struct ChromiumBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chromium-bench",
        abstract: "Measure two RTCPeerConnections in one headless Chromium page (inside a loopback-only namespace).",
        discussion: """
            setup: from creating the two connections to the channel open on both sides, --runs \
            times (median_ms, max_ms). throughput: --bytes in --msg-byte messages (MBps at the \
            receiver). messages: --count messages of --size bytes (messages_per_s). Every \
            message carries a sequence number that the receiver checks.
            """
    )

    enum Workload: String, ExpressibleByArgument, CaseIterable {
        case setup, throughput, messages
    }

    @Option(help: "The Chromium binary.")
    var chromium = ChromiumBrowser.defaultExecutable

    @Option(help: "The directory holding bench.html and bench.js.")
    var pages = "Benchmarks/chromium"

    @Option(help: "setup, throughput or messages.")
    var workload: Workload

    @Option(help: "setup: pairs to connect.")
    var runs = 50

    @Option(help: "throughput: bytes to send.")
    var bytes = 64 << 20

    @Option(help: "throughput: message size in bytes (8...262144).")
    var msg = 16_384

    @Option(help: "messages: how many.")
    var count = 100_000

    @Option(help: "messages: bytes each (8...262144).")
    var size = 100

    @Option(help: "Seconds the workload may take.")
    var timeout = 600

    func validate() throws {
        guard (8...262_144).contains(msg), (8...262_144).contains(size) else {
            throw ValidationError("--msg and --size must be within 8...262144")
        }
        guard runs > 0, bytes > 0, count > 0, timeout > 0 else {
            throw ValidationError("--runs, --bytes, --count and --timeout must be positive")
        }
    }

    func run() async throws {
        guard ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1" else {
            throw BenchFailure("not inside a loopback-only network namespace (run it through make bench as root)")
        }
        let directory = URL(fileURLWithPath: pages)
        guard FileManager.default.fileExists(atPath: directory.appendingPathComponent("bench.html").path) else {
            throw ValidationError("--pages: no bench.html in \(pages)")
        }
        var logger = Logger(label: "bench.pages")
        logger.logLevel = .critical
        let server = try await SignalingServer.start(
            SignalingServerConfiguration(port: 0, staticDirectories: [directory], logger: logger))
        // The browser and the server are stopped whatever happens, then the outcome is told.
        let outcome: Result<JSONValue, any Error>
        do {
            let browser = try await ChromiumBrowser.launch(executable: chromium, timeout: .seconds(30))
            do {
                outcome = .success(try await measure(in: browser, url: "http://127.0.0.1:\(server.port)/bench.html"))
            } catch {
                outcome = .failure(error)
            }
            await browser.close()
        } catch {
            outcome = .failure(error)
        }
        await server.stop()
        print(try outcome.get().serialized)
    }

    /// Opens the page, runs the workload and adds the browser's CPU time to its result.
    private func measure(in browser: ChromiumBrowser, url: String) async throws -> JSONValue {
        let page = try await browser.openPage(url: url)
        let expression = switch workload {
        case .setup: "bench.setup(\(runs))"
        case .throughput: "bench.throughput(\(bytes), \(msg))"
        case .messages: "bench.messages(\(count), \(size))"
        }
        let ticksBefore = ProcessTreeCPU.ticks(of: browser.pid)
        let value: JSONValue
        do {
            value = try await page.evaluate(expression, timeout: .seconds(timeout))
        } catch {
            let console = page.consoleMessages().suffix(10).joined(separator: "\n")
            throw BenchFailure("\(expression): \(error)\(console.isEmpty ? "" : "\n--- page console ---\n\(console)")")
        }
        guard var object = value.objectValue else { throw BenchFailure("\(expression) returned \(value), not an object") }
        object["cpu_s"] = .number(Double(ProcessTreeCPU.ticks(of: browser.pid) - ticksBefore) / ProcessTreeCPU.ticksPerSecond)
        return .object(object)
    }
}

/// Why a benchmark run failed, in one line (or a line and the page's last console lines).
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// CPU time (user + system) of a process and all its descendants, from /proc: Chromium runs
/// its renderer, network and GPU work in child processes of the browser process.
enum ProcessTreeCPU {
    /// The unit of ``ticks(of:)``.
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// Clock ticks of CPU the live processes of `root`'s tree have used; 0 where /proc is missing.
    static func ticks(of root: Int32) -> Int {
        var children: [Int32: [Int32]] = [:]
        var ticks: [Int32: Int] = [:]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let fields = statFields(stat)
            else { continue }
            children[fields.parent, default: []].append(pid)
            ticks[pid] = fields.ticks
        }
        var total = 0
        var pending = [root]
        while let pid = pending.popLast() {
            total += ticks[pid] ?? 0
            pending += children[pid] ?? []
        }
        return total
    }

    /// The parent and utime + stime of a /proc/PID/stat line (proc(5)): the fields after the
    /// command name, which is in parentheses and may itself hold spaces and parentheses.
    static func statFields(_ stat: String) -> (parent: Int32, ticks: Int)? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
        guard fields.count > 12, let parent = Int32(fields[1]), let user = Int(fields[11]), let system = Int(fields[12]) else {
            return nil
        }
        return (parent, user + system)
    }
}
