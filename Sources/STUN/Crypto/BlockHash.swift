// Shared Merkle–Damgård machinery for the 64-byte-block hashes used by STUN
// (MD5, SHA-1, SHA-256). Internal: the STUN module exposes no general-purpose crypto API.

/// Something that absorbs bytes incrementally (a hash or a checksum).
protocol ByteSink {
    /// Absorbs `bytes`.
    mutating func update(_ bytes: UnsafeRawBufferPointer)
}

extension ByteSink {
    /// Absorbs the UTF-8 encoding of `text`.
    mutating func update(utf8 text: String) {
        var text = text
        text.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }
}

/// Up to 32 digest bytes stored inline (no heap allocation).
struct HashDigest: Sendable {
    private var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Number of meaningful bytes (16 for MD5, 20 for SHA-1, 32 for SHA-256).
    let count: Int

    init(count: Int) {
        self.count = count
    }

    /// Stores the 32-bit state word `word` as digest bytes `4 * index ..< 4 * index + 4`.
    mutating func setWord(_ word: UInt32, at index: Int, bigEndian: Bool) {
        Swift.withUnsafeMutableBytes(of: &storage) { raw in
            raw.storeBytes(of: bigEndian ? word.bigEndian : word.littleEndian, toByteOffset: index * 4, as: UInt32.self)
        }
    }

    /// Calls `body` with the digest bytes.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        Swift.withUnsafeBytes(of: storage) { body($0.stunSlice(0..<count)) }
    }
}

/// The compression function and output format of a 64-byte-block hash.
protocol BlockHashCore: Sendable {
    /// The initial chaining state.
    init()
    /// Whether the message bit length is appended big-endian (SHA) or little-endian (MD5).
    static var lengthIsBigEndian: Bool { get }
    /// Processes exactly one 64-byte block.
    mutating func compress(_ block: UnsafeRawBufferPointer)
    /// The final chaining state rendered as digest bytes.
    func digest() -> HashDigest
}

/// 64 zero bytes, inline.
typealias Block64 = (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)

let zeroBlock64: Block64 = (0, 0, 0, 0, 0, 0, 0, 0)

/// Streaming buffering and padding (RFC 1321 §3.1–3.2, FIPS 180-4 §5.1.1) around a `BlockHashCore`.
/// A value type: copying it forks the hash state, which is how precomputed HMAC pads are reused.
struct BlockHasher<Core: BlockHashCore>: ByteSink, Sendable {
    private var core = Core()
    private var pending: Block64 = zeroBlock64
    private var pendingCount = 0
    private var totalByteCount: UInt64 = 0

    init() {}

    /// One-shot hash of `bytes`.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> HashDigest {
        var hasher = BlockHasher()
        hasher.update(bytes)
        return hasher.finalize()
    }

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        totalByteCount &+= UInt64(bytes.count)
        var offset = 0
        if pendingCount > 0 {
            offset = min(64 - pendingCount, bytes.count)
            appendPending(bytes.stunSlice(0..<offset))
            guard pendingCount == 64 else { return }
            Swift.withUnsafeBytes(of: pending) { core.compress($0) }
            pendingCount = 0
        }
        while bytes.count - offset >= 64 {
            core.compress(bytes.stunSlice(offset..<offset + 64))
            offset += 64
        }
        appendPending(bytes.stunSlice(offset..<bytes.count))
    }

    /// Pads, absorbs the bit length, and returns the digest.
    mutating func finalize() -> HashDigest {
        let bitCount = totalByteCount &* 8
        let marker: UInt8 = 0x80
        Swift.withUnsafeBytes(of: marker) { update($0) }
        // Zero-fill so that 8 bytes remain in the current block for the length.
        let zeroCount = (pendingCount <= 56 ? 56 : 120) - pendingCount
        Swift.withUnsafeBytes(of: zeroBlock64) { update($0.stunSlice(0..<zeroCount)) }
        let length = Core.lengthIsBigEndian ? bitCount.bigEndian : bitCount.littleEndian
        Swift.withUnsafeBytes(of: length) { update($0) }
        return core.digest()
    }

    /// Copies `bytes` (which fit: at most `64 - pendingCount`) after the pending bytes.
    private mutating func appendPending(_ bytes: UnsafeRawBufferPointer) {
        let start = pendingCount
        Swift.withUnsafeMutableBytes(of: &pending) { raw in
            UnsafeMutableRawBufferPointer(rebasing: raw[start..<start + bytes.count]).copyMemory(from: bytes)
        }
        pendingCount += bytes.count
    }
}

extension UInt32 {
    /// Left rotation by `count` (1...31).
    @inline(__always)
    func rotatedLeft(_ count: UInt32) -> UInt32 {
        (self &<< count) | (self &>> (32 &- count))
    }
}
