/// A STUN message-integrity key with precomputed HMAC pads for SHA-1 (MESSAGE-INTEGRITY) and
/// SHA-256 (MESSAGE-INTEGRITY-SHA256).
///
/// Build it once per credential (per ICE session); verifying or signing a message then costs only
/// the message's hash blocks plus one outer block, and never allocates.
public struct STUNIntegrityKey: Sendable {
    let sha1: HMACState<SHA1Core>
    let sha256: HMACState<SHA256Core>

    /// A key from raw key bytes (any length; RFC 2104 hashes keys longer than 64 bytes).
    public init(keyBytes: [UInt8]) {
        self = keyBytes.withUnsafeBytes { STUNIntegrityKey(key: $0) }
    }

    init(key: UnsafeRawBufferPointer) {
        sha1 = HMACState(key: key)
        sha256 = HMACState(key: key)
    }

    /// Short-term credential key (RFC 8489 §9.1.1): key = OpaqueString(password).
    ///
    /// The UTF-8 bytes of `password` are used as given: OpaqueString (RFC 8265) normalisation is not
    /// applied. It is the identity for ICE passwords, which are ASCII `ice-char`s (RFC 8839 §5.4);
    /// other callers must pass an already-prepared password.
    public static func shortTerm(password: String) -> STUNIntegrityKey {
        STUNIntegrityKey(keyBytes: Array(password.utf8))
    }

    /// Long-term credential key (RFC 8489 §9.2.2, MD5 algorithm):
    /// key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)).
    ///
    /// The strings' UTF-8 bytes are hashed as given, without SASLprep/OpaqueString processing: pass
    /// already-prepared strings (RFC 5769 §2.4 uses the prepared password "TheMatrIX"). For the
    /// SHA-256 password algorithm (§9.2.2 with PASSWORD-ALGORITHM), derive the key yourself and use
    /// ``init(keyBytes:)``.
    public static func longTerm(username: String, realm: String, password: String) -> STUNIntegrityKey {
        var md5 = BlockHasher<MD5Core>()
        md5.update(utf8: username)
        md5.update(utf8: ":")
        md5.update(utf8: realm)
        md5.update(utf8: ":")
        md5.update(utf8: password)
        return md5.finalize().withUnsafeBytes { STUNIntegrityKey(key: $0) }
    }
}

extension STUNMessageView {
    /// Whether MESSAGE-INTEGRITY is present and is the HMAC-SHA1 of the message under `key`
    /// (RFC 8489 §14.5). Streams the header with its length adjusted to end at MESSAGE-INTEGRITY,
    /// then the attributes before it; no copy, no allocation, constant-time comparison.
    public func verifyMessageIntegrity(key: STUNIntegrityKey) -> Bool {
        guard let messageIntegrityOffset else { return false }
        return verify(key.sha1, attributeAt: messageIntegrityOffset)
    }

    /// Whether MESSAGE-INTEGRITY-SHA256 is present and equals the (possibly truncated, §14.6)
    /// HMAC-SHA256 of the message under `key`. Same streaming and comparison as
    /// ``verifyMessageIntegrity(key:)``; the input includes a preceding MESSAGE-INTEGRITY.
    public func verifyMessageIntegritySHA256(key: STUNIntegrityKey) -> Bool {
        guard let messageIntegritySHA256Offset else { return false }
        return verify(key.sha256, attributeAt: messageIntegritySHA256Offset)
    }

    /// Whether FINGERPRINT is present and equals CRC-32 of the message before it XOR 0x5354554E
    /// (RFC 8489 §14.7).
    public func verifyFingerprint() -> Bool {
        guard let fingerprintOffset else { return false }
        let received = attribute(at: fingerprintOffset).value
        var crc = CRC32()
        feedPrefix(into: &crc, endingWithAttributeAt: fingerprintOffset, valueLength: received.count)
        return crc.value ^ Self.fingerprintXOR == received.stunUInt32(at: 0)
    }

    private func verify<Core>(_ hmac: HMACState<Core>, attributeAt offset: Int) -> Bool {
        let received = attribute(at: offset).value
        let computed = hmac.authenticationCode { feedPrefix(into: &$0, endingWithAttributeAt: offset, valueLength: received.count) }
        // RFC 8489 §14.6: a truncated MESSAGE-INTEGRITY-SHA256 carries the leading bytes of the HMAC.
        return computed.withUnsafeBytes { constantTimeEqual($0.stunSlice(0..<received.count), received) }
    }

    /// Feeds the message up to (excluding) the attribute at `offset`, with the header's length field
    /// replaced as if the message ended right after that attribute — RFC 8489 §14.5–§14.7: the
    /// length covers up to and including MESSAGE-INTEGRITY(-SHA256)/FINGERPRINT.
    private func feedPrefix(into sink: inout some ByteSink, endingWithAttributeAt offset: Int, valueLength: Int) {
        sink.update(bytes.stunSlice(0..<2))
        let adjustedLength = UInt16(truncatingIfNeeded: offset + 4 + valueLength - STUNLimits.headerSize).bigEndian
        withUnsafeBytes(of: adjustedLength) { sink.update($0) }
        sink.update(bytes.stunSlice(4..<offset))
    }
}
