#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// Writes one line to standard error.
func printError(_ message: String) {
    writeFully(STDERR_FILENO, message + "\n")
}

/// Writes all of `text` to a file descriptor, unbuffered (so lines from several tasks never
/// interleave inside a line, and nothing waits in a buffer when the process ends).
func writeFully(_ descriptor: Int32, _ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(descriptor, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
            if written <= 0 { return }  // the reader is gone: nothing left to tell it
            offset += written
        }
    }
}

/// Runs `body`; on failure prints the error's one-line reason to standard
/// error and exits with status 1, as every `rtc` command does on bad input.
func failing<T, E: Error & CustomStringConvertible>(_ body: () throws(E) -> T) throws(ExitCode) -> T {
    do {
        return try body()
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}
