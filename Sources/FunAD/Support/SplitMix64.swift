import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of xoshiro): a tiny,
/// fast, well-mixed 64-bit PRNG. Every random draw in funad takes an explicit seed, and
/// this generator makes the same sequence on every platform and Swift version (unlike
/// `SystemRandomNumberGenerator` or the standard library's unspecified algorithms).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

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

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [0, 1) as Float (24 random bits).
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Uniform integer in 0..<bound (Lemire's multiply-shift with rejection: unbiased,
    /// and independent of the standard library's algorithm choices).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let b = UInt64(bound)
        while true {
            let r = next().multipliedFullWidth(by: b)
            if r.low >= b || r.low >= (0 &- b) % b { return Int(r.high) }
        }
    }

    /// Same as `nextDouble()`; the name the PatchCore coreset code and its Python replay use.
    public mutating func nextUnit() -> Double { nextDouble() }

    /// An integer in 0..<n by `next() % n` (the modulo bias, < n/2⁶⁴, is irrelevant at the
    /// sizes used and keeps the fixture scripts' Python replay a one-liner). Unlike
    /// `nextInt(below:)`, which is unbiased; the two are not interchangeable for replays.
    public mutating func nextIndex(below n: Int) -> Int {
        precondition(n > 0, "SplitMix64.nextIndex: empty range")
        return Int(next() % UInt64(n))
    }

    /// Standard normal draw (Box–Muller).
    public mutating func nextGaussian() -> Double {
        let u1 = max(nextDouble(), 1e-300), u2 = nextDouble()
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }

    /// A generator for a sub-stream, e.g. per image index, that does not depend on how
    /// many draws other streams made (so parallel work stays reproducible).
    public static func derived(seed: UInt64, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }

    /// Fisher–Yates shuffle driven only by this generator.
    public mutating func shuffle<T>(_ array: inout [T]) {
        if array.count < 2 { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
