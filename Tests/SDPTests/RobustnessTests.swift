import SDP
import Testing
import TestSupport

@Suite("Hostile and malformed input")
struct RobustnessTests {
    @Test("empty input is an error about the whole input")
    func empty() {
        #expect(parseError("") == SDPParseError(line: 0, reason: .emptyInput))
        #expect(throws: SDPParseError(line: 0, reason: .emptyInput)) { try SessionDescription(parsing: [UInt8]()) }
    }

    @Test("NUL bytes are rejected on their line")
    func nul() {
        #expect(parseError(header + "a=x\0y\r\n") == SDPParseError(line: 4, reason: .controlCharacter(0)))
        #expect(parseError("v=0\0") == SDPParseError(line: 1, reason: .controlCharacter(0)))
    }

    @Test("a carriage return not followed by a line feed is rejected")
    func bareCarriageReturn() {
        #expect(parseError(header + "a=x\ry\r\n") == SDPParseError(line: 4, reason: .controlCharacter(0x0D)))
        #expect(parseError(header + "a=x\r") == SDPParseError(line: 4, reason: .controlCharacter(0x0D)))
        #expect(parseError("v=0\r\r\n") == SDPParseError(line: 1, reason: .controlCharacter(0x0D)))
    }

    @Test("invalid UTF-8 is rejected on its line; valid UTF-8 is kept",
        arguments: [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80]] as [[UInt8]])
    func invalidUTF8(sequence: [UInt8]) {
        let bytes = Array(header.utf8) + Array("i=".utf8) + sequence + Array("\r\n".utf8)
        #expect(throws: SDPParseError(line: 4, reason: .invalidUTF8)) { try SessionDescription(parsing: bytes) }
    }

    @Test("multi-byte UTF-8 text survives a round trip")
    func validUTF8() throws {
        let text = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=Café ☕ 🎉\r\ni=日本語\r\n"
        let description = try SessionDescription(parsing: text)
        #expect(description.sessionName == "Café ☕ 🎉")
        #expect(description.serialized() == text)
    }

    @Test("lines not of the form <letter>=<value> are rejected",
        arguments: ["", "a", "a:x", "1=x", "==x", " a=x", "é=x"])
    func malformedLines(line: String) {
        #expect(parseError(header + line + "\r\nt=0 0\r\n") == SDPParseError(line: 4, reason: .malformedLine))
    }

    @Test("a single huge line is rejected at the line limit")
    func hugeLine() {
        let line = "v=" + String(repeating: "0", count: 200_000)
        #expect(parseError(line) == SDPParseError(line: 1, reason: .lineTooLong))
    }

    @Test("random bytes never crash and are rejected")
    func randomBytes() {
        var generator = SplitMix64(seed: 0x5D9)
        for _ in 0..<500 {
            let count = Int.random(in: 0...2048, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: SDPParseError.self) { try SessionDescription(parsing: bytes) }
        }
    }

    @Test("random candidate strings never crash")
    func randomCandidates() throws {
        var generator = SplitMix64(seed: 0xCA4D)
        let alphabet = Array("0123456789 .:abcdhostypudprelaxfrtcp\t-/".utf8)
        var accepted = 0
        for _ in 0..<2000 {
            let count = Int.random(in: 0...80, using: &generator)
            let text = String(decoding: (0..<count).map { _ in alphabet.randomElement(using: &generator) ?? 0x20 },
                as: UTF8.self)
            if let candidate = try? ICECandidate(parsing: text) {
                accepted += 1
                #expect(try ICECandidate(parsing: candidate.candidateString) == candidate)
            }
        }
        #expect(accepted < 2000)
    }

    @Test("thousands of mutations of a real description never crash, and what parses round-trips")
    func mutations() throws {
        let original = try Vectors.names.contains("chromium-audio-video-datachannel-offer.sdp")
            ? Vectors.bytes("chromium-audio-video-datachannel-offer.sdp") : Array(firefoxStyleOffer.utf8)
        let interesting: [UInt8] = [0x00, 0x0A, 0x0D, 0x20, 0x3A, 0x3D, 0x2F, 0x61, 0x6D, 0x76, 0x80, 0xC3, 0xFF]
        var generator = SplitMix64(seed: 0x5EED)
        var parsed = 0
        var rejected = 0
        for _ in 0..<3000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                mutate(&bytes, interesting: interesting, using: &generator)
            }
            do {
                let description = try SessionDescription(parsing: bytes)
                parsed += 1
                #expect(try SessionDescription(parsing: description.serialized()) == description)
            } catch {
                rejected += 1
                #expect(error.line >= 0 && error.line <= bytes.count)
            }
        }
        #expect(parsed > 0)
        #expect(rejected > 0)
    }

    private func mutate(_ bytes: inout [UInt8], interesting: [UInt8], using generator: inout SplitMix64) {
        guard !bytes.isEmpty else { return }
        let index = Int.random(in: 0..<bytes.count, using: &generator)
        switch Int.random(in: 0..<6, using: &generator) {
        case 0: bytes[index] = UInt8.random(in: 0...255, using: &generator)
        case 1: bytes[index] = interesting.randomElement(using: &generator) ?? 0
        case 2: bytes.insert(interesting.randomElement(using: &generator) ?? 0, at: index)
        case 3: bytes.removeSubrange(index..<min(bytes.count, index + Int.random(in: 1...16, using: &generator)))
        case 4:
            let end = min(bytes.count, index + Int.random(in: 1...64, using: &generator))
            bytes.insert(contentsOf: bytes[index..<end], at: Int.random(in: 0...bytes.count, using: &generator))
        default: bytes.removeSubrange(index...)
        }
    }
}
