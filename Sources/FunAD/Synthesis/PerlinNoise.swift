import Foundation

/// 2-D gradient (Perlin) noise exactly as DRAEM's `rand_perlin_2d_np` computes it
/// (Zavrtanik et al., ICCV 2021; the generator FUN-AD* uses for its synthetic anomalies):
/// a `(resY+1) × (resX+1)` lattice of unit gradients at random angles, the quintic fade
/// 6t⁵ − 15t⁴ + 10t³, bilinear blending of the four corner dot products, scaled by √2.
/// Output is `height × width`, row-major; roughly in [−1, 1].
public enum PerlinNoise {
    /// Noise from explicit gradient angles (radians), `(resY+1) × (resX+1)` row-major.
    /// `height` must be a multiple of `resY` and `width` of `resX` (as in DRAEM).
    public static func noise(height: Int, width: Int, resY: Int, resX: Int, angles: [Double]) -> [Float] {
        precondition(resY > 0 && resX > 0 && height % resY == 0 && width % resX == 0,
                     "PerlinNoise: \(height)×\(width) is not a multiple of the \(resY)×\(resX) lattice")
        precondition(angles.count == (resY + 1) * (resX + 1), "PerlinNoise: need one angle per lattice point")
        let gx = angles.map { cos($0) }, gy = angles.map { sin($0) }   // gradient (axis 0, axis 1)
        let dy = height / resY, dx = width / resX
        let deltaY = Double(resY) / Double(height), deltaX = Double(resX) / Double(width)
        @inline(__always) func fade(_ t: Double) -> Double { t * t * t * (t * (t * 6 - 15) + 10) }
        // Per-column fractions, fades and cells (hoisted out of the pixel loop).
        let fxs = (0..<width).map { (Double($0) * deltaX).truncatingRemainder(dividingBy: 1) }
        let txs = fxs.map(fade)
        var out = [Float](repeating: 0, count: height * width)
        for i in 0..<height {
            let fy = (Double(i) * deltaY).truncatingRemainder(dividingBy: 1)
            let ci = i / dy
            let ty = fade(fy)
            for j in 0..<width {
                let fx = fxs[j]
                let cj = j / dx
                let g00 = ci * (resX + 1) + cj, g10 = g00 + resX + 1, g01 = g00 + 1, g11 = g10 + 1
                // DRAEM's grid[...,0] runs along rows (axis 0), grid[...,1] along columns.
                let n00 = fy * gx[g00] + fx * gy[g00]
                let n10 = (fy - 1) * gx[g10] + fx * gy[g10]
                let n01 = fy * gx[g01] + (fx - 1) * gy[g01]
                let n11 = (fy - 1) * gx[g11] + (fx - 1) * gy[g11]
                let tx = txs[j]
                let a = n00 + ty * (n10 - n00)
                let b = n01 + ty * (n11 - n01)
                out[i * width + j] = Float(2.0.squareRoot() * (a + tx * (b - a)))
            }
        }
        return out
    }

    /// Noise with angles drawn uniformly in [0, 2π) from `rng`.
    public static func noise(height: Int, width: Int, resY: Int, resX: Int, rng: inout SplitMix64) -> [Float] {
        let angles = (0..<((resY + 1) * (resX + 1))).map { _ in 2 * Double.pi * rng.nextDouble() }
        return noise(height: height, width: width, resY: resY, resX: resX, angles: angles)
    }

    /// Fractal sum of `octaves` noises (lattice doubling, amplitude halving), for the demo
    /// textures. `baseRes` must divide both sizes at every octave.
    static func fractal(height: Int, width: Int, baseResY: Int, baseResX: Int, octaves: Int,
                        rng: inout SplitMix64) -> [Float] {
        var out = [Float](repeating: 0, count: height * width)
        var amp: Float = 1, ry = baseResY, rx = baseResX
        for _ in 0..<octaves {
            guard height % ry == 0, width % rx == 0 else { break }
            let n = noise(height: height, width: width, resY: ry, resX: rx, rng: &rng)
            for k in 0..<out.count { out[k] += amp * n[k] }
            amp *= 0.5; ry *= 2; rx *= 2
        }
        return out
    }
}
