/// HMAC (RFC 2104) with the inner and outer pad blocks absorbed once at key setup,
/// so each MAC costs only the message blocks plus one outer block and never allocates.
struct HMACState<Core: BlockHashCore>: Sendable {
    private let inner: BlockHasher<Core>
    private let outer: BlockHasher<Core>

    init(key: UnsafeRawBufferPointer) {
        // RFC 2104 §2: keys longer than the block size are hashed first; then zero-padded to 64 bytes.
        var paddedKey = zeroBlock64
        Swift.withUnsafeMutableBytes(of: &paddedKey) { raw in
            if key.count > 64 {
                BlockHasher<Core>.hash(key).withUnsafeBytes { raw.copyMemory(from: $0) }
            } else {
                raw.copyMemory(from: key)
            }
        }
        inner = Self.absorbing(paddedKey, xor: 0x36)
        outer = Self.absorbing(paddedKey, xor: 0x5C)
    }

    /// A hasher that has absorbed `key XOR pad` (RFC 2104 §2, ipad = 0x36, opad = 0x5C).
    private static func absorbing(_ key: Block64, xor pad: UInt8) -> BlockHasher<Core> {
        var block = key
        Swift.withUnsafeMutableBytes(of: &block) { raw in
            for index in raw.indices {
                raw[index] ^= pad
            }
        }
        var hasher = BlockHasher<Core>()
        Swift.withUnsafeBytes(of: block) { hasher.update($0) }
        return hasher
    }

    /// The MAC of whatever `feed` writes into the inner hash.
    func authenticationCode(_ feed: (inout BlockHasher<Core>) -> Void) -> HashDigest {
        var innerHasher = inner
        feed(&innerHasher)
        let innerDigest = innerHasher.finalize()
        var outerHasher = outer
        innerDigest.withUnsafeBytes { outerHasher.update($0) }
        return outerHasher.finalize()
    }

    /// The MAC of `message`.
    func authenticationCode(_ message: UnsafeRawBufferPointer) -> HashDigest {
        authenticationCode { $0.update(message) }
    }
}
