/// How the mutual-smoothness loss is reduced over the pairs Ω.
public enum MutualSmoothnessReduction: String, Sendable, Codable {
    /// Paper Eq. 29: L_MS = mean over Ω of |φ(a) − φ(b)|.
    case mean
    /// Official code: ½·(L1(a, m) + L1(b, m)) with m = (a + b)/2, which equals
    /// ½ · mean |φ(a) − φ(b)| (METHOD.md step 5). The default.
    case halfMean
}

/// Loss values of one iteration, for logging.
public struct LossValues: Sendable, Equatable {
    public var total: Float
    public var bce: Float
    public var mutualSmoothness: Float
}

/// The FUN-AD objective L = L_BCE + λ·L_MS (METHOD.md steps 4–5) and its gradient with
/// respect to the logits z (p = σ(z)), written into `gradLogits`.
enum FunADLoss {
    /// Balanced BCE (paper Eq. 31): mean BCE over pseudo-anomalies + mean BCE over
    /// pseudo-normals, each term skipped when its set is empty. Row i's prediction is
    /// `scores[predictionRow[i]]` (the perturbed copy for ambiguous patches). BCE and its
    /// gradient follow torch.nn.BCELoss exactly: log clamped at −100, and
    /// dL/dp = (p − y) / max(p(1 − p), 1e-12) · w, then dL/dz = dL/dp · p(1 − p).
    /// Gradients are ADDED to gradLogits.
    static func balancedBCE(
        scores: UnsafePointer<Float>, labels: [UInt8], predictionRow: [Int],
        gradLogits: UnsafeMutablePointer<Float>
    ) -> Float {
        var nA = 0
        for y in labels where y == 1 { nA += 1 }
        let nN = labels.count - nA
        let wA: Float = nA > 0 ? 1 / Float(nA) : 0
        let wN: Float = nN > 0 ? 1 / Float(nN) : 0
        var sumA = 0.0, sumN = 0.0
        for i in labels.indices {
            let r = predictionRow[i]
            let p = scores[r]
            let y: Float = labels[i] == 1 ? 1 : 0
            let logP = max(_logf(p), -100), log1mP = max(_logf(1 - p), -100)
            let l = -(y * logP + (1 - y) * log1mP)
            if labels[i] == 1 { sumA += Double(l) } else { sumN += Double(l) }
            let w = labels[i] == 1 ? wA : wN
            let gp = w * (p - y) / max((1 - p) * p, 1e-12)
            gradLogits[r] += gp * ((1 - p) * p)
        }
        return Float((nA > 0 ? sumA / Double(nA) : 0) + (nN > 0 ? sumN / Double(nN) : 0))
    }

    /// Mutual smoothness λ·L_MS over pairs of rows (paper Eq. 29) on the clean
    /// predictions (official: `local_pred`). d|a − b|/da = sign(a − b), sign(0) = 0
    /// (torch's L1 gradient). Returns the unweighted L_MS; adds λ·∂L_MS/∂z to gradLogits.
    static func mutualSmoothness(
        scores: UnsafePointer<Float>, pairs: MutualPairs, lambda: Float, reduction: MutualSmoothnessReduction,
        gradLogits: UnsafeMutablePointer<Float>
    ) -> Float {
        guard pairs.count > 0 else { return 0 }
        let factor: Float = reduction == .halfMean ? 0.5 : 1
        let w = lambda * factor / Float(pairs.count)
        var sum = 0.0
        for k in 0..<pairs.count {
            let a = Int(pairs.first[k]), b = Int(pairs.second[k])
            let pa = scores[a], pb = scores[b]
            let diff = pa - pb
            sum += Double(abs(diff))
            let s: Float = diff > 0 ? 1 : (diff < 0 ? -1 : 0)
            gradLogits[a] += w * s * ((1 - pa) * pa)
            gradLogits[b] -= w * s * ((1 - pb) * pb)
        }
        return Float(Double(factor) * sum / Double(pairs.count))
    }
}
