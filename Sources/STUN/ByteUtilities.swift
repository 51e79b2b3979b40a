// Bounds-explicit big-endian helpers. Every caller checks `offset + width <= count`
// before reading; the helpers themselves only assemble bytes.

extension UnsafeRawBufferPointer {
    /// Big-endian `UInt16` at `offset`; the caller has checked `offset + 2 <= count`.
    @inline(__always)
    func stunUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) &<< 8 | UInt16(self[offset + 1])
    }

    /// Big-endian `UInt32` at `offset`; the caller has checked `offset + 4 <= count`.
    @inline(__always)
    func stunUInt32(at offset: Int) -> UInt32 {
        UInt32(stunUInt16(at: offset)) &<< 16 | UInt32(stunUInt16(at: offset + 2))
    }

    /// Big-endian `UInt64` at `offset`; the caller has checked `offset + 8 <= count`.
    @inline(__always)
    func stunUInt64(at offset: Int) -> UInt64 {
        UInt64(stunUInt32(at: offset)) &<< 32 | UInt64(stunUInt32(at: offset + 4))
    }

    /// The bytes in `range` (which lies within `0..<count`) as a zero-based buffer, without copying.
    @inline(__always)
    func stunSlice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension Array where Element == UInt8 {
    /// Appends `value` in network byte order.
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

/// Compares two MACs in time that depends only on their length (not on where they differ).
func constantTimeEqual(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in 0..<lhs.count {
        difference |= lhs[index] ^ rhs[index]
    }
    return difference == 0
}
