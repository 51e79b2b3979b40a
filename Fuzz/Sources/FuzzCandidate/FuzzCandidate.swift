import SDP

/// Parses the input as a trickled candidate string; what parses must
/// serialize into a string that parses back to an equal candidate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCandidate(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let candidate = try? ICECandidate(parsing: text) else { return 0 }
    _ = candidate.tcpType
    _ = candidate.generation
    _ = candidate.networkCost
    _ = candidate.isMDNS
    guard let reparsed = try? ICECandidate(parsing: candidate.candidateString) else {
        fatalError("serialized candidate does not parse: \(candidate.candidateString)")
    }
    guard reparsed == candidate else { fatalError("round trip changed the candidate: \(candidate.candidateString)") }
    return 0
}
