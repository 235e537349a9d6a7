/// A bank whose rows come in groups that share their first G values bit for bit — the
/// layout of funad's patch features [global ‖ local_j], where the global part (the class
/// token of a ViT, the pooled vector of EfficientNet-Lite) is the same for every patch of
/// an image. For such rows
///
///     ‖q − m‖² = ‖q_g − m_g‖² + ‖q_l − m_l‖²
///
/// and the prefix term is one number per (query image, bank image) pair, so an exact
/// nearest-neighbour search needs the GEMM only over the L = D − G local values: with
/// EfficientNet-Lite0 (G = 1280 of D = 1432) that is 9.4× fewer multiply-adds, with a
/// ViT (G = D/2) 2×. The structure is detected from the values, never assumed, so a bank
/// loaded from a file written by any version is searched the same way; a bank without it
/// is searched in full by `NearestNeighbourSearch`.
struct PrefixGroupedBank: Sendable {
    /// G, the shared prefix length, and L = D − G.
    let prefixLength: Int
    let localLength: Int
    let rowCount: Int
    let groupCount: Int
    /// (groupCount, G): the prefix of each group.
    let groupPrefix: [Float]
    /// (rowCount, L): the local part of each row, rows ordered group by group.
    let local: [Float]
    /// ‖m_l‖² per row, same order as `local`.
    let localNorms: [Float]
    /// Group of each row, same order as `local`.
    let rowGroup: [Int32]

    /// Detects the grouping of `bank` (count × d). Rows are grouped by their first d/8
    /// values (bit patterns); G is the longest prefix that every row shares with the first
    /// row of its group, capped at d − 1. Returns nil when the structure does not pay:
    /// G < d/8, or more than a quarter as many groups as rows (the per-group prefix
    /// distances would cost as much as they save).
    static func detect(bank: [Float], count: Int, dimension d: Int) -> PrefixGroupedBank? {
        let minimum = max(1, d / 8)
        guard d >= 16, count >= 8 else { return nil }
        var groupOfKey: [Int: [Int]] = [:]      // hash of the first `minimum` values → groups
        var representative: [Int] = []          // first row of each group
        var members: [[Int]] = []
        var shared = d - 1
        bank.withUnsafeBufferPointer { b in
            let raw = UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: UInt32.self)
            func samePrefix(_ r: Int, _ s: Int, _ n: Int) -> Bool {
                for k in 0..<n where raw[r * d + k] != raw[s * d + k] { return false }
                return true
            }
            for r in 0..<count {
                var h = Hasher()
                for k in 0..<minimum { h.combine(raw[r * d + k]) }
                let key = h.finalize()
                let group = groupOfKey[key, default: []].first { samePrefix(representative[$0], r, minimum) }
                if let group {
                    members[group].append(r)
                    let rep = representative[group]
                    var k = minimum
                    while k < shared && raw[r * d + k] == raw[rep * d + k] { k += 1 }
                    shared = k
                } else {
                    groupOfKey[key, default: []].append(representative.count)
                    representative.append(r)
                    members.append([r])
                }
            }
        }
        let groups = representative.count
        guard shared >= minimum, groups * 4 <= count else { return nil }
        let g = shared, l = d - shared
        var prefix = [Float](repeating: 0, count: groups * g)
        var local = [Float](repeating: 0, count: count * l)
        var norms = [Float](repeating: 0, count: count)
        var rowGroup = [Int32](repeating: 0, count: count)
        var out = 0
        for (group, rows) in members.enumerated() {
            let rep = representative[group]
            for k in 0..<g { prefix[group * g + k] = bank[rep * d + k] }
            for r in rows {
                var s: Float = 0
                for k in 0..<l {
                    let v = bank[r * d + g + k]
                    local[out * l + k] = v
                    s += v * v
                }
                norms[out] = s
                rowGroup[out] = Int32(group)
                out += 1
            }
        }
        return PrefixGroupedBank(prefixLength: g, localLength: l, rowCount: count, groupCount: groups,
                                 groupPrefix: prefix, local: local, localNorms: norms, rowGroup: rowGroup)
    }

    /// minDistance2[i] = min over the bank of ‖query_i − m‖² for queries (q, G + L),
    /// clamped at 0. Consecutive queries with the same prefix (an image's patches) share
    /// one pass over the bank's groups: the prefix term is computed by subtraction (no
    /// cancellation), the local term by `NearestNeighbourSearch.minimumDistances`.
    func nearest(_ queries: UnsafePointer<Float>, count q: Int, minDistance2: UnsafeMutablePointer<Float>,
                 queryBlock: Int = 1024, bankBlock: Int = 2048) {
        let g = prefixLength, l = localLength, d = g + l
        // A run of one image's patches (784 for a 28 × 28 grid) fits one query block, so
        // the local bank is packed once per run rather than once per 256 queries.
        let queryBlock = max(1, min(queryBlock, q))
        let tile = UnsafeMutablePointer<Float>.allocate(capacity: queryBlock * min(bankBlock, max(1, rowCount)))
        defer { tile.deallocate() }
        var groupDistance = [Float](repeating: 0, count: groupCount)
        // offset[j] = ‖m_l,j‖² + ‖q_g − m_g,group(j)‖²: the row-independent part of a
        // query run's distances to bank row j.
        var offset = [Float](repeating: 0, count: rowCount)
        local.withUnsafeBufferPointer { localBuf in
        groupPrefix.withUnsafeBufferPointer { prefixBuf in
        offset.withUnsafeMutableBufferPointer { off in
            var run0 = 0
            while run0 < q {
                // The run of queries that share query run0's prefix.
                let head = queries + run0 * d
                var run1 = run0 + 1
                while run1 < q && Self.equalBits(queries + run1 * d, head, g) { run1 += 1 }
                for b in 0..<groupCount {
                    let pb = prefixBuf.baseAddress! + b * g
                    var s: Float = 0
                    for k in 0..<g { let v = head[k] - pb[k]; s += v * v }
                    groupDistance[b] = s
                }
                for j in 0..<rowCount { off[j] = localNorms[j] + groupDistance[Int(rowGroup[j])] }
                var q0 = run0
                while q0 < run1 {
                    let qn = min(queryBlock, run1 - q0)
                    NearestNeighbourSearch.minimumDistances(queries + q0 * d + g, stride: d, length: l, count: qn,
                                                            bank: localBuf.baseAddress!, bankCount: rowCount,
                                                            offsets: off.baseAddress!, tile: tile, bankBlock: bankBlock,
                                                            into: minDistance2 + q0)
                    q0 += qn
                }
                run0 = run1
            }
        }}}
    }

    @inline(__always)
    static func equalBits(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Bool {
        let ra = UnsafeRawPointer(a).assumingMemoryBound(to: UInt32.self)
        let rb = UnsafeRawPointer(b).assumingMemoryBound(to: UInt32.self)
        for k in 0..<n where ra[k] != rb[k] { return false }
        return true
    }
}
