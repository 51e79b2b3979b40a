/// A certificate fingerprint (RFC 8122 §5): the hash function and the digest
/// the peer's DTLS certificate must match.
///
/// Serialization writes the hash function's canonical lower-case name and the
/// digest as upper-case hex (RFC 8122 §5 `UHEX`); lower-case hex and
/// upper-case names are accepted on input, so a round trip may change their
/// case but never the value.
public struct Fingerprint: Sendable, Hashable {
    /// The hash function.
    public var algorithm: HashFunction
    /// The digest.
    public var bytes: [UInt8]

    /// Creates a fingerprint.
    public init(algorithm: HashFunction, bytes: [UInt8]) {
        self.algorithm = algorithm
        self.bytes = bytes
    }

    /// The digest as colon-separated upper-case hex pairs, such as `4A:AD:B9`.
    public var hexDigest: String {
        var text: [UInt8] = []
        text.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { text.append(ASCII.colon) }
            text.append(ASCII.hexDigit(byte >> 4))
            text.append(ASCII.hexDigit(byte & 0x0F))
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The `a=fingerprint` value: hash function name, space, hex digest.
    public var attributeValue: String { "\(algorithm.name) \(hexDigest)" }

    // RFC 8122 §5: fingerprint-attribute = "fingerprint" ":" hash-func SP fingerprint
    init?(attributeValue text: ArraySlice<UInt8>) {
        let words = text.words
        guard words.count == 2, words[0].isToken, let digest = Self.decodeHex(words[1]) else { return nil }
        let algorithm = HashFunction(nameBytes: words[0])
        guard digest.count == algorithm.digestLength ?? digest.count else { return nil }
        self.init(algorithm: algorithm, bytes: digest)
    }

    // RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX); lower-case hex is accepted too.
    private static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 3 == 2 else { return nil }
        var digest: [UInt8] = []
        digest.reserveCapacity((text.count + 1) / 3)
        var index = text.startIndex
        while index < text.endIndex {
            // The length check guarantees index + 1 is in bounds.
            guard let high = ASCII.hexValue(text[index]), let low = ASCII.hexValue(text[index + 1]) else { return nil }
            digest.append(high << 4 | low)
            if index + 2 < text.endIndex, text[index + 2] != ASCII.colon { return nil }
            index += 3
        }
        return digest
    }
}

/// A hash function of a certificate fingerprint (RFC 8122 §5, which keeps the
/// RFC 4572 names). Names compare case-insensitively.
public enum HashFunction: Sendable, Hashable, CustomStringConvertible, CaseInsensitivelyNamed {
    /// SHA-1, 20 bytes.
    case sha1
    /// SHA-224, 28 bytes.
    case sha224
    /// SHA-256, 32 bytes; what browsers use.
    case sha256
    /// SHA-384, 48 bytes.
    case sha384
    /// SHA-512, 64 bytes.
    case sha512
    /// MD5, 16 bytes (obsolete, still in the registry).
    case md5
    /// MD2, 16 bytes (obsolete, still in the registry).
    case md2
    /// A hash function this module does not know, by its lower-cased name.
    /// RFC 8122 §5 allows any token here, so unknown names are kept rather
    /// than rejected; the DTLS layer decides whether it can verify them.
    case other(String)

    /// The function for `name`, matched case-insensitively; unknown names
    /// become ``other(_:)`` with the name lower-cased.
    public init(name: String) {
        self.init(nameBytes: ArraySlice(name.utf8))
    }

    static let known: [HashFunction] = [.sha256, .sha1, .sha224, .sha384, .sha512, .md5, .md2]

    /// The name as written in SDP, such as `sha-256`.
    public var name: String {
        switch self {
        case .sha1: "sha-1"
        case .sha224: "sha-224"
        case .sha256: "sha-256"
        case .sha384: "sha-384"
        case .sha512: "sha-512"
        case .md5: "md5"
        case .md2: "md2"
        case .other(let name): name
        }
    }

    /// The digest length in bytes, or `nil` for ``other(_:)``.
    public var digestLength: Int? {
        switch self {
        case .sha1: 20
        case .sha224: 28
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        case .md5, .md2: 16
        case .other: nil
        }
    }

    /// The name, as in ``name``.
    public var description: String { name }
}
