/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator. Every random
/// draw in FunAD takes an explicit seed, so a run is reproducible from its record.
/// The fixture scripts re-implement it in a few lines of Python to replay the same draws.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits: `Double(next() >> 11) · 2⁻⁵³`.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An integer in 0..<n by `next() % n` (the modulo bias, < n/2⁶⁴, is irrelevant at
    /// the sizes used and keeps the Python replay a one-liner).
    public mutating func nextIndex(below n: Int) -> Int {
        precondition(n > 0, "SplitMix64.nextIndex: empty range")
        return Int(next() % UInt64(n))
    }
}
