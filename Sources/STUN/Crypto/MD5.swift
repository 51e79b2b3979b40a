/// MD5 compression function (RFC 1321 §3.4). Used only to derive the
/// long-term credential key (RFC 8489 §9.2.2).
struct MD5Core: BlockHashCore {
    static let lengthIsBigEndian = false

    // RFC 1321 §3.4: T[i] = floor(2^32 * abs(sin(i))), i = 1...64.
    private static let sineTable: [UInt32] = [
        0xD76A_A478, 0xE8C7_B756, 0x2420_70DB, 0xC1BD_CEEE, 0xF57C_0FAF, 0x4787_C62A, 0xA830_4613, 0xFD46_9501,
        0x6980_98D8, 0x8B44_F7AF, 0xFFFF_5BB1, 0x895C_D7BE, 0x6B90_1122, 0xFD98_7193, 0xA679_438E, 0x49B4_0821,
        0xF61E_2562, 0xC040_B340, 0x265E_5A51, 0xE9B6_C7AA, 0xD62F_105D, 0x0244_1453, 0xD8A1_E681, 0xE7D3_FBC8,
        0x21E1_CDE6, 0xC337_07D6, 0xF4D5_0D87, 0x455A_14ED, 0xA9E3_E905, 0xFCEF_A3F8, 0x676F_02D9, 0x8D2A_4C8A,
        0xFFFA_3942, 0x8771_F681, 0x6D9D_6122, 0xFDE5_380C, 0xA4BE_EA44, 0x4BDE_CFA9, 0xF6BB_4B60, 0xBEBF_BC70,
        0x289B_7EC6, 0xEAA1_27FA, 0xD4EF_3085, 0x0488_1D05, 0xD9D4_D039, 0xE6DB_99E5, 0x1FA2_7CF8, 0xC4AC_5665,
        0xF429_2244, 0x432A_FF97, 0xAB94_23A7, 0xFC93_A039, 0x655B_59C3, 0x8F0C_CC92, 0xFFEF_F47D, 0x8584_5DD1,
        0x6FA8_7E4F, 0xFE2C_E6E0, 0xA301_4314, 0x4E08_11A1, 0xF753_7E82, 0xBD3A_F235, 0x2AD7_D2BB, 0xEB86_D391,
    ]

    // RFC 1321 §3.4: per-round rotation amounts, four per round.
    private static let shifts: [UInt32] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21]

    // RFC 1321 §3.3: initial buffer A, B, C, D.
    private var a0: UInt32 = 0x6745_2301
    private var b0: UInt32 = 0xEFCD_AB89
    private var c0: UInt32 = 0x98BA_DCFE
    private var d0: UInt32 = 0x1032_5476

    init() {}

    mutating func compress(_ block: UnsafeRawBufferPointer) {
        var a = a0, b = b0, c = c0, d = d0
        for i in 0..<64 {
            let f: UInt32
            let g: Int
            switch i {
            case 0..<16:
                f = (b & c) | (~b & d)
                g = i
            case 16..<32:
                f = (d & b) | (~d & c)
                g = (5 &* i &+ 1) & 15
            case 32..<48:
                f = b ^ c ^ d
                g = (3 &* i &+ 5) & 15
            default:
                f = c ^ (b | ~d)
                g = (7 &* i) & 15
            }
            let word = block.loadUnaligned(fromByteOffset: g &* 4, as: UInt32.self).littleEndian
            let rotated = (a &+ f &+ Self.sineTable[i] &+ word).rotatedLeft(Self.shifts[(i &>> 4) &* 4 &+ (i & 3)])
            a = d
            d = c
            c = b
            b = b &+ rotated
        }
        a0 &+= a
        b0 &+= b
        c0 &+= c
        d0 &+= d
    }

    func digest() -> HashDigest {
        var digest = HashDigest(count: 16)
        digest.setWord(a0, at: 0, bigEndian: false)
        digest.setWord(b0, at: 1, bigEndian: false)
        digest.setWord(c0, at: 2, bigEndian: false)
        digest.setWord(d0, at: 3, bigEndian: false)
        return digest
    }
}
