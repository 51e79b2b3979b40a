import Foundation
import SDP
import Testing

/// The trickled candidate strings in `Vectors/candidates`: one per line.
@Suite("Candidate vectors")
struct CandidateVectorTests {
    static let lines: [String] = {
        guard let sdpDirectory = Vectors.directory else { return [] }
        let directory = sdpDirectory.deletingLastPathComponent().appendingPathComponent("candidates")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".txt") }.sorted().flatMap { name in
            let text = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map(String.init)
        }
    }()

    @Test("the candidate vectors are found")
    func vectorsExist() {
        #expect(Self.lines.count >= 12)
    }

    @Test("every trickled candidate parses and re-serializes to an equal candidate", arguments: lines)
    func roundTrip(line: String) throws {
        let candidate = try ICECandidate(parsing: line)
        #expect(try ICECandidate(parsing: candidate.candidateString) == candidate)
        // Apart from the optional `a=` prefix and the transport's case, the text is unchanged.
        let original = line.hasPrefix("a=") ? String(line.dropFirst(2)) : line
        #expect(candidate.candidateString.lowercased() == original.lowercased())
    }

    @Test("the hand-written grammar cases carry the fields they were written for")
    func handwrittenFields() throws {
        let byFoundation = Dictionary(
            try Self.lines.map { try ICECandidate(parsing: $0) }.map { ($0.foundation, $0) },
            uniquingKeysWith: { first, _ in first })
        let srflx = try #require(byFoundation["2"])
        #expect(srflx.kind == .serverReflexive)
        #expect(srflx.relatedAddress == "192.0.2.1")
        #expect(srflx.relatedPort == 54400)
        #expect(try #require(byFoundation["3"]).kind == .relay)
        let prflx = try #require(byFoundation["4"])
        #expect(prflx.kind == .peerReflexive)
        #expect(prflx.address == "2001:db8::1")
        #expect(try #require(byFoundation["5"]).tcpType == .active)
        #expect(try #require(byFoundation["6"]).tcpType == .passive)
        let simultaneousOpen = try #require(byFoundation["7"])
        #expect(simultaneousOpen.tcpType == .so)
        #expect(simultaneousOpen.transport == .tcp)
        let mdns = try #require(byFoundation["8"])
        #expect(mdns.isMDNS)
        #expect(mdns.ufrag == "Ab12")
        #expect(mdns.networkCost == 999)
        #expect(try #require(byFoundation["9"]).componentID == 2)
        let future = try #require(byFoundation["abc+/"])
        #expect(future.componentID == 256)
        #expect(future.extensions.map(\.name) == ["future-extension", "another"])
    }
}
