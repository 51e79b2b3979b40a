/// SHA-1 compression function (FIPS 180-4 §6.1; RFC 3174). Used only for
/// MESSAGE-INTEGRITY's HMAC-SHA1 (RFC 8489 §14.5).
struct SHA1Core: BlockHashCore {
    static let lengthIsBigEndian = true

    // FIPS 180-4 §5.3.1: initial hash value.
    private var h0: UInt32 = 0x6745_2301
    private var h1: UInt32 = 0xEFCD_AB89
    private var h2: UInt32 = 0x98BA_DCFE
    private var h3: UInt32 = 0x1032_5476
    private var h4: UInt32 = 0xC3D2_E1F0

    init() {}

    // FIPS 180-4 §6.1.2: message schedule and 80 rounds.
    mutating func compress(_ block: UnsafeRawBufferPointer) {
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 80) { w in
            for t in 0..<16 {
                w[t] = block.loadUnaligned(fromByteOffset: t &* 4, as: UInt32.self).bigEndian
            }
            for t in 16..<80 {
                w[t] = (w[t &- 3] ^ w[t &- 8] ^ w[t &- 14] ^ w[t &- 16]).rotatedLeft(1)
            }
            var a = h0, b = h1, c = h2, d = h3, e = h4
            for t in 0..<80 {
                let f: UInt32
                let k: UInt32
                switch t {
                case 0..<20:
                    f = (b & c) | (~b & d)
                    k = 0x5A82_7999
                case 20..<40:
                    f = b ^ c ^ d
                    k = 0x6ED9_EBA1
                case 40..<60:
                    f = (b & c) | (b & d) | (c & d)
                    k = 0x8F1B_BCDC
                default:
                    f = b ^ c ^ d
                    k = 0xCA62_C1D6
                }
                let temp = a.rotatedLeft(5) &+ f &+ e &+ k &+ w[t]
                e = d
                d = c
                c = b.rotatedLeft(30)
                b = a
                a = temp
            }
            h0 &+= a
            h1 &+= b
            h2 &+= c
            h3 &+= d
            h4 &+= e
        }
    }

    func digest() -> HashDigest {
        var digest = HashDigest(count: 20)
        digest.setWord(h0, at: 0, bigEndian: true)
        digest.setWord(h1, at: 1, bigEndian: true)
        digest.setWord(h2, at: 2, bigEndian: true)
        digest.setWord(h3, at: 3, bigEndian: true)
        digest.setWord(h4, at: 4, bigEndian: true)
        return digest
    }
}
