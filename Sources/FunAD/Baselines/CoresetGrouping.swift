import Foundation

/// A cheap seeded clustering of the projected points for `PrunedGreedy`: a few Lloyd
/// (k-means) iterations on a sample, then every point to its nearest centre through one
/// blocked GEMM (argmin over centres of ‖c‖² − 2·x·c). Its quality only decides how much
/// the pruned search can skip, never which points it picks, so the float32 GEMM's
/// rounding and the sample are harmless.
struct CoresetGrouping {
    /// Group of each point (n), in 0..<count; every group has at least one point.
    let assignment: [Int32]
    let count: Int

    /// Groups `n` points (row-major n × k) into at most `groups` non-empty groups.
    /// Draws come from their own `SplitMix64(seed)`, never the sampler's.
    static func make(_ p: UnsafePointer<Float>, count n: Int, dimension k: Int, groups requested: Int,
                     iterations: Int = 4, sampleFactor: Int = 32, seed: UInt64 = 0x636f_7265_7365_74) -> CoresetGrouping {
        let g = max(1, min(requested, n))
        if g == 1 { return CoresetGrouping(assignment: [Int32](repeating: 0, count: n), count: 1) }
        var rng = SplitMix64(seed: seed)
        // The sample: a seeded shuffle's first s indices (all points when n is small).
        let s = min(n, max(g * sampleFactor, 16_384))
        var indices = Array(0..<n)
        rng.shuffle(&indices)
        var sample = [Float](repeating: 0, count: s * k)
        sample.withUnsafeMutableBufferPointer { out in
            for (row, i) in indices.prefix(s).enumerated() {
                (out.baseAddress! + row * k).update(from: p + i * k, count: k)
            }
        }
        // Start from the first g sampled points; Lloyd on the sample.
        var centres = Array(sample.prefix(g * k))
        var sampleGroup = [Int32](repeating: 0, count: s)
        for _ in 0..<iterations {
            sample.withUnsafeBufferPointer { assign($0.baseAddress!, rows: s, k: k, centres: centres, groups: g, into: &sampleGroup) }
            var sums = [Double](repeating: 0, count: g * k)
            var sizes = [Int](repeating: 0, count: g)
            for row in 0..<s {
                let c = Int(sampleGroup[row]); sizes[c] += 1
                for t in 0..<k { sums[c * k + t] += Double(sample[row * k + t]) }
            }
            for c in 0..<g where sizes[c] > 0 {
                let inv = 1 / Double(sizes[c])
                for t in 0..<k { centres[c * k + t] = Float(sums[c * k + t] * inv) }
            }
        }
        var assignment = [Int32](repeating: 0, count: n)
        assign(p, rows: n, k: k, centres: centres, groups: g, into: &assignment)
        // Renumber the non-empty groups 0..<count, in order of first appearance.
        var renumber = [Int32](repeating: -1, count: g)
        var count: Int32 = 0
        for i in 0..<n {
            let c = Int(assignment[i])
            if renumber[c] < 0 { renumber[c] = count; count += 1 }
            assignment[i] = renumber[c]
        }
        return CoresetGrouping(assignment: assignment, count: Int(count))
    }

    /// into[i] = the centre nearest row i (ties to the lower centre), in blocks of rows so
    /// the score matrix stays a few MB.
    static func assign(_ x: UnsafePointer<Float>, rows: Int, k: Int, centres: [Float], groups g: Int,
                       into out: inout [Int32]) {
        let block = max(1, min(rows, (1 << 21) / max(g, 1)))
        var norms = [Float](repeating: 0, count: g)
        for c in 0..<g {
            var s: Float = 0
            for t in 0..<k { s += centres[c * k + t] * centres[c * k + t] }
            norms[c] = s
        }
        var scores = [Float](repeating: 0, count: block * g)
        centres.withUnsafeBufferPointer { cb in
            scores.withUnsafeMutableBufferPointer { sb in
                out.withUnsafeMutableBufferPointer { ob in
                    var lo = 0
                    while lo < rows {
                        let m = min(block, rows - lo)
                        BLAS.gemm(x + lo * k, cb.baseAddress!, sb.baseAddress!, m: m, n: g, k: k, transB: true)
                        for r in 0..<m {
                            let row = sb.baseAddress! + r * g
                            var best = 0, bestV = Float.infinity
                            for c in 0..<g {
                                let v = norms[c] - 2 * row[c]
                                if v < bestV { bestV = v; best = c }
                            }
                            ob[lo + r] = Int32(best)
                        }
                        lo += m
                    }
                }
            }
        }
    }
}
