/// A seeded, serialisable pseudo-random generator shared by everything in FunAD that
/// draws random numbers (initialisation, shuffling, bank sampling, perturbation).
///
/// xoshiro256** (Blackman & Vigna, 2018): 256-bit state, period 2^256 − 1, passes
/// BigCrush; the state is seeded from one `UInt64` through SplitMix64 as its authors
/// recommend. Every draw takes this generator explicitly, so the same seed gives the
/// same run, and the four state words can be written to a checkpoint and restored.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable, Equatable, Codable {
    /// The generator state; exposed so that checkpoints can store and restore it.
    public private(set) var state: [UInt64]

    /// Seeds the 256-bit state with four outputs of SplitMix64 started at `seed`.
    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        state = [sm.next(), sm.next(), sm.next(), sm.next()]
    }

    /// Restores a state saved from `state`. Throws if it is not four words or all zero
    /// (the one state xoshiro cannot leave).
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw RandomStateError("xoshiro256** state: expected 4 words, not all zero; got \(state)")
        }
        self.state = state
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    public mutating func next() -> UInt64 {
        let result = Self.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = Self.rotl(state[3], 45)
        return result
    }

    /// Uniform Float in [0, 1) from the top 24 bits (every value exactly representable).
    @inline(__always)
    public mutating func nextUnitFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform Double in [0, 1) from the top 53 bits.
    @inline(__always)
    public mutating func nextUnitDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<bound without modulo bias (Lemire's multiply-shift with
    /// rejection). `bound` must be positive.
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "nextIndex(below:) needs a positive bound")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle of `0..<count`, drawing only from this generator (the
    /// standard library's `shuffle(using:)` does not promise a stable algorithm).
    public mutating func permutation(_ count: Int) -> [Int] {
        var p = Array(0..<count)
        if count < 2 { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            p.swapAt(i, nextIndex(below: i + 1))
        }
        return p
    }

    /// `k` distinct elements of `items`, drawn uniformly without replacement, in draw
    /// order (a partial Fisher–Yates shuffle).
    public mutating func sample<T>(_ items: [T], count k: Int) -> [T] {
        var pool = items
        let k = min(max(k, 0), pool.count)
        for i in 0..<k { pool.swapAt(i, i + nextIndex(below: pool.count - i)) }
        return Array(pool[0..<k])
    }
}

// SplitMix64 (Support/SplitMix64.swift) expands one seed word into the xoshiro state,
// as the xoshiro authors advise.

/// A saved generator state that cannot be restored.
public struct RandomStateError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
