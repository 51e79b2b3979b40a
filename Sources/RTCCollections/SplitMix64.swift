/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny seeded pseudo-random generator, for what must
/// repeat from a seed: the mesh overlay's choices, network impairment, tests built on random input
/// (loss patterns, hostile bytes, mutations). Not for secrets.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// True with `probability` (0...1).
    public mutating func chance(_ probability: Double) -> Bool {
        probability > 0 && Double(next() % 1_000_000) < probability * 1_000_000
    }
}
