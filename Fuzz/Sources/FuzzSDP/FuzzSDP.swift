import SDP

/// Parses the input as a session description; what parses must serialize
/// into text that parses back to an equal description.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let description = try? SessionDescription(parsing: bytes) else { return 0 }
    for media in description.media {
        _ = media.candidates
        _ = media.fingerprints
        _ = media.dataChannelSCTPPort
    }
    let text = description.serialized()
    guard let reparsed = try? SessionDescription(parsing: text) else {
        fatalError("serialized description does not parse:\n\(text)")
    }
    guard reparsed == description else { fatalError("round trip changed the description:\n\(text)") }
    return 0
}
