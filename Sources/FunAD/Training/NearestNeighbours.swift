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
        let bankNorms = squaredNorms(bank, rows: bankCount, dimension: d)
        let queryNorms = squaredNorms(queries, rows: queryCount, dimension: d)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: qb * mb)
        defer { tile.deallocate() }
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
                        let skip = excluded.map { Int($0[q]) - m0 } ?? -1
                        let qn = queryNorms[q]
                        var bd1 = d1[q], bd2 = d2[q]
                        var bi1 = i1[q], bi2 = i2[q]
                        let row = tile + r * nm
                        bankNorms.withUnsafeBufferPointer { bn in
                            let bnb = bn.baseAddress! + m0
                            for c in 0..<nm {
                                let dist = (row[c] + bnb[c]) + qn
                                if dist < bd2 {
                                    if c == skip { continue }
                                    if dist < bd1 {
                                        bd2 = bd1; bi2 = bi1
                                        bd1 = dist; bi1 = Int32(m0 + c)
                                    } else {
                                        bd2 = dist; bi2 = Int32(m0 + c)
                                    }
                                }
                            }
                        }
                        d1[q] = bd1; d2[q] = bd2; i1[q] = bi1; i2[q] = bi2
                    }
                    m0 += nm
                }
                q0 += nq
            }
            for q in 0..<queryCount {
                d1[q] = max(0, d1[q])
                d2[q] = max(0, d2[q])
            }
        }}}}
        return result
    }

    /// Mutually nearest pairs among `count` features (count, D): a's nearest other
    /// feature is b and b's is a (self excluded by index; METHOD.md step 5, paper
    /// Eq. 30). Features of the same image may pair.
    public static func mutualPairs(_ features: UnsafePointer<Float>, count: Int, dimension d: Int,
                                   queryBlock: Int = 1024, bankBlock: Int = 4096) -> MutualPairs {
        let selfIndex = (0..<count).map { Int32($0) }
        let nn = selfIndex.withUnsafeBufferPointer { ex in
            topTwo(queries: features, queryCount: count, bank: features, bankCount: count, dimension: d,
                   excluded: ex.baseAddress, queryBlock: queryBlock, bankBlock: bankBlock).firstIndex
        }
        var pairs = MutualPairs(first: [], second: [])
        for a in 0..<count {
            let b = Int(nn[a])
            if b > a && Int(nn[b]) == a {
                pairs.first.append(Int32(a))
                pairs.second.append(Int32(b))
            }
        }
        return pairs
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
