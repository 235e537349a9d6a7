import Foundation

/// Exact top-two bank search that does most of its work in a low-dimensional subspace
/// and proves, query by query, that the answer is the exact one.
///
/// For an orthonormal basis U (k × D) of the bank's principal subspace, the projected
/// distance ‖U(q − m)‖² never exceeds ‖q − m‖² (a projection cannot lengthen a vector).
/// So the search takes, for each query, the C bank rows with the smallest projected
/// distance, computes their exact distances, and keeps the exact top two among them.
/// If the (C+1)-th smallest projected distance is at least the exact second distance,
/// no row outside the candidates can be closer than either winner: the answer is
/// certified exact. Queries that fail the test are searched again in full
/// (`NearestNeighbours.topTwo`), so the result is always the exact top two; the basis
/// only decides how many queries need the full search. The projected pass costs
/// Q·M·k instead of Q·M·D multiply-adds (k = 128 of D = 1432 with Lite0).
///
/// Distances differ from `NearestNeighbours.topTwo` by float rounding only (the
/// candidates' distances are summed directly, the full search expands ‖q‖² + ‖m‖² − 2q·m).
package struct ProjectedBankSearch: Sendable {
    let dimension: Int
    let rank: Int
    let count: Int
    /// (rank, D): orthonormal rows spanning the bank's leading principal subspace.
    let basis: [Float]
    /// The bank mean: rows and queries are centred before projection, which keeps the
    /// projected norms small and the expanded distance free of cancellation.
    let mean: [Float]
    /// (count, rank): the centred, projected bank.
    let projected: [Float]
    let projectedNorms: [Float]
    /// Candidates re-ranked exactly per query.
    let candidates: Int

    /// Statistics of one search.
    package struct Outcome: Sendable {
        package var result: TopTwoNeighbours
        /// Queries whose answer the bound proved; the rest were searched in full.
        package var certified: Int
    }

    /// - rank: dimension of the subspace (capped at D − 1 and at the rows sampled).
    /// - sampleRows: bank rows (an even stride through the bank) that estimate the
    ///   principal subspace; subspace iteration with `iterations` passes from a seeded
    ///   start. The basis affects only speed, never the answer.
    package init(bank: UnsafePointer<Float>, count: Int, dimension d: Int, rank: Int = 128, candidates: Int = 16,
                 sampleRows: Int = 4096, iterations: Int = 3, seed: UInt64 = 0) {
        precondition(count > 0 && d > 1)
        self.dimension = d
        self.count = count
        self.candidates = max(2, candidates)
        // Mean of the bank.
        var mean = [Double](repeating: 0, count: d)
        for r in 0..<count { for k in 0..<d { mean[k] += Double(bank[r * d + k]) } }
        let meanF = mean.map { Float($0 / Double(count)) }
        self.mean = meanF
        // Centred sample S (s, D).
        let s = min(count, sampleRows)
        var sample = [Float](repeating: 0, count: s * d)
        for i in 0..<s {
            let r = i * count / s
            for k in 0..<d { sample[i * d + k] = bank[r * d + k] - meanF[k] }
        }
        let k = max(1, min(rank, d - 1, s))
        self.rank = k
        let basis = Self.principalBasis(sample: sample, rows: s, dimension: d, rank: k, iterations: iterations, seed: seed)
        self.basis = basis
        // Projected bank: (count, k) = (bank − mean) · Uᵀ, a chunk of rows at a time.
        var projected = [Float](repeating: 0, count: count * k)
        let chunk = 4096
        let centred = UnsafeMutablePointer<Float>.allocate(capacity: chunk * d)
        defer { centred.deallocate() }
        basis.withUnsafeBufferPointer { u in
            projected.withUnsafeMutableBufferPointer { out in
                var r0 = 0
                while r0 < count {
                    let n = min(chunk, count - r0)
                    for i in 0..<n { for c in 0..<d { centred[i * d + c] = bank[(r0 + i) * d + c] - meanF[c] } }
                    BLAS.gemm(centred, u.baseAddress!, out.baseAddress! + r0 * k, m: n, n: k, k: d, transB: true)
                    r0 += n
                }
            }
        }
        self.projected = projected
        projectedNorms = NearestNeighbours.squaredNorms(projected, rows: count, dimension: k)
    }

    /// Orthonormal rows (rank, D) spanning (approximately) the top principal directions of
    /// the centred sample: subspace iteration V ← orth(Sᵀ S V) from a seeded Gaussian start,
    /// modified Gram–Schmidt in double precision.
    static func principalBasis(sample: [Float], rows s: Int, dimension d: Int, rank k: Int, iterations: Int,
                               seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        var v = (0..<(k * d)).map { _ in Float(rng.nextUnit() * 2 - 1) }   // (k, D) rows
        orthonormalise(&v, rows: k, dimension: d)
        var sv = [Float](repeating: 0, count: s * k)
        for _ in 0..<max(1, iterations) {
            // SV (s, k) = S (s, D) · Vᵀ;  V (k, D) = (SV)ᵀ · S
            BLAS.gemm(sample, v, &sv, m: s, n: k, k: d, transB: true)
            BLAS.gemm(sv, sample, &v, m: k, n: d, k: s, transA: true)
            orthonormalise(&v, rows: k, dimension: d)
        }
        return v
    }

    /// Modified Gram–Schmidt on the rows of v (rows, D); a row that vanishes (rank
    /// deficiency) is replaced by a coordinate direction not yet spanned.
    static func orthonormalise(_ v: inout [Float], rows: Int, dimension d: Int) {
        var basis = [[Double]]()
        basis.reserveCapacity(rows)
        var nextAxis = 0
        for r in 0..<rows {
            var x = (0..<d).map { Double(v[r * d + $0]) }
            var attempts = 0
            while true {
                for b in basis {
                    var dot = 0.0
                    for c in 0..<d { dot += x[c] * b[c] }
                    for c in 0..<d { x[c] -= dot * b[c] }
                }
                var norm = 0.0
                for c in 0..<d { norm += x[c] * x[c] }
                norm = norm.squareRoot()
                if norm > 1e-9 || attempts > d { 
                    let inv = norm > 0 ? 1 / norm : 0
                    for c in 0..<d { x[c] *= inv }
                    break
                }
                x = [Double](repeating: 0, count: d)
                x[nextAxis % d] = 1
                nextAxis += 1
                attempts += 1
            }
            basis.append(x)
            for c in 0..<d { v[r * d + c] = Float(x[c]) }
        }
    }

    /// ‖x − y‖² over n values, eight lanes at a time.
    @inline(__always)
    static func squaredDistance(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        let rx = UnsafeRawPointer(x), ry = UnsafeRawPointer(y)
        var t = 0
        while t + 8 <= n {
            let diff = rx.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self) - ry.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self)
            acc += diff * diff
            t += 8
        }
        var s = acc.sum()
        while t < n { let diff = x[t] - y[t]; s += diff * diff; t += 1 }
        return s
    }

    /// The exact two nearest bank rows of each query (`NearestNeighbours.topTwo`'s
    /// contract: squared distances, row `excluded[q]` skipped, −1/+∞ for a missing
    /// neighbour), certified by the projected bound or searched in full.
    package func topTwo(queries: UnsafePointer<Float>, queryCount: Int, bank: UnsafePointer<Float>,
                        excluded: UnsafePointer<Int32>? = nil, queryBlock: Int = 512, bankBlock: Int = 4096) -> Outcome {
        let d = dimension, k = rank, c = min(candidates, count)
        var result = TopTwoNeighbours(
            firstDistance: .init(repeating: .infinity, count: queryCount), firstIndex: .init(repeating: -1, count: queryCount),
            secondDistance: .init(repeating: .infinity, count: queryCount), secondIndex: .init(repeating: -1, count: queryCount))
        guard queryCount > 0 else { return Outcome(result: result, certified: 0) }
        let qb = max(1, min(queryBlock, queryCount)), mb = max(1, min(bankBlock, count))
        let centred = UnsafeMutablePointer<Float>.allocate(capacity: qb * d)
        defer { centred.deallocate() }
        let pq = UnsafeMutablePointer<Float>.allocate(capacity: qb * k)
        defer { pq.deallocate() }
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: qb * mb)
        defer { tile.deallocate() }
        // Per query of the block: the c + 1 smallest projected values (sorted ascending)
        // and their rows; slot c is the best non-candidate.
        let slots = c + 1
        let heapValue = UnsafeMutablePointer<Float>.allocate(capacity: qb * slots)
        defer { heapValue.deallocate() }
        let heapIndex = UnsafeMutablePointer<Int32>.allocate(capacity: qb * slots)
        defer { heapIndex.deallocate() }
        var uncertified: [Int] = []
        basis.withUnsafeBufferPointer { u in
        projected.withUnsafeBufferPointer { pm in
        projectedNorms.withUnsafeBufferPointer { pn in
            var q0 = 0
            while q0 < queryCount {
                let nq = min(qb, queryCount - q0)
                for i in 0..<nq { for t in 0..<d { centred[i * d + t] = queries[(q0 + i) * d + t] - mean[t] } }
                BLAS.gemm(centred, u.baseAddress!, pq, m: nq, n: k, k: d, transB: true)
                heapValue.initialize(repeating: .infinity, count: nq * slots)
                heapIndex.initialize(repeating: -1, count: nq * slots)
                var m0 = 0
                while m0 < count {
                    let nm = min(mb, count - m0)
                    // tile (nq, nm) = −2 · PQ · PMᵀ; + ‖PM‖² below (‖PQ‖² is added at the end).
                    BLAS.gemm(pq, pm.baseAddress! + m0 * k, tile, m: nq, n: nm, k: k, transB: true, alpha: -2)
                    for i in 0..<nq {
                        let row = tile + i * nm
                        let values = heapValue + i * slots, indices = heapIndex + i * slots
                        let skip = excluded.map { Int($0[q0 + i]) - m0 } ?? -1
                        var worst = values[slots - 1]
                        for j in 0..<nm where j != skip {
                            let v = row[j] + pn[m0 + j]
                            if v < worst {
                                // Insert into the sorted slots (drops the last).
                                var p = slots - 1
                                while p > 0 && values[p - 1] > v { values[p] = values[p - 1]; indices[p] = indices[p - 1]; p -= 1 }
                                values[p] = v; indices[p] = Int32(m0 + j)
                                worst = values[slots - 1]
                            }
                        }
                    }
                    m0 += nm
                }
                // Exact distances of the candidates, top two, certificate.
                for i in 0..<nq {
                    let q = q0 + i
                    let query = queries + q * d
                    let values = heapValue + i * slots, indices = heapIndex + i * slots
                    var a = Float.infinity, ia: Int32 = -1, b = Float.infinity, ib: Int32 = -1
                    for s in 0..<c where indices[s] >= 0 {
                        let row = bank + Int(indices[s]) * d
                        NearestNeighbours.insertCandidate(&a, &ia, &b, &ib, Self.squaredDistance(query, row, d), indices[s])
                    }
                    var qq: Float = 0
                    for t in 0..<k { qq += pq[i * k + t] * pq[i * k + t] }
                    // Smallest projected distance outside the candidates (+∞ if every row is one).
                    let outside = indices[c] >= 0 ? values[c] + qq : Float.infinity
                    // The bound must beat the second exact distance with room for rounding in
                    // the expanded projected value (relative to the norms it was formed from).
                    let slack: Float = 1e-4 * (qq + pn[max(0, Int(indices[c]))]) + 1e-6 * b
                    if indices[c] < 0 || (ib >= 0 && outside - slack >= b) {
                        // Certified, or every row was a candidate (the answer is complete).
                        result.firstDistance[q] = a; result.firstIndex[q] = ia
                        result.secondDistance[q] = b; result.secondIndex[q] = ib
                    } else {
                        uncertified.append(q)
                    }
                }
                q0 += nq
            }
        }}}
        let certified = queryCount - uncertified.count
        if !uncertified.isEmpty {
            // The full search for the rest, gathered into one block.
            let n = uncertified.count
            let gathered = UnsafeMutablePointer<Float>.allocate(capacity: n * d)
            defer { gathered.deallocate() }
            var ex = [Int32](repeating: -1, count: n)
            for (i, q) in uncertified.enumerated() {
                (gathered + i * d).update(from: queries + q * d, count: d)
                if let excluded { ex[i] = excluded[q] }
            }
            let full = ex.withUnsafeBufferPointer { e in
                NearestNeighbours.topTwo(queries: gathered, queryCount: n, bank: bank, bankCount: count, dimension: d,
                                         excluded: excluded == nil ? nil : e.baseAddress)
            }
            for (i, q) in uncertified.enumerated() {
                result.firstDistance[q] = full.firstDistance[i]; result.firstIndex[q] = full.firstIndex[i]
                result.secondDistance[q] = full.secondDistance[i]; result.secondIndex[q] = full.secondIndex[i]
            }
        }
        return Outcome(result: result, certified: certified)
    }
}
