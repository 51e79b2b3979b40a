import Foundation
import Testing
import TestSupport

/// `rtc soak` over a bounded number of cycles: what `make reliability` runs a thousand times
/// (docs/reliability.md, "Soak"), short enough for every `make test`.
@Suite("rtc soak")
struct SoakToolTests {
    static let inNamespace = ProcessInfo.processInfo.environment["RTC_LOOPBACK_NAMESPACE"] == "1"
    /// Under scripts/sanitize.sh cycles run up to ~50 times slower, and a sanitizer's allocator
    /// keeps freed memory in quarantine, so RSS says nothing there (the script checks leaks with
    /// LeakSanitizer instead).
    static let underSanitizer = Sanitizer.active != nil

    @Test(
        "100 open/close cycles: fds, threads and SCTP associations back to the baseline, RSS within its bound",
        .enabled(if: inNamespace, "needs a loopback-only network namespace (run as root through make test)"),
        .timeLimit(.minutes(5)))
    func hundredCycles() throws {
        var arguments = ["soak", "--cycles", "100", "--sample-every", "50"]
        if Self.underSanitizer {
            print("rtc soak: under a sanitizer, 20 cycles and RSS not bounded (quarantined frees; LeakSanitizer checks leaks)")
            arguments = ["soak", "--cycles", "20", "--sample-every", "10", "--rss-limit-mib", "4096"]
        }
        let run = try RTC.run(arguments, timeLimit: .seconds(270))
        #expect(run.status == 0, "rtc soak failed: \(run.errorText)")
        let output = String(decoding: run.standardOutput, as: UTF8.self)
        let report = try #require(Child.object(output.trimmingCharacters(in: .whitespacesAndNewlines)), "no JSON line in: \(output)")
        #expect(report["ok"] as? Bool == true, "\(report)")
        #expect(report["cycles"] as? Int == (Self.underSanitizer ? 20 : 100))
        let before = try #require(report["before"] as? [String: Any])
        let after = try #require(report["after"] as? [String: Any])
        #expect((after["fds"] as? Int ?? .max) <= (before["fds"] as? Int ?? 0), "\(report)")
        // Threads other than the Swift runtime's worker pool (which libdispatch sizes with the
        // load; `rtc soak` bounds it) must all be gone.
        func ownThreads(_ figures: [String: Any]) -> Int? {
            guard let threads = figures["threads"] as? Int, let workers = figures["runtime_worker_threads"] as? Int else { return nil }
            return threads - workers
        }
        #expect((ownThreads(after) ?? .max) <= (ownThreads(before) ?? 0), "\(report)")
        #expect(after["sctp_associations"] as? Int == before["sctp_associations"] as? Int, "\(report)")
        // The warm-up cycle, then a sample half-way and one at the end.
        #expect((report["samples"] as? [Any])?.count == 3, "\(report)")
        print("rtc soak: \(output)")
    }
}
