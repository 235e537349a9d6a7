/// Bilinear resize of one plane, matching PyTorch's
/// `F.interpolate(mode='bilinear', align_corners=False)` (METHOD.md step 5: the 28×28
/// patch-score grid is resized to the 224×224 crop).
///
/// PyTorch's source coordinate for output index `o` is `(o + 0.5)·(in/out) − 0.5`,
/// clamped below at 0; the upper neighbour is clamped to `in − 1`.
enum BilinearResize {
    /// One source axis: for each output index the lower source index, the upper one and
    /// the weight of the upper one.
    struct AxisTaps {
        var lower: [Int]
        var upper: [Int]
        var upperWeight: [Float]

        init(input: Int, output: Int) {
            let scale = Float(input) / Float(output)
            lower = []; upper = []; upperWeight = []
            lower.reserveCapacity(output); upper.reserveCapacity(output); upperWeight.reserveCapacity(output)
            for o in 0..<output {
                let src = max(0, (Float(o) + 0.5) * scale - 0.5)
                let i0 = min(Int(src), input - 1)
                lower.append(i0)
                upper.append(min(i0 + 1, input - 1))
                upperWeight.append(src - Float(i0))
            }
        }
    }

    /// input is (inH, inW), output is (outH, outW), both row-major.
    static func resize(_ input: UnsafePointer<Float>, inHeight: Int, inWidth: Int,
                       into output: UnsafeMutablePointer<Float>, outHeight: Int, outWidth: Int) {
        let ys = AxisTaps(input: inHeight, output: outHeight)
        let xs = AxisTaps(input: inWidth, output: outWidth)
        for oy in 0..<outHeight {
            let r0 = input + ys.lower[oy] * inWidth
            let r1 = input + ys.upper[oy] * inWidth
            let wy1 = ys.upperWeight[oy], wy0 = 1 - wy1
            let out = output + oy * outWidth
            for ox in 0..<outWidth {
                let x0 = xs.lower[ox], x1 = xs.upper[ox]
                let wx1 = xs.upperWeight[ox], wx0 = 1 - wx1
                out[ox] = wy0 * (wx0 * r0[x0] + wx1 * r0[x1]) + wy1 * (wx0 * r1[x0] + wx1 * r1[x1])
            }
        }
    }
}
