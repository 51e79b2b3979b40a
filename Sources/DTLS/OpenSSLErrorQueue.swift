import COpenSSL

/// Reads OpenSSL's per-thread error queue (`ERR_get_error`).
///
/// The queue is per thread, so every call whose result is checked with
/// `SSL_get_error` is preceded by `ERR_clear_error()` on the same thread.
enum OpenSSLErrorQueue {
    /// How many queued errors one message includes; the rest are discarded.
    static let maximumReportedErrors = 4
    /// `ERR_error_string_n` needs at least 256 bytes.
    private static let errorStringCapacity = 256

    /// Drains the queue into one `"; "`-separated message, or `fallback` when
    /// it is empty.
    static func drain(fallback: String) -> String {
        var messages: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            guard messages.count < maximumReportedErrors else { continue }
            var buffer = [CChar](repeating: 0, count: errorStringCapacity)
            ERR_error_string_n(code, &buffer, buffer.count)
            messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return messages.isEmpty ? fallback : messages.joined(separator: "; ")
    }
}
