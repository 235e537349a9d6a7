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
    /// (stable). 4 passes of 8 bits; a pass whose byte is constant is skipped.
    static func sort(_ keys: inout [UInt32], payload: inout [UInt32]?) {
        let n = keys.count
        guard n > 1 else { return }
        var tmpKeys = [UInt32](repeating: 0, count: n)
        var tmpPay: [UInt32]? = payload.map { [UInt32](repeating: 0, count: $0.count) }
        for shift in stride(from: 0, to: 32, by: 8) {
            var counts = [Int](repeating: 0, count: 257)
            keys.withUnsafeBufferPointer { k in
                for i in 0..<n { counts[Int((k[i] >> UInt32(shift)) & 0xFF) + 1] += 1 }
            }
            if counts.contains(n) { continue }
            for b in 1...256 { counts[b] += counts[b - 1] }
            keys.withUnsafeBufferPointer { k in
                tmpKeys.withUnsafeMutableBufferPointer { t in
                    if payload != nil {
                        payload!.withUnsafeBufferPointer { p in
                            tmpPay!.withUnsafeMutableBufferPointer { tp in
                                for i in 0..<n {
                                    let b = Int((k[i] >> UInt32(shift)) & 0xFF)
                                    let dst = counts[b]; counts[b] = dst + 1
                                    t[dst] = k[i]; tp[dst] = p[i]
                                }
                            }
                        }
                    } else {
                        for i in 0..<n {
                            let b = Int((k[i] >> UInt32(shift)) & 0xFF)
                            let dst = counts[b]; counts[b] = dst + 1
                            t[dst] = k[i]
                        }
                    }
                }
            }
            swap(&keys, &tmpKeys)
            if payload != nil { swap(&payload, &tmpPay) }
        }
    }
}

/// Distinct scores with, per score, how many negatives and positives carry it, and the
/// positives' summed region weight (Σ 1/|region| over positive pixels; for AUPRO).
/// Keys ascending. Subsets merge in linear time, so per-defect-type metrics reuse the
/// sorted normal-image pixels instead of re-sorting them for every type.
struct RankedScores: Sendable {
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
    init(scores: [Float], labels: [Bool], weights: [Double]? = nil, regionCount: Int = 0) {
        precondition(scores.count == labels.count)
        var negKeys: [UInt32] = [], posKeys: [UInt32] = [], posWeights: [Double] = []
        for i in scores.indices {
            if labels[i] { posKeys.append(ScoreKeys.key(scores[i])); posWeights.append(weights?[i] ?? 0) }
            else { negKeys.append(ScoreKeys.key(scores[i])) }
        }
        self.init(negativeKeys: negKeys, positiveKeys: posKeys, positiveWeights: posWeights, regionCount: regionCount)
    }

    /// From unsorted keys of negatives and positives (with per-positive weights).
    init(negativeKeys: [UInt32], positiveKeys: [UInt32], positiveWeights: [Double], regionCount: Int) {
        var neg = negativeKeys
        var none: [UInt32]? = nil
        ScoreKeys.sort(&neg, payload: &none)
        var pos = positiveKeys
        var order: [UInt32]? = (0..<UInt32(pos.count)).map { $0 }
        ScoreKeys.sort(&pos, payload: &order)
        let w = order!.map { positiveWeights[Int($0)] }
        var r = RankedScores()
        r.regionCount = regionCount
        var i = 0, j = 0
        while i < neg.count || j < pos.count {
            let k = min(i < neg.count ? neg[i] : .max, j < pos.count ? pos[j] : .max)
            var nc = 0, pc = 0, pw = 0.0
            // A key of .max would be NaN's; callers reject NaN, so .max never occurs.
            while i < neg.count && neg[i] == k { nc += 1; i += 1 }
            while j < pos.count && pos[j] == k { pc += 1; pw += w[j]; j += 1 }
            r.keys.append(k); r.negatives.append(nc); r.positives.append(pc); r.positiveWeight.append(pw)
        }
        r.negativeTotal = neg.count
        r.positiveTotal = pos.count
        self = r
    }

    /// The union of two disjoint sample sets.
    static func merge(_ a: RankedScores, _ b: RankedScores) -> RankedScores {
        var r = RankedScores()
        r.keys.reserveCapacity(a.keys.count + b.keys.count)
        var i = 0, j = 0
        while i < a.keys.count || j < b.keys.count {
            if j == b.keys.count || (i < a.keys.count && a.keys[i] < b.keys[j]) {
                r.keys.append(a.keys[i]); r.negatives.append(a.negatives[i]); r.positives.append(a.positives[i])
                r.positiveWeight.append(a.positiveWeight[i]); i += 1
            } else if i == a.keys.count || b.keys[j] < a.keys[i] {
                r.keys.append(b.keys[j]); r.negatives.append(b.negatives[j]); r.positives.append(b.positives[j])
                r.positiveWeight.append(b.positiveWeight[j]); j += 1
            } else {
                r.keys.append(a.keys[i]); r.negatives.append(a.negatives[i] + b.negatives[j])
                r.positives.append(a.positives[i] + b.positives[j])
                r.positiveWeight.append(a.positiveWeight[i] + b.positiveWeight[j]); i += 1; j += 1
            }
        }
        r.negativeTotal = a.negativeTotal + b.negativeTotal
        r.positiveTotal = a.positiveTotal + b.positiveTotal
        r.regionCount = a.regionCount + b.regionCount
        return r
    }
}
