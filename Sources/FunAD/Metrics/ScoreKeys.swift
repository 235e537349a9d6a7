/// Scores as order-preserving UInt32 keys, and an LSD radix sort over them: ranking
/// millions of pixel scores is the cost of pixel-level metrics, and a 4-pass radix sort
/// is exact (keys are the floats' bits) and ~10× faster than a comparison sort.
enum ScoreKeys {
    /// Monotone map Float → UInt32: a < b ⇔ key(a) < key(b); −0 and +0 share a key so
    /// that they tie, as they compare equal. Callers reject NaN first.
    @inline(__always)
    static func key(_ f: Float) -> UInt32 {
        let bits = (f == 0 ? Float(0) : f).bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    @inline(__always)
    static func score(_ k: UInt32) -> Float {
        Float(bitPattern: k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k)
    }

    /// Sorts `keys` ascending in place; if `payload` is given it is permuted alongside
    /// (stable). 3 passes of 11 bits over raw buffers; a pass whose digit is constant is
    /// skipped.
    static func sort(_ keys: inout [UInt32], payload: inout [UInt32]?) {
        let n = keys.count
        guard n > 1 else { return }
        if payload != nil { precondition(payload!.count == n, "ScoreKeys.sort: payload size") }
        let bits = 11, buckets = 1 << bits, mask = UInt32(buckets - 1)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: buckets)
        defer { counts.deallocate() }
        var tmpKeys = [UInt32](repeating: 0, count: n)
        var tmpPay = [UInt32](repeating: 0, count: payload == nil ? 0 : n)
        var pay = payload ?? []
        let hasPayload = payload != nil
        for shift in stride(from: 0, to: 32, by: bits) {
            let sh = UInt32(shift)
            counts.initialize(repeating: 0, count: buckets)
            var skip = false
            keys.withUnsafeBufferPointer { k in
                for i in 0..<n { counts[Int((k[i] >> sh) & mask)] += 1 }
                skip = counts[Int((k[0] >> sh) & mask)] == n
            }
            if skip { continue }
            var total = 0
            for b in 0..<buckets { let c = counts[b]; counts[b] = total; total += c }
            keys.withUnsafeBufferPointer { k in
                tmpKeys.withUnsafeMutableBufferPointer { t in
                    if hasPayload {
                        pay.withUnsafeBufferPointer { p in
                            tmpPay.withUnsafeMutableBufferPointer { tp in
                                for i in 0..<n {
                                    let b = Int((k[i] >> sh) & mask)
                                    let dst = counts[b]; counts[b] = dst + 1
                                    t[dst] = k[i]; tp[dst] = p[i]
                                }
                            }
                        }
                    } else {
                        for i in 0..<n {
                            let b = Int((k[i] >> sh) & mask)
                            let dst = counts[b]; counts[b] = dst + 1
                            t[dst] = k[i]
                        }
                    }
                }
            }
            swap(&keys, &tmpKeys)
            if hasPayload { swap(&pay, &tmpPay) }
        }
        if hasPayload { payload = pay }
    }
}

