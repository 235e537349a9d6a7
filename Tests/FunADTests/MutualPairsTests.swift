import Foundation
import Testing
@testable import FunAD

@Suite struct MutualPairsTests {
    /// Points on a line: 0↔1 and 3↔3.5 are mutual; 10's nearest is 3.5, not mutual.
    @Test func handExample() {
        let x: [Float] = [0, 1, 3, 3.5, 10]
        let pairs = NearestNeighbours.mutualPairs(x, count: 5, dimension: 1)
        #expect(pairs.first == [0, 2] && pairs.second == [1, 3])
    }

    /// Against a Double brute force on 400 random 8-d points, with 70-row blocks (not
    /// dividing the set) so that diagonal, off-diagonal and partial tiles all occur.
    @Test func matchesBruteForce() {
        let n = 400, d = 8
        var rng = Xoshiro256StarStar(seed: 5)
        var x = [Float](repeating: 0, count: n * d)
        rng.fillGaussian(&x, count: x.count)
        var nearest = [Int](repeating: -1, count: n)
        for a in 0..<n {
            var best = Double.infinity
            for b in 0..<n where b != a {
                var s = 0.0
                for k in 0..<d { let e = Double(x[a * d + k]) - Double(x[b * d + k]); s += e * e }
                if s < best { best = s; nearest[a] = b }
            }
        }
        var expected: [(Int32, Int32)] = []
        for a in 0..<n where nearest[a] > a && nearest[nearest[a]] == a { expected.append((Int32(a), Int32(nearest[a]))) }
        let got = NearestNeighbours.mutualPairs(x, count: n, dimension: d, block: 70)
        #expect(got.first == expected.map(\.0))
        #expect(got.second == expected.map(\.1))
        #expect(got.count > 50) // random points: roughly 30 % of points are in a mutual pair
    }
}
