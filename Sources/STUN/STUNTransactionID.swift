/// The 96-bit STUN transaction ID (RFC 8489 §5), stored inline.
public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The first 4 bytes, big-endian.
    public let high: UInt32
    /// The last 8 bytes, big-endian.
    public let low: UInt64

    /// Creates an ID from its two big-endian parts.
    public init(high: UInt32, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates an ID from exactly 12 bytes; `nil` for any other count.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self = bytes.withUnsafeBytes { STUNTransactionID(reading: $0, at: 0) }
    }

    /// Reads 12 bytes at `offset`; the caller has checked `offset + 12 <= bytes.count`.
    init(reading bytes: UnsafeRawBufferPointer, at offset: Int) {
        high = bytes.stunUInt32(at: offset)
        low = bytes.stunUInt64(at: offset + 4)
    }

    /// A fresh ID from the system's cryptographically secure generator (RFC 8489 §5: IDs must be
    /// uniformly and randomly chosen and cryptographically random).
    public static func random() -> STUNTransactionID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A fresh ID drawn from `generator` (for deterministic tests).
    public static func random(using generator: inout some RandomNumberGenerator) -> STUNTransactionID {
        STUNTransactionID(high: UInt32(truncatingIfNeeded: generator.next()), low: generator.next())
    }

    /// The 12 bytes (allocates).
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12)
        append(to: &bytes)
        return bytes
    }

    /// Appends the 12 bytes to `buffer`.
    func append(to buffer: inout [UInt8]) {
        buffer.appendBigEndian(high)
        buffer.appendBigEndian(low)
    }

    /// 24 lowercase hexadecimal digits.
    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
