#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Two `rtc peer` processes with each one's standard output piped into the other's standard
/// input: the driver of docs/rtc-peer.md, used by `rtc bench --processes 2` and by the tests.
package enum PeerPair {
    /// What one peer printed and how it ended.
    package struct Output {
        package var status: Int32
        package var lines: [String]
        /// Its standard error, when captured.
        package var errorText: String

        /// The last line as a JSON object: the `result` line of a peer that finished.
        package var result: [String: Any]? {
            lines.last.flatMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }
    }

    /// One peer's program and arguments.
    package struct Command {
        package var executable: URL
        package var arguments: [String]

        package init(executable: URL, arguments: [String]) {
            self.executable = executable
            self.arguments = arguments
        }
    }

    /// Runs two `rtc peer`s of `executable` (see ``run(offerer:answerer:timeout:captureErrors:)``).
    package static func run(
        executable: URL, offerer: [String], answerer: [String], timeout: Duration, captureErrors: Bool = false
    ) throws -> (offerer: Output, answerer: Output) {
        try run(
            offerer: Command(executable: executable, arguments: offerer),
            answerer: Command(executable: executable, arguments: answerer),
            timeout: timeout, captureErrors: captureErrors)
    }

    /// Runs both peers (any programs that speak the protocol, such as another stack's driver)
    /// until they exit, or stops them after `timeout`. With `captureErrors` their standard error
    /// is collected, otherwise it goes to ours. `rewrite` sees each line on its way to the other
    /// peer (`fromOfferer` says whose it is) and returns what to pass on instead, or `nil` to drop
    /// it: a driver that routes the peers through an impairment relay rewrites their candidates.
    package static func run(
        offerer: Command, answerer: Command, timeout: Duration, captureErrors: Bool = false,
        rewrite: (@Sendable (_ line: String, _ fromOfferer: Bool) -> String?)? = nil
    ) throws -> (offerer: Output, answerer: Output) {
        // A peer that exits closes its stdin: writing the other's last lines there must fail
        // quietly, not raise SIGPIPE in the driver.
        ignoreBrokenPipes()
        let processes = [Process(), Process()]
        let inputs = [Pipe(), Pipe()]
        let outputs = [Pipe(), Pipe()]
        let collected = [Collected(), Collected()]
        let errors = [Collected(), Collected()]
        for (index, command) in [offerer, answerer].enumerated() {
            processes[index].executableURL = command.executable
            processes[index].arguments = command.arguments
            processes[index].standardInput = inputs[index]
            processes[index].standardOutput = outputs[index]
            let other = inputs[1 - index].fileHandleForWriting
            let lines = collected[index]
            let splitter = LineSplitter()
            let fromOfferer = index == 0
            // Every line one peer prints goes to the other's stdin (rewritten, if asked).
            outputs[index].fileHandleForReading.readabilityHandler = { handle in
                let data = handle.availableData
                guard !data.isEmpty else {
                    handle.readabilityHandler = nil
                    return
                }
                lines.append(data)
                guard let rewrite else {
                    try? other.write(contentsOf: data)
                    return
                }
                for line in splitter.lines(adding: data) {
                    if let passed = rewrite(line, fromOfferer) { try? other.write(contentsOf: Data((passed + "\n").utf8)) }
                }
            }
            if captureErrors {
                let errorPipe = Pipe()
                processes[index].standardError = errorPipe
                let errorText = errors[index]
                errorPipe.fileHandleForReading.readabilityHandler = { handle in
                    let data = handle.availableData
                    if data.isEmpty { handle.readabilityHandler = nil } else { errorText.append(data) }
                }
            }
        }
        for process in processes { try process.run() }
        let deadline = ContinuousClock.now + timeout
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        for process in processes where process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        Thread.sleep(forTimeInterval: 0.05)  // let the last reads land
        let results = (0..<2).map { index in
            Output(status: processes[index].terminationStatus, lines: collected[index].lines, errorText: errors[index].text)
        }
        return (results[0], results[1])
    }
}

/// Whole lines out of a byte stream that arrives in arbitrary chunks (on one handler thread).
private final class LineSplitter: @unchecked Sendable {
    // @unchecked: only the pipe's readability handler uses it, one call at a time.
    private var partial = Data()

    func lines(adding data: Data) -> [String] {
        partial.append(data)
        var lines: [String] = []
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
            partial.removeSubrange(partial.startIndex...newline)
        }
        return lines
    }
}

/// Bytes from a pipe, appended on its handler thread and read after the process ended.
private final class Collected: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
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

/// Writes to a closed pipe fail with EPIPE instead of raising SIGPIPE.
package func ignoreBrokenPipes() {
    signal(SIGPIPE, SIG_IGN)
}
