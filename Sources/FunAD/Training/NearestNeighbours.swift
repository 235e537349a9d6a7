import Foundation

/// The two nearest bank rows of each query (squared L2 distances, ascending).
/// A missing neighbour (bank too small after exclusion) has index −1 and distance +∞.
public struct TopTwoNeighbours: Sendable, Equatable {
    public var firstDistance: [Float]
    public var firstIndex: [Int32]
    public var secondDistance: [Float]
    public var secondIndex: [Int32]
}

/// Mutually nearest pairs (a, b), a < b, each unordered pair once, sorted by a.
public struct MutualPairs: Sendable, Equatable {
    public var first: [Int32]
    public var second: [Int32]
    public var count: Int { first.count }
    package init(first: [Int32], second: [Int32]) { self.first = first; self.second = second }
}

/// Exact nearest-neighbour search through sgemm (METHOD.md step 2; TOOLCHAIN.md: the
/// ‖q‖² + ‖m‖² − 2·q·mᵀ route beats hand loops 3–10×). Queries and bank are walked in
/// blocks so that only a queryBlock × bankBlock distance tile exists at any time, never
/// the full Q × M matrix. Distances are squared L2 (as faiss IndexFlatL2 returns them,
/// which is what the official thresholds are tuned on), clamped at 0 against rounding.
public enum NearestNeighbours {
    /// Two nearest bank rows for each query, skipping bank row `excluded[q]` for query q
    /// (pass −1 for none; nil for no exclusion at all). Ties keep the lower bank index.
    /// queries (Q, D), bank (M, D), row-major.
    public static func topTwo(
        queries: UnsafePointer<Float>, queryCount: Int,
        bank: UnsafePointer<Float>, bankCount: Int, dimension d: Int,
        excluded: UnsafePointer<Int32>? = nil,
        queryBlock: Int = 1024, bankBlock: Int = 4096
    ) -> TopTwoNeighbours {
        var result = TopTwoNeighbours(
            firstDistance: .init(repeating: .infinity, count: queryCount), firstIndex: .init(repeating: -1, count: queryCount),
            secondDistance: .init(repeating: .infinity, count: queryCount), secondIndex: .init(repeating: -1, count: queryCount))
        guard queryCount > 0, bankCount > 0 else { return result }
        let qb = max(1, min(queryBlock, queryCount)), mb = max(1, min(bankBlock, bankCount))
        let bankNormArray = squaredNorms(bank, rows: bankCount, dimension: d)
        let queryNorms = squaredNorms(queries, rows: queryCount, dimension: d)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: qb * mb)
        defer { tile.deallocate() }
        let bankNorms = UnsafeMutablePointer<Float>.allocate(capacity: bankCount)
        defer { bankNorms.deallocate() }
        bankNorms.initialize(from: bankNormArray, count: bankCount)
        result.firstDistance.withUnsafeMutableBufferPointer { d1 in
        result.firstIndex.withUnsafeMutableBufferPointer { i1 in
        result.secondDistance.withUnsafeMutableBufferPointer { d2 in
        result.secondIndex.withUnsafeMutableBufferPointer { i2 in
            var q0 = 0
            while q0 < queryCount {
                let nq = min(qb, queryCount - q0)
                var m0 = 0
                while m0 < bankCount {
                    let nm = min(mb, bankCount - m0)
                    // tile (nq, nm) = −2 · Q_block · M_blockᵀ
                    BLAS.gemm(queries + q0 * d, bank + m0 * d, tile, m: nq, n: nm, k: d, transB: true, alpha: -2)
                    for r in 0..<nq {
                        let q = q0 + r
                        let row = tile + r * nm
                        // Self-exclusion: the excluded bank row can never be selected.
                        if let excluded {
                            let skip = Int(excluded[q]) - m0
                            if skip >= 0 && skip < nm { row[skip] = .infinity }
                        }
                        // ‖q‖² is the same for the whole row: it does not change the order,
                        // so it is added to the two winners only (after all blocks).
                        let (a, ia, b, ib) = scanTopTwo(row, bankNorms: bankNorms + m0, count: nm, firstIndex: Int32(m0))
                        mergeTopTwo(&d1[q], &i1[q], &d2[q], &i2[q], a, ia, b, ib)
                    }
                    m0 += nm
                }
                q0 += nq
            }
            for q in 0..<queryCount {
                d1[q] = max(0, d1[q] + queryNorms[q])
                d2[q] = max(0, d2[q] + queryNorms[q])
            }
        }}}}
        return result
    }

    /// Mutually nearest pairs among `count` features (count, D): a's nearest other
    /// feature is b and b's is a (self excluded by index; METHOD.md step 5, paper
    /// Eq. 30). Features of the same image may pair. Ties keep the lower index.
    ///
    /// The distance matrix is symmetric, so only the tiles on and above the diagonal are
    /// computed (half the GEMM work of a query-vs-bank search): each tile updates the
    /// nearest neighbour of its rows (row scan) and of its columns (column scan).
    /// Candidates reach every row in increasing index order, so strict `<` keeps the
    /// lowest index on ties.
    public static func mutualPairs(_ features: UnsafePointer<Float>, count: Int, dimension d: Int,
                                   block: Int = 2048) -> MutualPairs {
        var pairs = MutualPairs(first: [], second: [])
        guard count > 1 else { return pairs }
        let nb = max(1, min(block, count))
        let normArray = squaredNorms(features, rows: count, dimension: d)
        let norms = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { norms.deallocate() }
        norms.initialize(from: normArray, count: count)
        // best[i] = min over candidates j of ‖x_j‖² − 2·x_i·x_j (‖x_i‖² is constant for row i).
        let best = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { best.deallocate() }
        best.initialize(repeating: .infinity, count: count)
        var nearest = [Int32](repeating: -1, count: count)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: nb * nb)
        defer { tile.deallocate() }
        nearest.withUnsafeMutableBufferPointer { nnBuf in
            let nn = nnBuf.baseAddress!
            var i0 = 0
            while i0 < count {
                let ni = min(nb, count - i0)
                var j0 = i0
                while j0 < count {
                    let nj = min(nb, count - j0)
                    // tile (ni, nj) = −2 · X_I · X_Jᵀ
                    BLAS.gemm(features + i0 * d, features + j0 * d, tile, m: ni, n: nj, k: d, transB: true, alpha: -2)
                    // Row scan: candidates J for the rows of I.
                    for r in 0..<ni {
                        let row = tile + r * nj
                        if i0 == j0 { row[r] = .infinity } // self
                        let (v, k, _, _) = scanTopTwo(row, bankNorms: norms + j0, count: nj, firstIndex: Int32(j0))
                        if k >= 0 && v < best[i0 + r] { best[i0 + r] = v; nn[i0 + r] = k }
                    }
                    // Column scan: candidates I for the rows of J (only off the diagonal).
                    if j0 > i0 { scanColumns(tile, rows: ni, columns: nj, rowNorms: norms + i0, firstRow: Int32(i0),
                                             best: best + j0, nearest: nn + j0) }
                    j0 += nj
                }
                i0 += ni
            }
        }
        for a in 0..<count {
            let b = Int(nearest[a])
            if b > a && Int(nearest[b]) == a {
                pairs.first.append(Int32(a))
                pairs.second.append(Int32(b))
            }
        }
        return pairs
    }

    /// For each column c of tile (rows, columns): best[c] ← min(best[c], tile[r][c] +
    /// rowNorms[r]) over rows r in order, nearest[c] ← firstRow + r on improvement
    /// (strict <, so the lowest row wins ties). Eight columns at a time, branch-free.
    @inline(__always)
    static func scanColumns(_ tile: UnsafePointer<Float>, rows: Int, columns: Int, rowNorms: UnsafePointer<Float>,
                            firstRow: Int32, best: UnsafeMutablePointer<Float>, nearest: UnsafeMutablePointer<Int32>) {
        typealias V = SIMD8<Float>
        typealias I = SIMD8<Int32>
        let vectorEnd = columns & ~7
        let rawBest = UnsafeMutableRawPointer(best), rawNearest = UnsafeMutableRawPointer(nearest)
        var c = 0
        while c < vectorEnd {
            var m = rawBest.loadUnaligned(fromByteOffset: 4 * c, as: V.self)
            var k = rawNearest.loadUnaligned(fromByteOffset: 4 * c, as: I.self)
            for r in 0..<rows {
                let v = UnsafeRawPointer(tile + r * columns).loadUnaligned(fromByteOffset: 4 * c, as: V.self) + V(repeating: rowNorms[r])
                let lt = v .< m
                m.replace(with: v, where: lt)
                k.replace(with: I(repeating: firstRow + Int32(r)), where: lt)
            }
            rawBest.storeBytes(of: m, toByteOffset: 4 * c, as: V.self)
            rawNearest.storeBytes(of: k, toByteOffset: 4 * c, as: I.self)
            c += 8
        }
        while c < columns {
            for r in 0..<rows {
                let v = tile[r * columns + c] + rowNorms[r]
                if v < best[c] { best[c] = v; nearest[c] = firstRow + Int32(r) }
            }
            c += 1
        }
    }

    /// The two smallest values of row[c] + bankNorms[c], c in 0..<count, with their
    /// indices (firstIndex + c); ties keep the lower index. Eight lanes keep their own
    /// top two branch-free (SIMD selects), then the lanes and the tail are merged.
    @inline(__always)
    static func scanTopTwo(_ row: UnsafePointer<Float>, bankNorms: UnsafePointer<Float>, count: Int,
                           firstIndex: Int32) -> (Float, Int32, Float, Int32) {
        typealias V = SIMD8<Float>
        typealias I = SIMD8<Int32>
        var m1 = V(repeating: .infinity), m2 = V(repeating: .infinity)
        var j1 = I(repeating: -1), j2 = I(repeating: -1)
        var idx = I(0, 1, 2, 3, 4, 5, 6, 7) &+ firstIndex
        let step = I(repeating: 8)
        let vectorEnd = count & ~7
        let rawRow = UnsafeRawPointer(row), rawNorms = UnsafeRawPointer(bankNorms)
        var c = 0
        while c < vectorEnd {
            let v = rawRow.loadUnaligned(fromByteOffset: 4 * c, as: V.self)
                + rawNorms.loadUnaligned(fromByteOffset: 4 * c, as: V.self)
            let lt1 = v .< m1
            let lt2 = v .< m2
            m2.replace(with: v, where: lt2)
            j2.replace(with: idx, where: lt2)
            m2.replace(with: m1, where: lt1)
            j2.replace(with: j1, where: lt1)
            m1.replace(with: v, where: lt1)
            j1.replace(with: idx, where: lt1)
            idx &+= step
            c += 8
        }
        var a = Float.infinity, ia: Int32 = -1, b = Float.infinity, ib: Int32 = -1
        for l in 0..<8 {
            mergeTopTwo(&a, &ia, &b, &ib, m1[l], j1[l], m2[l], j2[l])
        }
        while c < count {
            let v = row[c] + bankNorms[c]
            mergeTopTwo(&a, &ia, &b, &ib, v, firstIndex + Int32(c), .infinity, -1)
            c += 1
        }
        return (a, ia, b, ib)
    }

    /// Merges the candidate pair (x1, k1) ≤ (x2, k2) into the running top two (a, ia) ≤
    /// (b, ib). Order is by value, then by index, so the result does not depend on the
    /// order in which lanes and blocks are merged. Index −1 marks an empty slot.
    @inline(__always)
    static func mergeTopTwo(_ a: inout Float, _ ia: inout Int32, _ b: inout Float, _ ib: inout Int32,
                            _ x1: Float, _ k1: Int32, _ x2: Float, _ k2: Int32) {
        insertCandidate(&a, &ia, &b, &ib, x1, k1)
        insertCandidate(&a, &ia, &b, &ib, x2, k2)
    }

    @inline(__always)
    static func insertCandidate(_ a: inout Float, _ ia: inout Int32, _ b: inout Float, _ ib: inout Int32,
                                _ x: Float, _ k: Int32) {
        guard k >= 0 && x < .infinity else { return } // empty slot or the excluded row
        if x < a || (x == a && (ia < 0 || k < ia)) {
            b = a; ib = ia
            a = x; ia = k
        } else if x < b || (x == b && (ib < 0 || k < ib)) {
            b = x; ib = k
        }
    }

    /// ‖row‖² of each row of x (rows, D).
    static func squaredNorms(_ x: UnsafePointer<Float>, rows: Int, dimension d: Int) -> [Float] {
        var out = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            let p = x + r * d
            var acc: Float = 0
            for k in 0..<d { acc += p[k] * p[k] }
            out[r] = acc
        }
        return out
    }
}
