import Foundation
import SDP
import Testing

@Suite("Real-world vectors")
struct VectorTests {
    @Test("the vector directory holds at least one description")
    func vectorsExist() {
        #expect(Vectors.directory != nil)
        #expect(!Vectors.names.isEmpty)
    }

    @Test("every vector parses, round-trips, and reserializes to its own text", arguments: Vectors.names)
    func roundTrip(name: String) throws {
        let bytes = try Vectors.bytes(name)
        let description = try SessionDescription(parsing: bytes)
        let serialized = description.serialized()
        #expect(try SessionDescription(parsing: serialized) == description)
        #expect(serialized == Self.normalized(String(decoding: bytes, as: UTF8.self)))
    }

    @Test("every data-channel section carries what a DTLS/SCTP transport needs", arguments: Vectors.names)
    func dataChannelSections(name: String) throws {
        let description = try SessionDescription(parsing: Vectors.bytes(name))
        for media in description.media where media.isDataChannel {
            // RFC 8866 §5.13: session-level attributes are defaults for every section.
            #expect((media.iceUfrag ?? description.iceUfrag) != nil)
            #expect((media.icePwd ?? description.icePwd) != nil)
            #expect(!(media.fingerprints + description.fingerprints).isEmpty)
            #expect((media.setup ?? description.setup) != nil)
            #expect(media.mid != nil)
            #expect(media.dataChannelSCTPPort != nil)
        }
    }

    /// The text a serialization of `original` must equal: CRLF line endings,
    /// a final CRLF, and fingerprint hex in upper case.
    private static func normalized(_ original: String) -> String {
        var lines = original.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == UInt8(ascii: "\r") ? line.dropLast() : line, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        return lines.map { line in
            guard line.hasPrefix("a=fingerprint:"), let space = line.firstIndex(of: " ") else { return line + "\r\n" }
            return line[..<space] + line[space...].uppercased() + "\r\n"
        }.joined()
    }
}
