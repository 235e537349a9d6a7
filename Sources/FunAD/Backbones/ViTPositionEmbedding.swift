import Foundation

/// Position embeddings for an input whose patch grid differs from the trained one, exactly
/// as DINO's `VisionTransformer.interpolate_pos_encoding`: the class-token embedding is kept,
/// the G×G patch embeddings are resized by `F.interpolate(mode='bicubic',
/// align_corners=False, scale_factor=(g + 0.1)/G)` — the +0.1 makes floor(G·factor) land on
/// g despite rounding (DINO issue #8) and, since PyTorch then maps output pixels back with
/// 1/factor rather than G/g, it also shifts the sampling positions slightly; we reproduce
/// both. An unchanged grid returns the trained embeddings untouched, as DINO does.
enum ViTPositionEmbedding {
    /// pos: (G²+1) × dim, class token first, patches row-major. Returns (g²+1) × dim.
    static func resized(_ pos: UnsafePointer<Float>, trainedGrid G: Int, grid g: Int, dim: Int) -> [Float] {
        if g == G { return Array(UnsafeBufferPointer(start: pos, count: (G * G + 1) * dim)) }
        let factor = (Double(g) + 0.1) / Double(G)
        let taps = bicubicTaps(inputSize: G, outputSize: g, scaleFactor: factor)
        var out = [Float](repeating: 0, count: (g * g + 1) * dim)
        // Class token: copied. Patches: separable, along x into tmp (G × g × dim), then y.
        for c in 0..<dim { out[c] = pos[c] }
        let grid = pos + dim
        var tmp = [Float](repeating: 0, count: G * g * dim)
        for y in 0..<G {
            for ox in 0..<g {
                let (idx, w) = taps[ox]
                for c in 0..<dim {
                    var s: Float = 0
                    for j in 0..<4 { s += w[j] * grid[(y * G + idx[j]) * dim + c] }
                    tmp[(y * g + ox) * dim + c] = s
                }
            }
        }
        for oy in 0..<g {
            let (idx, w) = taps[oy]
            for ox in 0..<g {
                for c in 0..<dim {
                    var s: Float = 0
                    for j in 0..<4 { s += w[j] * tmp[(idx[j] * g + ox) * dim + c] }
                    out[(1 + oy * g + ox) * dim + c] = s
                }
            }
        }
        return out
    }

    /// For each output index: the 4 clamped source indices and their cubic-convolution
    /// weights (Keys, A = −0.75), following ATen's `upsample_bicubic2d` CPU kernel in
    /// float32: scale = (float)(1/scaleFactor), src = scale·(dst + ½) − ½ (not clamped),
    /// i = ⌊src⌋, t = src − i.
    static func bicubicTaps(inputSize: Int, outputSize: Int, scaleFactor: Double) -> [([Int], [Float])] {
        let scale = Float(1.0 / scaleFactor)
        let a: Float = -0.75
        func near(_ x: Float) -> Float { ((a + 2) * x - (a + 3)) * x * x + 1 }          // |x| ≤ 1
        func far(_ x: Float) -> Float { ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }      // 1 < |x| < 2
        return (0..<outputSize).map { dst in
            let src = scale * (Float(dst) + 0.5) - 0.5
            let i = min(Int(src.rounded(.down)), inputSize - 1)
            let t = min(max(src - Float(i), 0), 1)
            let w = [far(t + 1), near(t), near(1 - t), far(2 - t)]
            let idx = (0..<4).map { min(max(i - 1 + $0, 0), inputSize - 1) }
            return (idx, w)
        }
    }
}
