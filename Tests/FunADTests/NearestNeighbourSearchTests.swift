import Testing
@testable import FunAD

/// The full-row exact search (`NearestNeighbourSearch.nearestFull`) against a double-precision
/// brute force, with query and bank counts that span more than one 2048-row tile in both
/// directions and end in partial tiles (so the eight-lane minimum's tail runs too).
@Suite struct NearestNeighbourSearchTests {
    @Test func fullSearchAcrossTilesEqualsBruteForce() {
        var rng = SplitMix64(seed: 21)
        let d = 6
        let q = NearestNeighbourSearch.queryBlock + 13, m = NearestNeighbourSearch.bankBlock + 27
        let bank = (0..<(m * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let queries = (0..<(q * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let search = NearestNeighbourSearch(bank: bank, count: m, dimension: d, exploitPrefix: false)
        var got = [Float](repeating: -1, count: q)
        queries.withUnsafeBufferPointer { qb in
            got.withUnsafeMutableBufferPointer { search.nearestFull(qb.baseAddress!, count: q, minDistance2: $0.baseAddress!) }
        }
        let want = BruteForceNearest.squaredDistances(queries: queries, bank: bank, dimension: d)
        var worst = 0.0
        for i in 0..<q { worst = max(worst, abs(Double(got[i]) - want[i])) }
        // Squared distances of ≤ 24 here; the ‖q‖² + ‖m‖² − 2q·m route loses a few ulps of 24.
        #expect(worst < 1e-5)
    }

    /// The eight-lane row minimum is the scalar loop's answer for every length and position
    /// of the minimum, including a NaN sum, which both skip.
    @Test func rowMinimumMatchesTheScalarLoop() {
        var rng = SplitMix64(seed: 22)
        for n in [1, 7, 8, 9, 16, 31, 100] {
            var row = (0..<n).map { _ in Float(rng.nextUnit()) }
            let offsets = (0..<n).map { _ in Float(rng.nextUnit()) }
            if n > 3 { row[3] = .nan }
            for start: Float in [.infinity, 0.5] {
                var scalar = start
                for j in 0..<n { scalar = min(scalar, row[j] + offsets[j]) }
                let lanes = row.withUnsafeBufferPointer { r in offsets.withUnsafeBufferPointer { o in
                    NearestNeighbourSearch.rowMinimum(r.baseAddress!, o.baseAddress!, count: n, start: start) } }
                #expect(lanes == scalar, "n \(n), start \(start)")
            }
        }
    }
}
