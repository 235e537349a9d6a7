/// Squared-L2 nearest-neighbour search of queries against a bank, blocked so that the
/// Q×M distance matrix never exists: ‖q − m‖² = ‖q‖² + ‖m‖² − 2·q·mᵀ with q·mᵀ from
/// sgemm on (queryBlock × bankBlock) tiles (TOOLCHAIN.md: 3–10× faster than hand loops).
/// Banks of patch features [global ‖ local] are searched over their local parts only
/// (`PrefixGroupedBank`), which is exact and 2–9× less work.
package struct NearestNeighbourSearch: Sendable {
    /// bank is (count, dimension), row-major.
    let bank: [Float]
    let count: Int
    let dimension: Int
    /// ‖m‖² per bank row.
    let bankNorms: [Float]
    /// The bank split into shared prefix + local parts when its rows have that structure
    /// (patch features [global ‖ local]); nil searches the full rows.
    let grouped: PrefixGroupedBank?
    static let queryBlock = 256
    static let bankBlock = 2048

    /// - exploitPrefix: look for rows that share a prefix (`PrefixGroupedBank`) and search
    ///   them over their local parts; false always searches the full rows (the reference).
    package init(bank: [Float], count: Int, dimension: Int, exploitPrefix: Bool = true) {
        precondition(bank.count == count * dimension && count > 0)
        self.bank = bank; self.count = count; self.dimension = dimension
        bankNorms = (0..<count).map { i in
            var s: Float = 0
            for k in 0..<dimension { let v = bank[i * dimension + k]; s += v * v }
            return s
        }
        grouped = exploitPrefix ? PrefixGroupedBank.detect(bank: bank, count: count, dimension: dimension) : nil
    }

    /// Which search `nearest` runs for these queries: the grouped one when the bank has a
    /// shared prefix and the queries come in runs that share it (an image's patches; at
    /// least 8 rows per run on average, else the per-run prefix work would not pay).
    package func usesPrefix(_ queries: UnsafePointer<Float>, count q: Int) -> Bool {
        guard let grouped, q > 0 else { return false }
        var runs = 1
        for i in 1..<max(1, q) where !PrefixGroupedBank.equalBits(queries + i * dimension, queries + (i - 1) * dimension,
                                                                   grouped.prefixLength) { runs += 1 }
        return runs * 8 <= q
    }

    /// Squared distances (clamped at 0) from one vector to every bank row, via sgemv.
    func distances2(to v: UnsafePointer<Float>) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        var vv: Float = 0
        for k in 0..<dimension { vv += v[k] * v[k] }
        bank.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { o in
                // o[1 × count] = −2 · v[1 × d] · bankᵀ
                BLAS.gemm(v, b.baseAddress!, o.baseAddress!, m: 1, n: count, k: dimension, transB: true, alpha: -2)
                for j in 0..<count { o[j] = max(0, o[j] + bankNorms[j] + vv) }
            }
        }
        return out
    }

    /// queries is (q, dimension); minDistance2[q] = min over the bank of ‖query − m‖²
    /// (clamped at 0 against cancellation).
    package func nearest(_ queries: UnsafePointer<Float>, count q: Int, minDistance2: UnsafeMutablePointer<Float>) {
        if let grouped, usesPrefix(queries, count: q) {
            grouped.nearest(queries, count: q, minDistance2: minDistance2)
        } else {
            nearestFull(queries, count: q, minDistance2: minDistance2)
        }
    }

    /// The search over full rows (no structure assumed).
    func nearestFull(_ queries: UnsafePointer<Float>, count q: Int, minDistance2: UnsafeMutablePointer<Float>) {
        let d = dimension
        let qb = Self.queryBlock, mb = Self.bankBlock
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: qb * mb)
        defer { tile.deallocate() }
        bank.withUnsafeBufferPointer { bankBuf in
            bankNorms.withUnsafeBufferPointer { norms in
                var q0 = 0
                while q0 < q {
                    let qn = min(qb, q - q0)
                    let qp = queries + q0 * d
                    for i in 0..<qn { minDistance2[q0 + i] = .infinity }
                    var m0 = 0
                    while m0 < count {
                        let mn = min(mb, count - m0)
                        // tile[qn × mn] = −2 · Q_blk · M_blkᵀ
                        BLAS.gemm(qp, bankBuf.baseAddress! + m0 * d, tile, m: qn, n: mn, k: d,
                                  transB: true, alpha: -2, ldc: mn)
                        for i in 0..<qn {
                            let row = tile + i * mn
                            var best = minDistance2[q0 + i]
                            for j in 0..<mn { best = min(best, row[j] + norms[m0 + j]) }
                            minDistance2[q0 + i] = best
                        }
                        m0 += mn
                    }
                    for i in 0..<qn {
                        var qq: Float = 0
                        for k in 0..<d { let v = qp[i * d + k]; qq += v * v }
                        minDistance2[q0 + i] = max(0, minDistance2[q0 + i] + qq)
                    }
                    q0 += qn
                }
            }
        }
    }
}
