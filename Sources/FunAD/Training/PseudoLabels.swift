/// The nearest-bank distance d_ij of paper Eq. 27 with the official implementation's
/// rules (METHOD.md step 2): of the two nearest bank features (squared L2, the query's
/// own bank copy already excluded by identity), distances below `zeroBelow` (1e-2)
/// count as 0, and if the first is 0 the second is used. A missing neighbour (a bank
/// with nothing but the query itself) gives 0, i.e. no evidence of anomaly.
enum NearestBankDistance {
    static func distances(_ nn: TopTwoNeighbours, zeroBelow: Float) -> [Float] {
        var out = [Float](repeating: 0, count: nn.firstDistance.count)
        for q in out.indices {
            var d1 = nn.firstDistance[q], d2 = nn.secondDistance[q]
            if d1 < zeroBelow { d1 = 0 }
            if d2 < zeroBelow { d2 = 0 }
            let d = d1 == 0 ? d2 : d1
            out[q] = d.isFinite ? d : 0
        }
        return out
    }
}

/// Gaussian perturbation of ambiguous pseudo-anomalies (METHOD.md step 3, paper
/// Sec. 4.3): f ← f + ε, ε ~ N(0, diag(σ²)) on the RAW backbone feature.
enum GaussianPerturbation {
    /// σ[d] = max over patch positions j of the unbiased std over the batch's images i of
    /// x[i, j, d] (official: `x.std(axis=0).max(axis=0)`). x is (B, P, D). With B < 2
    /// the std is undefined (torch gives NaN); σ = 0 then, i.e. no perturbation.
    static func sigma(_ x: UnsafePointer<Float>, images b: Int, patches p: Int, dimension d: Int) -> [Float] {
        var sigma = [Float](repeating: 0, count: d)
        guard b >= 2 else { return sigma }
        var mean = [Double](repeating: 0, count: d)
        var m2 = [Double](repeating: 0, count: d)
        for j in 0..<p {
            for k in 0..<d { mean[k] = 0; m2[k] = 0 }
            for i in 0..<b {
                let row = x + (i * p + j) * d
                for k in 0..<d { mean[k] += Double(row[k]) }
            }
            for k in 0..<d { mean[k] /= Double(b) }
            for i in 0..<b {
                let row = x + (i * p + j) * d
                for k in 0..<d {
                    let e = Double(row[k]) - mean[k]
                    m2[k] += e * e
                }
            }
            for k in 0..<d {
                let s = Float((m2[k] / Double(b - 1)).squareRoot())
                if s > sigma[k] { sigma[k] = s }
            }
        }
        return sigma
    }

    /// out[r] = x[rows[r]] + σ ∘ ε_r for each listed row. All ε (rows.count × D standard
    /// normals, row-major) are drawn in one bulk call from `rng`. x is (·, D); out is
    /// (rows.count, D).
    static func perturb(_ x: UnsafePointer<Float>, rows: [Int], sigma: [Float], dimension d: Int,
                        into out: UnsafeMutablePointer<Float>, rng: inout Xoshiro256StarStar) {
        rng.fillStandardNormalPairs(out, count: rows.count * d)
        for (r, src) in rows.enumerated() {
            let from = x + src * d, to = out + r * d
            for k in 0..<d { to[k] = from[k] + sigma[k] * to[k] }
        }
    }
}
