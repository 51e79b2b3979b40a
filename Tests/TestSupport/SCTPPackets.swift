// Forging SCTP packets (RFC 4960 §3): what the SCTP tests and the hostile-input tests share.

/// CRC32c (RFC 4960 Appendix B), to forge packets usrsctp does not reject for their checksum.
public func crc32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// Sets the checksum field of an SCTP packet (little-endian on the wire, as usrsctp computes it).
public func withChecksum(_ packet: [UInt8]) -> [UInt8] {
    guard packet.count >= 12 else { return packet }
    var copy = packet
    copy[8] = 0; copy[9] = 0; copy[10] = 0; copy[11] = 0
    let crc = crc32c(copy)
    copy[8] = UInt8(truncatingIfNeeded: crc)
    copy[9] = UInt8(truncatingIfNeeded: crc >> 8)
    copy[10] = UInt8(truncatingIfNeeded: crc >> 16)
    copy[11] = UInt8(truncatingIfNeeded: crc >> 24)
    return copy
}

/// The offsets of the chunks of an SCTP packet (after the 12-byte common header), stopping at the
/// first chunk whose length field is below 4 or runs past the end.
public func sctpChunkOffsets(_ packet: [UInt8]) -> [Int] {
    var offsets: [Int] = []
    var offset = 12
    while offset + 4 <= packet.count {
        let length = Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
        guard length >= 4, offset + length <= packet.count else { break }
        offsets.append(offset)
        offset += (length + 3) & ~3
    }
    return offsets
}
