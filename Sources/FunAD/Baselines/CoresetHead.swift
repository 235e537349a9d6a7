import Foundation

/// The leading principal directions of the projected points, for `PrunedGreedy`'s cheap
/// lower bound: ‖p − c‖ ≥ ‖R_h·(p − c)‖ for orthonormal rows R_h, and on patch features
/// the leading directions hold most of the spread (on MTD's Lite0 features projected to
/// 128-d: 46 % in 8, 82 % in 32, 95 % in 64), so a partial distance over a few of them
/// already rules out most points. 64 directions leave the full distance to 0.2 % of the
/// point-newcomer pairs on MTD (32: 2 %), for n × 64 floats of memory.
///
/// `coordinates` are float32 values of R_h·(p − mean) from BLAS; they differ from the
/// exact products by at most `errorRadius[i]` in norm (sgemm's error bound,
/// |error| ≤ γ_k·‖x‖ per coordinate with γ_k ≤ 2(k + 2)·2⁻²⁴, plus the rounding of
/// p − mean), which the search subtracts from every bound.
struct CoresetHead {
    /// Head dimensions used (min(64, k)) and the stride of a row (a multiple of 8, zero padded).
    let dimension: Int
    let stride: Int
    /// n × stride head coordinates, original point order.
    var coordinates: [Float]
    /// Per point: bound on the norm of its coordinates' rounding error.
    var errorRadius: [Float]
    /// Share of the sample's variance along the head directions (1: all of it).
    let varianceShare: Double

    static let defaultDimension = 64

    init(points p: UnsafePointer<Float>, count n: Int, dimension k: Int, head: Int = CoresetHead.defaultDimension,
         sample: Int = 65_536) {
        let h = max(1, min(head, k))
        dimension = h
        stride = (h + 7) / 8 * 8
        // Mean and covariance from an evenly strided sample (Double sums; BLAS for XᵀX).
        let s = min(n, sample), step = max(1, n / s)
        var mean = [Double](repeating: 0, count: k)
        for r in 0..<s { let row = p + r * step * k; for t in 0..<k { mean[t] += Double(row[t]) } }
        for t in 0..<k { mean[t] /= Double(s) }
        let meanF = mean.map { Float($0) }
        var centred = [Float](repeating: 0, count: s * k)
        for r in 0..<s { let row = p + r * step * k; for t in 0..<k { centred[r * k + t] = row[t] - meanF[t] } }
        var cov = [Float](repeating: 0, count: k * k)
        BLAS.gemm(centred, centred, &cov, m: k, n: k, k: s, transA: true)
        let (values, vectors) = Self.symmetricEigen(cov.map { Double($0) }, size: k)
        let leading = (0..<k).sorted { values[$0] > values[$1] }.prefix(h)
        let trace = values.reduce(0) { $0 + max(0, $1) }
        varianceShare = trace > 0 ? leading.reduce(0) { $0 + max(0, values[$1]) } / trace : 1
        // rotation (stride × k): the leading eigenvectors as rows, zero rows as padding.
        let s2 = stride
        var rotation = [Float](repeating: 0, count: s2 * k)
        for (row, col) in leading.enumerated() {
            for t in 0..<k { rotation[row * k + t] = Float(vectors[t * k + col]) }
        }
        var coords = [Float](repeating: 0, count: n * s2)
        var errors = [Float](repeating: 0, count: n)
        let kappa = (Float(h).squareRoot() * Float(2 * k + 4) + 4) * Float.ulpOfOne / 2
        let block = 4096
        var x = [Float](repeating: 0, count: block * k)
        var lo = 0
        while lo < n {
            let m = min(block, n - lo)
            for r in 0..<m {
                let row = p + (lo + r) * k
                var norm2: Float = 0
                for t in 0..<k { let v = row[t] - meanF[t]; x[r * k + t] = v; norm2 += v * v }
                errors[lo + r] = kappa * norm2.squareRoot() * 1.001
            }
            x.withUnsafeBufferPointer { xb in
                rotation.withUnsafeBufferPointer { rb in
                    coords.withUnsafeMutableBufferPointer { cb in
                        BLAS.gemm(xb.baseAddress!, rb.baseAddress!, cb.baseAddress! + lo * s2, m: m, n: s2, k: k, transB: true)
                    }
                }
            }
            lo += m
        }
        coordinates = coords
        errorRadius = errors
    }

    /// Eigen-decomposition of a symmetric size × size matrix by cyclic Jacobi rotations:
    /// eigenvalues and the eigenvectors as the columns of a row-major matrix.
    static func symmetricEigen(_ matrix: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var a = matrix
        var v = [Double](repeating: 0, count: n * n)
        for i in 0..<n { v[i * n + i] = 1 }
        let total = a.reduce(0) { $0 + $1 * $1 }
        for _ in 0..<60 {
            var off = 0.0
            for p in 0..<n { for q in (p + 1)..<max(p + 1, n) { off += a[p * n + q] * a[p * n + q] } }
            if off <= 1e-26 * total || off == 0 { break }
            for p in 0..<(n - 1) {
                for q in (p + 1)..<n {
                    let apq = a[p * n + q]
                    if abs(apq) < 1e-300 { continue }
                    let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for r in 0..<n {
                        let arp = a[r * n + p], arq = a[r * n + q]
                        a[r * n + p] = c * arp - s * arq; a[r * n + q] = s * arp + c * arq
                    }
                    for r in 0..<n {
                        let apr = a[p * n + r], aqr = a[q * n + r]
                        a[p * n + r] = c * apr - s * aqr; a[q * n + r] = s * apr + c * aqr
                    }
                    for r in 0..<n {
                        let vrp = v[r * n + p], vrq = v[r * n + q]
                        v[r * n + p] = c * vrp - s * vrq; v[r * n + q] = s * vrp + c * vrq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, v)
    }
}
