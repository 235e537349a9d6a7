import Foundation

/// Separable Gaussian smoothing of one plane, matching
/// `scipy.ndimage.gaussian_filter(x, sigma)` with SciPy's defaults (METHOD.md step 5,
/// σ = 4): `truncate = 4.0`, so the kernel radius is `Int(truncate·σ + 0.5)`; weights
/// `exp(−x²/2σ²)` normalised to sum 1; `mode='reflect'`, SciPy's half-sample symmetric
/// extension (d c b a | a b c d | d c b a), repeated when the radius exceeds the plane.
/// Like SciPy it filters along axis 0 (rows) first, then axis 1, accumulating each 1-D
/// pass in Double and storing the intermediate as Float (SciPy does the same for float32).
struct GaussianFilter: Sendable {
    let radius: Int
    /// 2·radius + 1 normalised weights.
    let weights: [Double]

    init(sigma: Double, truncate: Double = 4.0) {
        precondition(sigma > 0, "GaussianFilter: sigma must be positive")
        radius = Int(truncate * sigma + 0.5)
        var w = (-radius...radius).map { x in exp(-0.5 * Double(x * x) / (sigma * sigma)) }
        let total = w.reduce(0, +)
        for i in w.indices { w[i] /= total }
        weights = w
    }

    /// SciPy's 'reflect' index for a possibly out-of-range `i` on an axis of length `n`.
    static func reflect(_ i: Int, _ n: Int) -> Int {
        if n == 1 { return 0 }
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }

    /// Filters `plane` (height × width, row-major) in place; `scratch` must hold
    /// height·width floats.
    func apply(_ plane: UnsafeMutablePointer<Float>, height: Int, width: Int) {
        let n = height * width
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { scratch.deallocate() }
        let r = radius
        // Axis 0: out[y][x] = Σ_k w[k] · in[reflect(y + k − r)][x], whole rows at a time.
        var rowAcc = [Double](repeating: 0, count: width)
        rowAcc.withUnsafeMutableBufferPointer { acc in
            for y in 0..<height {
                for x in 0..<width { acc[x] = 0 }
                for k in 0...(2 * r) {
                    let src = plane + GaussianFilter.reflect(y + k - r, height) * width
                    let wk = weights[k]
                    for x in 0..<width { acc[x] += wk * Double(src[x]) }
                }
                let dst = scratch + y * width
                for x in 0..<width { dst[x] = Float(acc[x]) }
            }
        }
        // Axis 1: per row, through a padded copy so the inner loop has no index arithmetic.
        // Tap-major like axis 0: every output still sums its taps in order k = 0…2r from
        // 0.0 (the same roundings as one running sum per pixel), but the inner loop runs
        // along the row, which vectorises; the per-pixel running sum did not.
        var padded = [Float](repeating: 0, count: width + 2 * r)
        rowAcc.withUnsafeMutableBufferPointer { acc in
            padded.withUnsafeMutableBufferPointer { pad in
                for y in 0..<height {
                    let src = scratch + y * width
                    for i in 0..<(width + 2 * r) { pad[i] = src[GaussianFilter.reflect(i - r, width)] }
                    for x in 0..<width { acc[x] = 0 }
                    for k in 0...(2 * r) {
                        let wk = weights[k], tap = pad.baseAddress! + k
                        for x in 0..<width { acc[x] += wk * Double(tap[x]) }
                    }
                    let dst = plane + y * width
                    for x in 0..<width { dst[x] = Float(acc[x]) }
                }
            }
        }
    }
}
