import Testing
@testable import FunAD

/// The certified projected bank search must give the exact top two of
/// `NearestNeighbours.topTwo` (same indices, distances equal up to rounding) whether the
/// bound certifies the queries or sends them to the full search.
@Suite struct ProjectedBankSearchTests {
    /// Rows near a low-dimensional subspace: `latent`-d Gaussian-ish coordinates mapped
    /// into D dimensions by a seeded matrix, plus small isotropic noise. The principal
    /// subspace holds most of every difference, so most queries are certified.
    func lowRank(_ n: Int, d: Int, latent: Int, noise: Float, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: 77)            // the same mixing matrix for bank and queries
        let mix = (0..<(latent * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        var draw = SplitMix64(seed: seed)
        var out = [Float](repeating: 0, count: n * d)
        for r in 0..<n {
            let z = (0..<latent).map { _ in Float(draw.nextUnit() * 2 - 1) * 3 }
            for k in 0..<d {
                var v: Float = 0
                for t in 0..<latent { v += z[t] * mix[t * d + k] }
                out[r * d + k] = v + Float(draw.nextUnit() * 2 - 1) * noise
            }
        }
        return out
    }

    func compare(bank: [Float], queries: [Float], d: Int, excluded: [Int32]?, rank: Int, candidates: Int) -> (certified: Int, queries: Int) {
        let m = bank.count / d, q = queries.count / d
        return bank.withUnsafeBufferPointer { b in
            queries.withUnsafeBufferPointer { qs in
                let want: TopTwoNeighbours
                let got: ProjectedBankSearch.Outcome
                let index = ProjectedBankSearch(bank: b.baseAddress!, count: m, dimension: d, rank: rank, candidates: candidates,
                                                sampleRows: 300, seed: 5)
                if let excluded {
                    (want, got) = excluded.withUnsafeBufferPointer { ex in
                        (NearestNeighbours.topTwo(queries: qs.baseAddress!, queryCount: q, bank: b.baseAddress!, bankCount: m,
                                                  dimension: d, excluded: ex.baseAddress, queryBlock: 64, bankBlock: 100),
                         index.topTwo(queries: qs.baseAddress!, queryCount: q, bank: b.baseAddress!, excluded: ex.baseAddress,
                                      queryBlock: 50, bankBlock: 128))
                    }
                } else {
                    want = NearestNeighbours.topTwo(queries: qs.baseAddress!, queryCount: q, bank: b.baseAddress!, bankCount: m, dimension: d)
                    got = index.topTwo(queries: qs.baseAddress!, queryCount: q, bank: b.baseAddress!, queryBlock: 50, bankBlock: 128)
                }
                #expect(got.result.firstIndex == want.firstIndex)
                #expect(got.result.secondIndex == want.secondIndex)
                for i in 0..<q {
                    #expect(abs(got.result.firstDistance[i] - want.firstDistance[i]) <= 1e-3 * max(1, want.firstDistance[i]))
                    #expect(abs(got.result.secondDistance[i] - want.secondDistance[i]) <= 1e-3 * max(1, want.secondDistance[i]))
                }
                return (got.certified, q)
            }
        }
    }

    /// Low intrinsic dimension: the bound certifies most queries; answers exact, with the
    /// queries' own bank rows excluded (the trainer's self-exclusion) for some of them.
    @Test func certifiesMostQueriesOnLowRankDataAndStaysExact() {
        let d = 96
        let bank = lowRank(700, d: d, latent: 6, noise: 0.01, seed: 1)
        var queries = lowRank(150, d: d, latent: 6, noise: 0.01, seed: 2)
        queries += Array(bank[(10 * d)..<(40 * d)])                       // 30 bank rows as queries…
        var excluded = [Int32](repeating: -1, count: 180)
        for i in 0..<30 { excluded[150 + i] = Int32(10 + i) }            // …each excluding itself
        let (certified, total) = compare(bank: bank, queries: queries, d: d, excluded: excluded, rank: 16, candidates: 8)
        print("projected search, low-rank data: \(certified)/\(total) certified")
        #expect(certified * 10 >= total * 8)
    }

    /// Isotropic noise in D dimensions: a 4-d projection proves almost nothing, so the
    /// queries go to the full search — and the answers are still exact.
    @Test func fallsBackToTheFullSearchWhenTheBoundIsWeak() {
        var rng = SplitMix64(seed: 3)
        let d = 40
        let bank = (0..<(500 * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let queries = (0..<(90 * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }
        let (certified, total) = compare(bank: bank, queries: queries, d: d, excluded: nil, rank: 4, candidates: 4)
        print("projected search, isotropic data: \(certified)/\(total) certified")
        #expect(certified * 2 < total)
    }

    /// A bank no larger than the candidate list (every row re-ranked), a rank above D − 1
    /// (capped), and a one-row bank with that row excluded (no neighbour: −1, +∞).
    @Test func degenerateBanks() {
        let d = 12
        let bank = lowRank(6, d: d, latent: 3, noise: 0.1, seed: 4)
        let queries = lowRank(20, d: d, latent: 3, noise: 0.1, seed: 5)
        let (certified, total) = compare(bank: bank, queries: queries, d: d, excluded: nil, rank: 50, candidates: 16)
        #expect(certified == total)
        let one = Array(bank[0..<d])
        one.withUnsafeBufferPointer { b in
            let index = ProjectedBankSearch(bank: b.baseAddress!, count: 1, dimension: d, rank: 4, candidates: 4)
            var ex: [Int32] = [0]
            let out = ex.withUnsafeMutableBufferPointer { e in
                index.topTwo(queries: b.baseAddress!, queryCount: 1, bank: b.baseAddress!, excluded: e.baseAddress)
            }
            #expect(out.result.firstIndex == [-1] && out.result.secondIndex == [-1])
            #expect(out.result.firstDistance == [.infinity])
        }
    }

    /// The basis is orthonormal (the bound needs it) even when the sample has lower rank
    /// than requested.
    @Test func basisIsOrthonormal() {
        let d = 20
        let sample = lowRank(30, d: d, latent: 3, noise: 0, seed: 6)
        let basis = ProjectedBankSearch.principalBasis(sample: sample, rows: 30, dimension: d, rank: 8, iterations: 3, seed: 1)
        for a in 0..<8 {
            for b in 0..<8 {
                var dot: Float = 0
                for k in 0..<d { dot += basis[a * d + k] * basis[b * d + k] }
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-5, "rows \(a), \(b): \(dot)")
            }
        }
    }
}
