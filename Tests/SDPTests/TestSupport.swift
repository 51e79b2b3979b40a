import Foundation
import SDP

/// The lines every minimal description starts with; a field appended after
/// them is on line 4.
let header = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"

/// Parses `header` followed by `lines`, each terminated by CRLF.
func parse(_ lines: String...) throws(SDPParseError) -> SessionDescription {
    try SessionDescription(parsing: header + lines.map { $0 + "\r\n" }.joined())
}

/// The error parsing `text` throws, or `nil` if it parses.
func parseError(_ text: String) -> SDPParseError? {
    do {
        _ = try SessionDescription(parsing: text)
        return nil
    } catch {
        return error
    }
}

/// The error parsing `header` followed by `lines` throws, or `nil`.
func parseError(lines: String...) -> SDPParseError? {
    parseError(header + lines.map { $0 + "\r\n" }.joined())
}

/// The error parsing a trickled candidate string throws, or `nil`.
func candidateError(_ text: String) -> CandidateParseError.Reason? {
    do {
        _ = try ICECandidate(parsing: text)
        return nil
    } catch {
        return error.reason
    }
}

/// The real-world descriptions in `Vectors/sdp`, found by walking up from
/// this file to the directory that holds `Vectors` (in the scratch package
/// `Vectors` is a symlink, which the walk follows the same way).
enum Vectors {
    static let directory: URL? = {
        var directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("Vectors/sdp")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }()

    /// The names of every `*.sdp` file, sorted.
    static let names: [String] = {
        guard let directory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else { return [] }
        return names.filter { $0.hasSuffix(".sdp") }.sorted()
    }()

    struct MissingVectorDirectory: Error {}

    static func bytes(_ name: String) throws -> [UInt8] {
        guard let directory else { throw MissingVectorDirectory() }
        return try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// A description in Firefox's shape (session-level fingerprint, upper-case
/// `UDP`/`TCP` transports, `a=end-of-candidates`), used where a fixed input
/// is needed regardless of which vectors exist.
let firefoxStyleOffer = """
    v=0\r
    o=mozilla...THIS_IS_SDPARTA-99.0 6411394282594934209 0 IN IP4 0.0.0.0\r
    s=-\r
    t=0 0\r
    a=sendrecv\r
    a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2\r
    a=group:BUNDLE 0\r
    a=ice-options:trickle\r
    a=msid-semantic:WMS *\r
    m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r
    c=IN IP4 0.0.0.0\r
    a=candidate:0 1 UDP 2122252543 192.0.2.10 54321 typ host\r
    a=candidate:1 1 TCP 2105524479 192.0.2.10 9 typ host tcptype active\r
    a=candidate:2 1 UDP 1686052863 203.0.113.7 54321 typ srflx raddr 192.0.2.10 rport 54321\r
    a=sendrecv\r
    a=end-of-candidates\r
    a=ice-pwd:0123456789abcdef0123456789abcdef\r
    a=ice-ufrag:a1b2c3d4\r
    a=mid:0\r
    a=setup:actpass\r
    a=sctp-port:5000\r
    a=max-message-size:1073741823\r

    """
