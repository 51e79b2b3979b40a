import Foundation

/// A child process with its stdout collected line by line; stopped by its own PID.
final class Child: @unchecked Sendable {
    // `lines` is guarded by `lock`; the rest is set once.
    private let process = Process()
    private let input = Pipe()
    private let lock = NSLock()
    private var lines: [String] = []
    private var partial = ""

    init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = input
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            lock.withLock {
                var parts = (partial + String(decoding: data, as: UTF8.self)).split(separator: "\n", omittingEmptySubsequences: false)
                partial = String(parts.removeLast())
                lines += parts.map(String.init)
            }
        }
        try process.run()
    }

    func writeLine(_ line: String) {
        try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8))
    }

    func closeInput() {
        try? input.fileHandleForWriting.close()
    }

    /// SIGTERM, if it still runs.
    func stop() {
        if process.isRunning { process.terminate() }
    }

    /// The first line from line `start` on matching `predicate`, waiting at most `timeout`.
    func waitForLine(
        after start: Int = 0, timeout: Duration = .seconds(30), _ predicate: @escaping (String) -> Bool
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = lock.withLock({ lines.dropFirst(start).first(where: predicate) }) { return line }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ChildError("no matching line within \(timeout); got \(lock.withLock { lines.suffix(20) })")
    }

    /// The first JSON line from line `start` on whose `event` is `name` and that matches `predicate`.
    func waitForEvent(
        _ name: String, after start: Int = 0, timeout: Duration = .seconds(30),
        where predicate: @escaping ([String: Any]) -> Bool = { _ in true }
    ) async throws -> [String: Any] {
        let line = try await waitForLine(after: start, timeout: timeout) { line in
            guard let object = Self.object(line), object["event"] as? String == name else { return false }
            return predicate(object)
        }
        return Self.object(line) ?? [:]
    }

    /// Every line so far.
    var output: [String] { lock.withLock { lines } }

    func waitForExit() async throws -> Int32 {
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning {
            guard ContinuousClock.now < deadline else { throw ChildError("still running after 30 s") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    static func object(_ line: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
    }
}

struct ChildError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
