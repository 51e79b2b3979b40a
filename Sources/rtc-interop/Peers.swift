import DataChannel
import Foundation
import NIOConcurrencyHelpers
import WebRTC

/// Runs `body` with a deadline: a case never waits forever.
func within<T: Sendable>(
    _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CaseFailure("timed out after \(Int(seconds)) s: \(what)")
        }
        return value
    }
}

/// Starts `rtc signal` on a free port; returns it and the port once it listens (10 s at most;
/// a server that does not listen by then is stopped).
func startSignalServer(_ rtc: URL) async throws -> (ChildProcess, Int) {
    let signal = try ChildProcess(rtc, ["signal", "--port", "0"])
    do {
        let port = try await within(10, "rtc signal listening") { () -> Int in
            while true {
                if let line = signal.lines.first(where: { $0.hasPrefix("listening on ") }),
                    let port = line.split(separator: ":").last.flatMap({ Int($0) })
                {
                    return port
                }
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return (signal, port)
    } catch {
        await signal.stop(after: 0)
        throw error
    }
}

/// Polls `condition` every 10 ms until it holds, for at most `seconds`.
func waitUntil(_ seconds: Double, _ what: String, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    _ = try await within(seconds, what) {
        while try await !condition() {
            try await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}

/// A channel's messages, buffered as they arrive, taken one at a time with a deadline.
final class Inbox: Sendable {
    private let buffer = NIOLockedValueBox<(messages: [DataChannelMessage], finished: Bool)>(([], false))
    private let reader: Task<Void, Never>

    init(_ channel: DataChannel) {
        let buffer = buffer
        reader = Task {
            for await message in channel.messages {
                buffer.withLockedValue { $0.messages.append(message) }
            }
            buffer.withLockedValue { $0.finished = true }
        }
    }

    deinit { reader.cancel() }

    /// The next message within `seconds`.
    func next(within seconds: Double = 20) async throws -> DataChannelMessage {
        try await within(seconds, "a message") { [buffer] in
            while true {
                let (message, finished) = buffer.withLockedValue { state -> (DataChannelMessage?, Bool) in
                    state.messages.isEmpty ? (nil, state.finished) : (state.messages.removeFirst(), false)
                }
                if let message { return message }
                if finished { throw CaseFailure("the channel closed") }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }
}

/// Random bytes for transfers (not for secrets).
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    var index = 0
    while index < count {
        var word = generator.next()
        for _ in 0..<min(8, count - index) {
            bytes[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            index += 1
        }
    }
    return bytes
}
