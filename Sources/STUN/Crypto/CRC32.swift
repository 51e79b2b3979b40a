/// CRC-32 as used by FINGERPRINT (RFC 8489 §14.7, which refers to the ITU V.42 / ISO 3309
/// CRC: reflected polynomial 0xEDB88320, initial value and final XOR 0xFFFFFFFF).
struct CRC32: ByteSink {
    private static let table: [UInt32] = (0..<256).map { (index: UInt32) -> UInt32 in
        var value = index
        for _ in 0..<8 {
            value = value & 1 == 1 ? (value &>> 1) ^ 0xEDB8_8320 : value &>> 1
        }
        return value
    }

    private var state: UInt32 = 0xFFFF_FFFF

    init() {}

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        Self.table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc &>> 8)
            }
        }
        state = crc
    }

    /// The CRC of everything absorbed so far.
    var value: UInt32 {
        ~state
    }
}
