#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import ICETransport
import NIOConcurrencyHelpers

/// Writes whole lines to standard output from any task, one at a time, flushed at once: the
/// `rtc peer` protocol is read line by line by another process.
final class LineWriter: Sendable {
    private let lock = NIOLock()

    func write(_ json: JSON) {
        let line = json.compact() + "\n"
        lock.withLock { writeFully(STDOUT_FILENO, line) }
    }
}

/// The signaling half of standard output: our description first, then the candidate lines,
/// which gathering may produce before the description is written (they wait until it is).
final class SignalingOutput: Sendable {
    private let writer: LineWriter
    private let state = NIOLockedValueBox<(descriptionSent: Bool, waiting: [JSON])>((false, []))

    init(writer: LineWriter) {
        self.writer = writer
    }

    func sendDescription(_ description: JSON) {
        let waiting = state.withLockedValue { state in
            // Written under the lock, so no candidate line can slip in ahead of it.
            writer.write(description)
            state.descriptionSent = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for line in waiting { writer.write(line) }
    }

    func sendAfterDescription(_ line: JSON) {
        let sendNow = state.withLockedValue { state in
            if !state.descriptionSent { state.waiting.append(line) }
            return state.descriptionSent
        }
        if sendNow { writer.write(line) }
    }
}

/// Standard input as an asynchronous sequence of lines, read on a thread of its own (a blocked
/// read must not hold a task's thread). Finishes at end of input.
func standardInputLines() -> AsyncStream<String> {
    let (lines, continuation) = AsyncStream.makeStream(of: String.self)
    Thread.detachNewThread {
        while let line = readLine(strippingNewline: true) {
            continuation.yield(line)
        }
        continuation.finish()
    }
    return lines
}

/// A JSON object from one line, or nil for anything else (the protocol ignores non-JSON lines).
func parseJSONObject(_ line: String) -> [String: Any]? {
    guard let data = line.data(using: .utf8), !data.isEmpty else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

/// CPU time (user + system) this process has used.
func processCPUTime() -> Duration {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func duration(_ time: timeval) -> Duration {
        .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec))
    }
    return duration(usage.ru_utime) + duration(usage.ru_stime)
}

/// The process's resident set size now, in bytes: `/proc/self/statm` on Linux; elsewhere
/// the peak (`ru_maxrss`), the closest portable figure.
func residentBytes() -> Int {
    #if os(Linux)
    if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
        let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
    {
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
    return 0
    #else
    var usage = rusage()
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)  // bytes on macOS
    #endif
}

extension Duration {
    /// The duration in seconds, as a floating-point number for reports.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// The host addresses a local tool should gather on: every non-loopback interface that is up,
/// or loopback when there is none (a loopback-only network namespace, a test container).
func defaultHostAddresses() -> ICEHostAddressPolicy {
    let automatic = ICEHostAddressPolicy.automatic()
    if let addresses = try? automatic.addresses(), !addresses.isEmpty { return automatic }
    return .loopback
}
