import Testing
@testable import FunAD

@Suite struct DataRandomTests {
    /// Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    @Test func splitMix64MatchesReferenceSequence() {
        var rng = SplitMix64(seed: 0)
        #expect(rng.next() == 0xE220_A839_7B1D_CDAF)
        #expect(rng.next() == 0x6E78_9E6A_A1B9_65F4)
        #expect(rng.next() == 0x06C4_5D18_8009_454F)
    }

    @Test func boundedDrawsStayInRangeAndCoverIt() {
        var rng = SplitMix64(seed: 42)
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let v = rng.nextInt(below: 7)
            #expect(v >= 0 && v < 7)
            seen.insert(v)
        }
        #expect(seen.count == 7)
        for _ in 0..<1000 {
            let d = rng.nextDouble(), f = rng.nextFloat()
            #expect(d >= 0 && d < 1 && f >= 0 && f < 1)
        }
    }

    /// Sample moments of 20 000 draws: mean within 0.03 of 0 and variance within 0.05 of 1
    /// (about 4 standard errors each).
    @Test func gaussianDrawsHaveUnitMoments() {
        var rng = SplitMix64(seed: 5)
        let n = 20_000
        let xs = (0..<n).map { _ in rng.nextGaussian() }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)
        #expect(abs(mean) < 0.03)
        #expect(abs(variance - 1) < 0.05)
    }

    @Test func derivedStreamsDifferAndRepeat() {
        var a = SplitMix64.derived(seed: 9, stream: 1), b = SplitMix64.derived(seed: 9, stream: 1)
        var c = SplitMix64.derived(seed: 9, stream: 2)
        let x = (0..<4).map { _ in a.next() }
        #expect(x == (0..<4).map { _ in b.next() })
        #expect(x != (0..<4).map { _ in c.next() })
    }

    @Test func shuffleIsAPermutationAndSeeded() {
        var a = Array(0..<20), b = Array(0..<20), c = Array(0..<20)
        var r1 = SplitMix64(seed: 1), r2 = SplitMix64(seed: 1), r3 = SplitMix64(seed: 2)
        r1.shuffle(&a); r2.shuffle(&b); r3.shuffle(&c)
        #expect(a == b)
        #expect(a != c)
        #expect(a.sorted() == Array(0..<20))
    }
}
