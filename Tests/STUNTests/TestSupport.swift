import COpenSSL
@testable import STUN

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors raised by the test helpers themselves.
enum TestSupportError: Error {
    case missingVector(String)
}

/// Reads `Vectors/stun/<name>` relative to this package (works from /work/main and the scratch package).
func loadVector(_ name: String) throws -> [UInt8] {
    let root = String(#filePath).split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
    let path = root + "/Vectors/stun/" + name
    guard let file = fopen(path, "rb") else { throw TestSupportError.missingVector(path) }
    defer { fclose(file) }
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
        guard count > 0 else { break }
        result += chunk[0..<count]
    }
    return result
}

/// The four RFC 5769 vector file names.
enum Vector: String, CaseIterable, Sendable {
    case request = "rfc5769-request.bin"
    case responseIPv4 = "rfc5769-response-ipv4.bin"
    case responseIPv6 = "rfc5769-response-ipv6.bin"
    case requestLongTerm = "rfc5769-request-long-term.bin"

    func bytes() throws -> [UInt8] { try loadVector(rawValue) }

    /// The RFC 5769 credentials for this vector.
    var key: STUNIntegrityKey {
        switch self {
        case .requestLongTerm:
            .longTerm(username: "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}", realm: "example.org", password: "TheMatrIX")
        default:
            .shortTerm(password: "VOkJxbRl1RmTxUk/WvJxBt")
        }
    }
}

/// Parses hexadecimal text, ignoring whitespace.
func hex(_ text: String) -> [UInt8] {
    let digits = text.unicodeScalars.filter { !$0.properties.isWhitespace }.map { UInt8(String($0), radix: 16) ?? 0 }
    return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

/// Lowercase hexadecimal text of `bytes`.
func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

// MARK: - Library crypto through byte arrays

func libraryHash<Core: BlockHashCore>(_ core: Core.Type, _ data: [UInt8]) -> [UInt8] {
    data.withUnsafeBytes { BlockHasher<Core>.hash($0).bytes }
}

func libraryHMAC<Core: BlockHashCore>(_ core: Core.Type, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    key.withUnsafeBytes { rawKey in
        data.withUnsafeBytes { HMACState<Core>(key: rawKey).authenticationCode($0).bytes }
    }
}

func libraryCRC32(_ data: [UInt8]) -> UInt32 {
    var crc = CRC32()
    data.withUnsafeBytes { crc.update($0) }
    return crc.value
}

// MARK: - OpenSSL references

enum OpenSSLDigest {
    case md5, sha1, sha256

    var md: OpaquePointer? {
        switch self {
        case .md5: EVP_md5()
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        }
    }
}

/// Runs `body` with a pointer into non-empty storage holding `bytes` (OpenSSL may reject a null
/// pointer even for length 0).
private func withNonNullBytes<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>?) -> R) -> R {
    let storage = bytes.isEmpty ? [0] : bytes
    return storage.withUnsafeBufferPointer { body($0.baseAddress) }
}

func openSSLDigest(_ digest: OpenSSLDigest, _ data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 64)
    var length: UInt32 = 0
    withNonNullBytes(data) { pointer in
        _ = EVP_Digest(pointer, data.count, &out, &length, digest.md, nil)
    }
    return Array(out[0..<Int(length)])
}

func openSSLHMAC(_ digest: OpenSSLDigest, key: [UInt8], _ data: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 64)
    var length: UInt32 = 0
    withNonNullBytes(key) { keyPointer in
        withNonNullBytes(data) { dataPointer in
            _ = HMAC(digest.md, keyPointer, Int32(key.count), dataPointer, data.count, &out, &length)
        }
    }
    return Array(out[0..<Int(length)])
}

/// Bit-at-a-time CRC-32 (independent of the library's table-driven one).
func referenceCRC32(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1)))
        }
    }
    return ~crc
}

// MARK: - Message helpers

/// Builds a raw STUN message from raw TLVs (values padded with zeros, length field set).
func rawMessage(
    type: UInt16 = 0x0001,
    transactionID: [UInt8] = Array(1...12),
    attributes: [(UInt16, [UInt8])]
) -> [UInt8] {
    var body: [UInt8] = []
    for (attributeType, value) in attributes {
        body += [UInt8(attributeType >> 8), UInt8(attributeType & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)]
        body += value + [UInt8](repeating: 0, count: (4 - value.count % 4) % 4)
    }
    return [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF), 0x21, 0x12, 0xA4, 0x42]
        + transactionID + body
}

/// Decodes with the view, returning the error (or nil on success).
func decodeError(_ bytes: [UInt8]) -> STUNDecodeError? {
    bytes.withUnsafeBytes { raw in
        do throws(STUNDecodeError) {
            _ = try STUNMessageView(raw)
            return nil
        } catch {
            return error
        }
    }
}

/// Removes the attributes a writer recomputes, for comparing decoded and re-encoded models.
func withoutComputed(_ message: STUNMessage) -> STUNMessage {
    var copy = message
    copy.attributes.removeAll { STUNAttributeType.isComputedByWriter($0.type) }
    return copy
}

extension HashDigest {
    /// The digest as an array.
    var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}
