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
    /// Tile sizes. One sgemm call packs both of its operands, so small query blocks pack the
    /// bank again for every block: 256-query blocks read the bank 13 times for 3,136 queries.
    /// 2048 × 2048 (a 16 MB tile) measured 10 % faster than 256 × 2048 on 3,136 × 78,400 ×
    /// 1536 (faiss blocks 4096 × 1024 for the same reason); see bench/README.md.
    static let queryBlock = 2048
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
        guard q > 0 else { return }
        let qb = min(Self.queryBlock, q)
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: qb * min(Self.bankBlock, count))
        defer { tile.deallocate() }
        bank.withUnsafeBufferPointer { bankBuf in
            bankNorms.withUnsafeBufferPointer { norms in
                var q0 = 0
                while q0 < q {
                    let qn = min(qb, q - q0)
                    Self.minimumDistances(queries + q0 * dimension, stride: dimension, length: dimension, count: qn,
                                          bank: bankBuf.baseAddress!, bankCount: count, offsets: norms.baseAddress!,
                                          tile: tile, bankBlock: Self.bankBlock, into: minDistance2 + q0)
                    q0 += qn
                }
            }
        }
    }

    /// One block of queries (at most the tile's rows): out[i] = max(0, min_j (offsets[j] −
    /// 2·x_i·m_j) + ‖x_i‖²), with x_i the `length` values of query i at `stride` and m_j
    /// bank row j (`length` values, packed). With offsets = ‖m_j‖² that is the squared
    /// distance; the grouped search passes its per-row prefix terms in the offsets too.
    /// −2·X·Mᵀ comes from sgemm on (count × bankBlock) tiles; the Q×M matrix never exists.
    static func minimumDistances(_ queries: UnsafePointer<Float>, stride: Int, length: Int, count qn: Int,
                                 bank: UnsafePointer<Float>, bankCount: Int, offsets: UnsafePointer<Float>,
                                 tile: UnsafeMutablePointer<Float>, bankBlock: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<qn { out[i] = .infinity }
        var m0 = 0
        while m0 < bankCount {
            let mn = min(bankBlock, bankCount - m0)
            // tile[qn × mn] = −2 · X_blk · M_blkᵀ
            BLAS.gemm(queries, bank + m0 * length, tile, m: qn, n: mn, k: length,
                      transB: true, alpha: -2, lda: stride, ldc: mn)
            for i in 0..<qn {
                out[i] = rowMinimum(tile + i * mn, offsets + m0, count: mn, start: out[i])
            }
            m0 += mn
        }
        for i in 0..<qn {
            let x = queries + i * stride
            var qq: Float = 0
            for k in 0..<length { qq += x[k] * x[k] }
            out[i] = max(0, out[i] + qq)
        }
    }

    /// min(start, min_j (row[j] + offsets[j])), eight lanes at a time: the scan runs on one
    /// thread after each two-thread sgemm, so a scalar loop (one compare per cycle, a chain
    /// through `best`) cost about 7 % of the search. Minimum is exact and order-free, so the
    /// result is the scalar loop's bit for bit (NaN sums are skipped, as `Swift.min` skips them).
    @inline(__always)
    static func rowMinimum(_ row: UnsafePointer<Float>, _ offsets: UnsafePointer<Float>, count n: Int, start: Float) -> Float {
        var lanes = SIMD8<Float>(repeating: start)
        let rowRaw = UnsafeRawPointer(row), offsetRaw = UnsafeRawPointer(offsets)
        var j = 0
        while j + 8 <= n {
            let v = rowRaw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                + offsetRaw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            lanes.replace(with: v, where: v .< lanes)
            j += 8
        }
        var best = lanes.min()
        while j < n { best = min(best, row[j] + offsets[j]); j += 1 }
        return best
    }
}
