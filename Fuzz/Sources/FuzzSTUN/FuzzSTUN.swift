import STUN

// RFC 5769 §2.1's short-term password and §2.4's long-term credentials, so
// that mutations of the seed vectors exercise the integrity paths fully.
private let shortTermKey = STUNIntegrityKey.shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
private let longTermKey = STUNIntegrityKey.longTerm(
    username: "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}", realm: "example.org", password: "TheMatrIX")

/// Decodes the input as a STUN message, reads every typed attribute, checks
/// FINGERPRINT and both integrities, and re-encodes what decoded. Any trap
/// or sanitizer report is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSTUN(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = PacketKind(firstByte: bytes.first ?? 0)
    _ = STUNMessageView.looksLikeSTUN(bytes)
    guard let view = try? STUNMessageView(bytes) else { return 0 }
    _ = view.verifyFingerprint()
    _ = view.verifyMessageIntegrity(key: shortTermKey)
    _ = view.verifyMessageIntegritySHA256(key: shortTermKey)
    _ = view.verifyMessageIntegrity(key: longTermKey)
    _ = try? view.username
    _ = try? view.realm
    _ = try? view.nonce
    _ = try? view.software
    _ = try? view.xorMappedAddress
    _ = try? view.mappedAddress
    _ = try? view.errorCode
    _ = try? view.unknownAttributes
    _ = view.unknownComprehensionRequired
    for attribute in view.attributes { _ = attribute.type }
    if let message = try? STUNMessage(view) {
        // What decoded must re-encode (the codec's limits are the same both
        // ways) into a message that decodes again.
        guard let encoded = try? message.encoded(integrity: shortTermKey, fingerprint: true) else {
            fatalError("decoded message does not re-encode")
        }
        guard (try? STUNMessage(decoding: encoded)) != nil else { fatalError("re-encoded message does not decode") }
    }
    return 0
}
