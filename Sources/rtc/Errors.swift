#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// Writes one line to standard error.
func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
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
