#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// How one interop case ended.
enum Outcome: Sendable {
    case passed
    case failed(String)
    /// The case could not run here (no namespace, a peer not installable): never a pass.
    case skipped(String)
}

/// One row of the interop table.
struct CaseResult: Sendable {
    var peer: String
    var role: String
    var name: String
    var outcome: Outcome
    var seconds: Double
}

/// Collects results, printing each as it finishes, and the table and totals at the end.
final class Report {
    private(set) var results: [CaseResult] = []

    /// Runs one case, timing it; a thrown error is the case's failure.
    func run(peer: String, role: String, _ name: String, _ body: () async throws -> Void) async {
        let started = ContinuousClock.now
        let outcome: Outcome
        do {
            try await body()
            outcome = .passed
        } catch let skip as SkipCase {
            outcome = .skipped(skip.reason)
        } catch {
            outcome = .failed("\(error)")
        }
        record(CaseResult(peer: peer, role: role, name: name, outcome: outcome, seconds: started.duration(to: .now).seconds))
    }

    /// Records a case that cannot run.
    func skip(peer: String, role: String, _ name: String, because reason: String) {
        record(CaseResult(peer: peer, role: role, name: name, outcome: .skipped(reason), seconds: 0))
    }

    private func record(_ result: CaseResult) {
        results.append(result)
        let verdict: String
        switch result.outcome {
        case .passed: verdict = "passed"
        case .failed(let why): verdict = "FAILED: \(why)"
        case .skipped(let why): verdict = "skipped: \(why)"
        }
        log("\(result.peer) \(result.role) \(result.name): \(verdict) (\(String(format: "%.2f", result.seconds)) s)")
    }

    var failed: Int { results.filter { if case .failed = $0.outcome { true } else { false } }.count }
    var passed: Int { results.filter { if case .passed = $0.outcome { true } else { false } }.count }
    var skipped: Int { results.count - failed - passed }

    /// The table (peer, role, case, result, time) in Markdown, then the totals line.
    func table() -> String {
        var lines = ["| peer | role | case | result | time |", "|---|---|---|---|---|"]
        for result in results {
            let verdict: String
            switch result.outcome {
            case .passed: verdict = "passed"
            case .failed(let why): verdict = "FAILED (\(why.prefix(120)))"
            case .skipped(let why): verdict = "skipped (\(why.prefix(120)))"
            }
            lines.append(
                "| \(result.peer) | \(result.role) | \(result.name) | \(verdict) | \(String(format: "%.2f", result.seconds)) s |")
        }
        var totals = "\(passed) passed, \(failed) failed"
        if skipped > 0 { totals += ", \(skipped) skipped" }
        return lines.joined(separator: "\n") + "\n\n" + totals
    }
}

/// Thrown by a case that finds it cannot run here.
struct SkipCase: Error {
    var reason: String
}

/// A case's failure, with what was expected.
struct CaseFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Fails the case unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(CaseFailure) {
    if !condition { throw CaseFailure(message()) }
}

/// Progress lines go to standard error; the table goes to standard output.
func log(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
