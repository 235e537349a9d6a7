/// Pooling and resampling of feature maps.
enum PoolingKernels {
    /// Global average pooling. input (C, B, H·W) channel-major; output (B, C).
    static func globalAverage(_ x: UnsafePointer<Float>, channels c: Int, batch: Int, plane: Int, into y: UnsafeMutablePointer<Float>) {
        let inv = 1 / Float(plane)
        for ch in 0..<c {
            for b in 0..<batch {
                let p = x + (ch * batch + b) * plane
                var s: Float = 0
                for i in 0..<plane { s += p[i] }
                y[b * c + ch] = s * inv
            }
        }
    }

    /// Bilinear resize of `planes` maps h×w → ho×wo, as torch.nn.functional.interpolate
    /// (mode='bilinear', align_corners=False): source coordinate (dst + ½)·(in/out) − ½,
    /// clamped below at 0, neighbours clamped at the edge.
    static func resizeBilinear(_ x: UnsafePointer<Float>, planes: Int, height h: Int, width w: Int,
                               toHeight ho: Int, width wo: Int, into y: UnsafeMutablePointer<Float>) {
        func taps(_ n: Int, _ out: Int) -> [(Int, Int, Float)] {
            let scale = Float(n) / Float(out)
            return (0..<out).map { d in
                let src = max((Float(d) + 0.5) * scale - 0.5, 0)
                let i0 = min(Int(src), n - 1)
                let i1 = i0 < n - 1 ? i0 + 1 : i0
                return (i0, i1, src - Float(i0))
            }
        }
        let ty = taps(h, ho), tx = taps(w, wo)
        for p in 0..<planes {
            let src = x + p * h * w, dst = y + p * ho * wo
            for oy in 0..<ho {
                let (y0, y1, ly) = ty[oy]
                let r0 = src + y0 * w, r1 = src + y1 * w
                for ox in 0..<wo {
                    let (x0, x1, lx) = tx[ox]
                    let top = r0[x0] + (r0[x1] - r0[x0]) * lx
                    let bottom = r1[x0] + (r1[x1] - r1[x0]) * lx
                    dst[oy * wo + ox] = top + (bottom - top) * ly
                }
            }
        }
    }
}
