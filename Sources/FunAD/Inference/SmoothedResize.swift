/// The anomaly map's resize-then-smooth (METHOD.md step 5) as two small matrix products.
///
/// Bilinear resizing (align_corners = False) and SciPy's Gaussian filter (mode 'reflect')
/// are both linear and act on each axis separately, so grid → map is
/// `map = A_y · S · A_xᵀ`, where `A = G · B` for each axis: `B` (out × in) holds the two
/// bilinear weights of each output index and `G` (out × out) the Gaussian taps, folded at
/// the borders as 'reflect' folds them. For a 28×28 grid and a 224×224 map that is
/// 28·224·28 + 224·224·28 ≈ 1.6 M multiply-adds, against 3.3 M for the 33-tap filter run
/// over the 224×224 plane twice (plus the resize), and each product's inner loop runs
/// along a contiguous row. Accumulation is in Double, as SciPy's; the result differs from
/// `BilinearResize` followed by `GaussianFilter` (the reference, kept beside it) only by
/// rounding: those store each intermediate plane as Float.
struct SmoothedResize: Sendable {
    let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int
    /// A_y: outHeight × inHeight, row-major.
    let rows: [Double]
    /// A_xᵀ: inWidth × outWidth, row-major, so both products run along output rows.
    let columnsTransposed: [Double]
    /// Per output row oy, the grid rows i with A_y[oy][i] ≠ 0 (a window: the Gaussian's
    /// reach of ±4σ covers a few grid cells), and per grid column j the output columns
    /// with A_x[ox][j] ≠ 0. Everything outside is exactly zero and skipped.
    let rowSupport: [Range<Int>]
    let columnSupport: [Range<Int>]

    init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, filter: GaussianFilter) {
        self.inHeight = inHeight; self.inWidth = inWidth; self.outHeight = outHeight; self.outWidth = outWidth
        rows = Self.axis(input: inHeight, output: outHeight, filter: filter)
        let columns = Self.axis(input: inWidth, output: outWidth, filter: filter)
        var transposed = [Double](repeating: 0, count: inWidth * outWidth)
        for ox in 0..<outWidth { for j in 0..<inWidth { transposed[j * outWidth + ox] = columns[ox * inWidth + j] } }
        columnsTransposed = transposed
        rowSupport = Self.support(rows, count: outHeight, length: inHeight)
        columnSupport = Self.support(transposed, count: inWidth, length: outWidth)
    }

    /// The smallest range of each row of a row-major matrix outside which it is zero.
    static func support(_ matrix: [Double], count: Int, length: Int) -> [Range<Int>] {
        (0..<count).map { r in
            let row = matrix[(r * length)..<((r + 1) * length)]
            guard let first = row.firstIndex(where: { $0 != 0 }), let last = row.lastIndex(where: { $0 != 0 }) else { return 0..<0 }
            return (first - r * length)..<(last - r * length + 1)
        }
    }

    /// `G · B` for one axis (output × input): Gaussian row o gathers the bilinear rows of
    /// the reflected indices o + k − r, each with tap weight w[k].
    static func axis(input: Int, output: Int, filter: GaussianFilter) -> [Double] {
        let taps = BilinearResize.AxisTaps(input: input, output: output)
        var bilinear = [Double](repeating: 0, count: output * input)
        for o in 0..<output {
            // Float's 1 − w, as BilinearResize forms the lower weight.
            bilinear[o * input + taps.lower[o]] += Double(1 - taps.upperWeight[o])
            bilinear[o * input + taps.upper[o]] += Double(taps.upperWeight[o])
        }
        var combined = [Double](repeating: 0, count: output * input)
        let r = filter.radius
        for o in 0..<output {
            for k in 0...(2 * r) {
                let source = GaussianFilter.reflect(o + k - r, output), w = filter.weights[k]
                for i in 0..<input { combined[o * input + i] += w * bilinear[source * input + i] }
            }
        }
        return combined
    }

    /// scores: inHeight × inWidth; map: outHeight × outWidth (both row-major).
    func apply(_ scores: UnsafePointer<Float>, into map: UnsafeMutablePointer<Float>) {
        // T = S · A_xᵀ (inHeight × outWidth), then map = A_y · T; every inner loop is an
        // axpy along a row (it vectorises), over the nonzero window only.
        var partial = [Double](repeating: 0, count: inHeight * outWidth)
        var row = [Double](repeating: 0, count: outWidth)
        partial.withUnsafeMutableBufferPointer { t in
            columnsTransposed.withUnsafeBufferPointer { axT in
                for i in 0..<inHeight {
                    let out = t.baseAddress! + i * outWidth
                    for j in 0..<inWidth {
                        let s = Double(scores[i * inWidth + j]), a = axT.baseAddress! + j * outWidth
                        for ox in columnSupport[j] { out[ox] += s * a[ox] }
                    }
                }
            }
            rows.withUnsafeBufferPointer { ay in
                row.withUnsafeMutableBufferPointer { acc in
                    for oy in 0..<outHeight {
                        for ox in 0..<outWidth { acc[ox] = 0 }
                        let a = ay.baseAddress! + oy * inHeight
                        for i in rowSupport[oy] {
                            let w = a[i], src = t.baseAddress! + i * outWidth
                            for ox in 0..<outWidth { acc[ox] += w * src[ox] }
                        }
                        let dst = map + oy * outWidth
                        for ox in 0..<outWidth { dst[ox] = Float(acc[ox]) }
                    }
                }
            }
        }
    }
}
