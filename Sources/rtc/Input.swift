#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the tool could not read its input.
struct InputError: Error, CustomStringConvertible {
    let description: String
}

/// Reads a file (or standard input for "-") but never more than `limit` bytes:
/// a larger input is refused after reading `limit + 1` bytes, so a huge or
/// endless input costs bounded time and memory.
func readInput(_ path: String, limit: Int) throws(InputError) -> [UInt8] {
    let descriptor: Int32
    if path == "-" {
        descriptor = STDIN_FILENO
    } else {
        descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw InputError(description: "\(path): \(String(cString: strerror(errno)))")
        }
    }
    defer { if descriptor != STDIN_FILENO { close(descriptor) } }

    var bytes = [UInt8](repeating: 0, count: limit + 1)
    var filled = 0
    while filled < bytes.count {
        let count = bytes.withUnsafeMutableBytes { buffer in
            read(descriptor, buffer.baseAddress.map { $0 + filled }, buffer.count - filled)
        }
        if count == 0 { break }
        if count < 0 {
            if errno == EINTR { continue }
            throw InputError(description: "\(path): \(String(cString: strerror(errno)))")
        }
        filled += count
    }
    guard filled <= limit else {
        throw InputError(description: "input is larger than the limit of \(limit) bytes")
    }
    bytes.removeSubrange(filled...)
    return bytes
}