/// Distinct scores with, per score, how many negatives and positives carry it, and the
/// positives' summed region weight (Σ 1/|region| over positive pixels; for AUPRO).
/// Keys ascending. Subsets merge in linear time, so per-defect-type metrics reuse the
/// sorted normal-image pixels instead of re-sorting them for every type.
package struct RankedScores: Sendable {
    var keys: [UInt32] = []
    var negatives: [Int] = []
    var positives: [Int] = []
    var positiveWeight: [Double] = []
    var negativeTotal = 0
    var positiveTotal = 0
    /// Number of ground-truth regions contributing weight (AUPRO's denominator).
    var regionCount = 0

    init() {}

    /// From raw scores with labels; `weights` (same length, per positive) are optional.
    package init(scores: [Float], labels: [Bool], weights: [Double]? = nil, regionCount: Int = 0) {
        precondition(scores.count == labels.count)
        var negKeys: [UInt32] = [], posKeys: [UInt32] = [], posWeights: [Double] = []
        negKeys.reserveCapacity(scores.count)
        for i in scores.indices {
            if labels[i] { posKeys.append(ScoreKeys.key(scores[i])); if let weights { posWeights.append(weights[i]) } }
            else { negKeys.append(ScoreKeys.key(scores[i])) }
        }
        self.init(negativeKeys: negKeys, positiveKeys: posKeys, positiveWeights: weights == nil ? nil : posWeights,
                  regionCount: regionCount)
    }

    /// From unsorted keys of negatives and positives (with per-positive weights, or
    /// none when only counts are needed).
    init(negativeKeys: [UInt32], positiveKeys: [UInt32], positiveWeights: [Double]?, regionCount: Int) {
        var neg = negativeKeys
        var none: [UInt32]? = nil
        ScoreKeys.sort(&neg, payload: &none)
        var pos = positiveKeys
        var w = [Double](repeating: 0, count: pos.count)
        if let positiveWeights {
            var order: [UInt32]? = (0..<UInt32(pos.count)).map { $0 }
            ScoreKeys.sort(&pos, payload: &order)
            order!.withUnsafeBufferPointer { o in
                positiveWeights.withUnsafeBufferPointer { pw in
                    for i in 0..<o.count { w[i] = pw[Int(o[i])] }
                }
            }
        } else {
            ScoreKeys.sort(&pos, payload: &none)
        }
        var keys = [UInt32](), negs = [Int](), poss = [Int](), weights = [Double]()
        let cap = neg.count + pos.count
        keys.reserveCapacity(cap); negs.reserveCapacity(cap); poss.reserveCapacity(cap); weights.reserveCapacity(cap)
        neg.withUnsafeBufferPointer { nb in
            pos.withUnsafeBufferPointer { pb in
                w.withUnsafeBufferPointer { wb in
                    var i = 0, j = 0
                    let nn = nb.count, pn = pb.count
                    while i < nn || j < pn {
                        let k = min(i < nn ? nb[i] : .max, j < pn ? pb[j] : .max)
                        var nc = 0, pc = 0, pw = 0.0
                        // A key of .max would be NaN's; callers reject NaN, so .max never occurs.
                        while i < nn && nb[i] == k { nc += 1; i += 1 }
                        while j < pn && pb[j] == k { pc += 1; pw += wb[j]; j += 1 }
                        keys.append(k); negs.append(nc); poss.append(pc); weights.append(pw)
                    }
                }
            }
        }
        self.keys = keys; negatives = negs; positives = poss; positiveWeight = weights
        negativeTotal = neg.count
        positiveTotal = pos.count
        self.regionCount = regionCount
    }

    /// The union of two disjoint sample sets.
    static func merge(_ a: RankedScores, _ b: RankedScores) -> RankedScores {
        let cap = a.keys.count + b.keys.count
        var r = RankedScores()
        r.negativeTotal = a.negativeTotal + b.negativeTotal
        r.positiveTotal = a.positiveTotal + b.positiveTotal
        r.regionCount = a.regionCount + b.regionCount
        var used = 0
        r.keys = [UInt32](unsafeUninitializedCapacity: cap) { k, kn in
            r.negatives = [Int](unsafeUninitializedCapacity: cap) { ng, ngn in
                r.positives = [Int](unsafeUninitializedCapacity: cap) { ps, psn in
                    r.positiveWeight = [Double](unsafeUninitializedCapacity: cap) { w, wn in
                        var i = 0, j = 0, o = 0
                        let an = a.keys.count, bn = b.keys.count
                        while i < an || j < bn {
                            if j == bn || (i < an && a.keys[i] < b.keys[j]) {
                                k[o] = a.keys[i]; ng[o] = a.negatives[i]; ps[o] = a.positives[i]; w[o] = a.positiveWeight[i]
                                i += 1
                            } else if i == an || b.keys[j] < a.keys[i] {
                                k[o] = b.keys[j]; ng[o] = b.negatives[j]; ps[o] = b.positives[j]; w[o] = b.positiveWeight[j]
                                j += 1
                            } else {
                                k[o] = a.keys[i]; ng[o] = a.negatives[i] + b.negatives[j]
                                ps[o] = a.positives[i] + b.positives[j]; w[o] = a.positiveWeight[i] + b.positiveWeight[j]
                                i += 1; j += 1
                            }
                            o += 1
                        }
                        used = o
                        wn = o
                    }
                    psn = used
                }
                ngn = used
            }
            kn = used
        }
        return r
    }
}
