import Foundation
import Testing
@testable import FunAD

@Suite struct KNNTests {
    /// Blocked sgemm 2-NN with per-query exclusion against a Double brute force.
    /// Blocks (64 × 100) smaller than the sets and not dividing them exercise partial
    /// tiles. Distances are squared L2 of values ~N(0,1) in 17-d (~34): Float expansion
    /// error is ~1e-5 relative, so 1e-4·(1 + d) bounds it; indices must agree wherever
    /// the reference's gap to the next candidate exceeds that tolerance.
    @Test func topTwoWithExclusionMatchesBruteForce() {
        let q = 300, m = 517, d = 17
        var rng = Xoshiro256StarStar(seed: 21)
        var queries = [Float](repeating: 0, count: q * d), bank = [Float](repeating: 0, count: m * d)
        rng.fillGaussian(&queries, count: queries.count)
        rng.fillGaussian(&bank, count: bank.count)
        // Half the queries are exact copies of a bank row that is then excluded (self).
        var excluded = [Int32](repeating: -1, count: q)
        for i in stride(from: 0, to: q, by: 2) {
            let r = rng.nextIndex(below: m)
            for k in 0..<d { queries[i * d + k] = bank[r * d + k] }
            excluded[i] = Int32(r)
        }
        let got = NearestNeighbours.topTwo(queries: queries, queryCount: q, bank: bank, bankCount: m, dimension: d,
                                           excluded: excluded, queryBlock: 64, bankBlock: 100)
        var worst = 0.0
        for i in 0..<q {
            var all: [(Double, Int)] = []
            for r in 0..<m where r != Int(excluded[i]) {
                var s = 0.0
                for k in 0..<d { let e = Double(queries[i * d + k]) - Double(bank[r * d + k]); s += e * e }
                all.append((s, r))
            }
            all.sort { $0 < $1 }
            let tol = 1e-4 * (1 + all[0].0)
            worst = max(worst, abs(Double(got.firstDistance[i]) - all[0].0), abs(Double(got.secondDistance[i]) - all[1].0))
            #expect(abs(Double(got.firstDistance[i]) - all[0].0) <= tol)
            #expect(abs(Double(got.secondDistance[i]) - all[1].0) <= tol)
            if all[1].0 - all[0].0 > tol { #expect(Int(got.firstIndex[i]) == all[0].1, "query \(i)") }
            if all[2].0 - all[1].0 > tol && all[1].0 - all[0].0 > tol { #expect(Int(got.secondIndex[i]) == all[1].1, "query \(i)") }
            #expect(got.firstIndex[i] != excluded[i] && got.secondIndex[i] != excluded[i])
        }
        print("KNN top-2 vs brute force: max abs distance error \(worst)")
    }

    /// A bank of one row that is the query's own copy: no neighbour (index −1, +∞),
    /// which the official rule turns into distance 0.
    @Test func excludedOnlyRowLeavesNoNeighbour() {
        let v: [Float] = [1, 2, 3]
        let got = NearestNeighbours.topTwo(queries: v, queryCount: 1, bank: v, bankCount: 1, dimension: 3, excluded: [0])
        #expect(got.firstIndex == [-1] && got.firstDistance == [.infinity])
        #expect(NearestBankDistance.distances(got, zeroBelow: 1e-2) == [0])
    }

    /// The official zero rule by hand: (0.005, 0.3) → first counts as 0 → 0.3;
    /// (0.2, 0.5) → 0.2; (0.001, 0.009) → both 0 → 0.
    @Test func officialZeroRule() {
        let nn = TopTwoNeighbours(firstDistance: [0.005, 0.2, 0.001], firstIndex: [0, 1, 2],
                                  secondDistance: [0.3, 0.5, 0.009], secondIndex: [3, 4, 5])
        #expect(NearestBankDistance.distances(nn, zeroBelow: 1e-2) == [0.3, 0.2, 0])
    }
}
