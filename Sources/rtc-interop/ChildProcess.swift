import Foundation
import NIOConcurrencyHelpers

/// A child process whose standard output is collected line by line and whose standard
/// input takes lines; stopped by its own PID only.
final class ChildProcess: Sendable {
    private let process: Process
    private let input: Pipe
    private let collected = NIOLockedValueBox<(lines: [String], partial: String)>(([], ""))

    init(_ executable: URL, _ arguments: [String]) throws {
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let collected = collected
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            collected.withLockedValue { state in
                let text = state.partial + String(decoding: data, as: UTF8.self)
                var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                state.partial = parts.removeLast()
                state.lines += parts
            }
        }
        try process.run()
    }

    /// Every complete line printed so far.
    var lines: [String] { collected.withLockedValue { $0.lines } }

    /// The lines that parse as JSON objects.
    var objects: [[String: Any]] {
        lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    func writeLine(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// Waits up to `seconds` for the process to exit; then terminates it (SIGTERM to its PID).
    func stop(after seconds: Double) async {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// SIGTERM to its PID, if it still runs.
    func terminate() {
        if process.isRunning { process.terminate() }
    }

    /// Its last line as a JSON object, once it has exited (waiting at most 5 s on this thread).
    func waitForLastLine() -> [String: Any]? {
        let deadline = ContinuousClock.now + .seconds(5)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
        Thread.sleep(forTimeInterval: 0.05)  // let the last read land
        guard let last = lines.last else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String: Any]
    }
}
