import Testing
@testable import FunAD

/// The grouped bank search (`PrefixGroupedBank`) against a brute-force double-precision
/// nearest distance, on banks with the layout of patch features [global ‖ local]: the
/// grouping must be found, must give the exact nearest distance, and must not be used
/// where the structure is absent.
@Suite struct PrefixGroupedBankTests {
    func uniform(_ n: Int, _ rng: inout SplitMix64, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) * scale }
    }

    /// `images` images of `rowsPerImage` rows each: a per-image global of length g, then
    /// per-row locals of length l. Globals are larger than locals, as with Lite0.
    func patchFeatures(images: Int, rowsPerImage: [Int], g: Int, l: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var out = [Float]()
        for i in 0..<images {
            let global = uniform(g, &rng, scale: 3)
            for _ in 0..<rowsPerImage[i % rowsPerImage.count] { out += global + uniform(l, &rng) }
        }
        return out
    }

    func bruteForce(_ queries: [Float], _ bank: [Float], d: Int) -> [Double] {
        BruteForceNearest.squaredDistances(queries: queries, bank: bank, dimension: d)
    }

    func nearest(_ s: NearestNeighbourSearch, _ queries: [Float]) -> [Float] {
        let q = queries.count / s.dimension
        var out = [Float](repeating: 0, count: q)
        queries.withUnsafeBufferPointer { qb in out.withUnsafeMutableBufferPointer { s.nearest(qb.baseAddress!, count: q, minDistance2: $0.baseAddress!) } }
        return out
    }

    /// Uneven group sizes (a coreset keeps 1 to 9 patches of an image), bank blocks and
    /// query blocks spanned, queries from images absent from the bank and one bank image
    /// repeated as queries (distance 0 through the prefix term).
    @Test func groupedSearchEqualsBruteForce() throws {
        let g = 40, l = 12, d = g + l
        let bank = patchFeatures(images: 300, rowsPerImage: [1, 9, 4, 7, 2], g: g, l: l, seed: 3)
        let search = NearestNeighbourSearch(bank: bank, count: bank.count / d, dimension: d)
        let grouped = try #require(search.grouped)
        #expect(grouped.prefixLength == g)
        #expect(grouped.groupCount == 300)
        var queries = patchFeatures(images: 5, rowsPerImage: [64], g: g, l: l, seed: 4)
        queries += Array(bank[(1 * d)..<(10 * d)])         // rows 1…9: bank image 1, all 9 of its rows
        #expect(search.usesPrefix(queries, count: queries.count / d))
        let got = nearest(search, queries)
        let want = bruteForce(queries, bank, d: d)
        var worst = 0.0
        for i in want.indices {
            let scale = max(1, want[i])
            worst = max(worst, abs(Double(got[i]) - want[i]) / scale)
        }
        print("grouped bank search: max error relative to max(1, d²): \(worst)")
        #expect(worst < 1e-5)
        // A bank row as its own query: 0 (local term by expansion; the prefix term is exact).
        for i in (5 * 64)..<(5 * 64 + 9) { #expect(got[i] < 1e-4) }
        // The full search agrees with it (both are exact up to rounding).
        let full = NearestNeighbourSearch(bank: bank, count: bank.count / d, dimension: d, exploitPrefix: false)
        #expect(full.grouped == nil)
        let reference = nearest(full, queries)
        for i in got.indices { #expect(abs(got[i] - reference[i]) <= 1e-3 * max(1, reference[i])) }
    }

    @Test func noStructureMeansFullSearch() {
        var rng = SplitMix64(seed: 9)
        let d = 32
        let bank = uniform(200 * d, &rng)
        #expect(NearestNeighbourSearch(bank: bank, count: 200, dimension: d).grouped == nil)
        // A prefix shorter than d/8 does not count.
        let short = patchFeatures(images: 20, rowsPerImage: [10], g: 3, l: d - 3, seed: 5)
        #expect(NearestNeighbourSearch(bank: short, count: 200, dimension: d).grouped == nil)
        // Too many groups for the rows (every image has one row): not worth it.
        let singletons = patchFeatures(images: 200, rowsPerImage: [1], g: 16, l: 16, seed: 6)
        #expect(NearestNeighbourSearch(bank: singletons, count: 200, dimension: d).grouped == nil)
    }

    /// Queries that do not come in runs (every query from another image) use the full
    /// search, and still get the exact answer.
    @Test func queriesWithoutRunsUseTheFullSearch() {
        let g = 24, l = 8, d = g + l
        let bank = patchFeatures(images: 40, rowsPerImage: [6], g: g, l: l, seed: 7)
        let search = NearestNeighbourSearch(bank: bank, count: 240, dimension: d)
        #expect(search.grouped != nil)
        let queries = patchFeatures(images: 16, rowsPerImage: [1], g: g, l: l, seed: 8)
        #expect(!search.usesPrefix(queries, count: 16))
        let got = nearest(search, queries), want = bruteForce(queries, bank, d: d)
        for i in want.indices { #expect(abs(Double(got[i]) - want[i]) <= 1e-4 * max(1, want[i])) }
    }

    /// A prefix shared by most rows of a group but not all of them shortens G to what all
    /// share; the distances stay exact.
    @Test func partlySharedPrefixShortensIt() throws {
        let g = 32, l = 16, d = g + l
        var bank = patchFeatures(images: 30, rowsPerImage: [8], g: g, l: l, seed: 10)
        bank[5 * d + 20] += 0.5                            // row 5 (image 0) differs at position 20
        let search = NearestNeighbourSearch(bank: bank, count: 240, dimension: d)
        let grouped = try #require(search.grouped)
        #expect(grouped.prefixLength == 20)
        let queries = patchFeatures(images: 3, rowsPerImage: [16], g: g, l: l, seed: 11)
        let got = nearest(search, queries), want = bruteForce(queries, bank, d: d)
        for i in want.indices { #expect(abs(Double(got[i]) - want[i]) <= 1e-4 * max(1, want[i])) }
    }
}
