import COpenSSL

/// Who may join a room (docs/signaling.md, "Admission").
public enum Admission: Sendable, Hashable {
    /// Anyone who reaches the port.
    case open
    /// `join` must carry this exact token.
    case sharedSecret(String)
    /// `join` must carry a token signed with this key for the room, not yet expired
    /// (see ``SignedToken``).
    case signedTokens(key: String)

    /// Whether `token` admits its bearer to `room` at Unix time `now` (seconds).
    func admits(token: String?, room: String, now: Int64) -> Bool {
        switch self {
        case .open:
            return true
        case .sharedSecret(let secret):
            guard let token else { return false }
            return constantTimeEqual(Array(token.utf8), Array(secret.utf8))
        case .signedTokens(let key):
            guard let token else { return false }
            return SignedToken.verify(token, room: room, key: key, now: now)
        }
    }
}

/// Room tokens of the form `<expiry>.<mac>`: `expiry` a Unix time in seconds, `mac` the
/// lower-case hex HMAC-SHA256 with the server's key of `<room>\n<expiry>`. Whoever holds the
/// key (an application backend) hands them out; the server needs no token store.
public enum SignedToken {
    /// A token for `room` that expires at Unix time `expiry`.
    public static func make(room: String, expiry: Int64, key: String) -> String {
        "\(expiry).\(hex(mac(room: room, expiry: expiry, key: key)))"
    }

    /// Whether `token` was made with `key` for `room` and has not expired at `now`.
    public static func verify(_ token: String, room: String, key: String, now: Int64) -> Bool {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let expiry = Int64(parts[0]), expiry > now else { return false }
        let expected = Array(hex(mac(room: room, expiry: expiry, key: key)).utf8)
        return constantTimeEqual(Array(parts[1].utf8), expected)
    }

    private static func mac(room: String, expiry: Int64, key: String) -> [UInt8] {
        let message = Array("\(room)\n\(expiry)".utf8)
        let keyBytes = Array(key.utf8)
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length = 0
        let produced = keyBytes.withUnsafeBytes { keyBuffer in
            EVP_Q_mac(
                nil, "HMAC", nil, "SHA256", nil, keyBuffer.baseAddress, keyBuffer.count,
                message, message.count, &output, output.count, &length)
        }
        // Without a MAC (OpenSSL failing to run HMAC), return nothing: no token verifies.
        guard produced != nil else { return [] }
        return Array(output.prefix(length))
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess was right.
private func constantTimeEqual(_ left: [UInt8], _ right: [UInt8]) -> Bool {
    guard left.count == right.count, !left.isEmpty else { return false }
    var difference: UInt8 = 0
    for index in left.indices {
        difference |= left[index] ^ right[index]
    }
    return difference == 0
}
