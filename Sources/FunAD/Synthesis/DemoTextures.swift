import Foundation

/// Surface categories of the built-in demo dataset.
public enum DemoCategory: String, Sendable, CaseIterable, Codable {
    case wood, metal, fabric
}

/// Procedural, defect-free surfaces (RGB planes in [0, 1], `size × size`): noise-based
/// textures with per-image variation (phase, orientation, tint), so that normal images
/// are alike but not identical, as on a production line.
enum DemoTextures {
    static func render(_ category: DemoCategory, size: Int, rng: inout SplitMix64) -> ImagePlanes {
        switch category {
        case .wood: return wood(size, &rng)
        case .metal: return metal(size, &rng)
        case .fabric: return fabric(size, &rng)
        }
    }

    static func planes(_ size: Int, _ color: (Int, Int) -> (Float, Float, Float)) -> ImagePlanes {
        var out = ImagePlanes(width: size, height: size, channels: 3)
        let n = size * size
        for y in 0..<size {
            for x in 0..<size {
                let (r, g, b) = color(y, x)
                let i = y * size + x
                out.data[i] = min(max(r, 0), 1)
                out.data[n + i] = min(max(g, 0), 1)
                out.data[2 * n + i] = min(max(b, 0), 1)
            }
        }
        return out
    }

    /// Growth rings: a sine of the distance to a far-away centre, warped by fractal noise,
    /// between a dark and a light brown.
    static func wood(_ size: Int, _ rng: inout SplitMix64) -> ImagePlanes {
        let warp = PerlinNoise.fractal(height: size, width: size, baseResY: 2, baseResX: 4, octaves: 4, rng: &rng)
        let grain = PerlinNoise.fractal(height: size, width: size, baseResY: 64, baseResX: 2, octaves: 2, rng: &rng)
        let cx = Double(size) * (0.5 + rng.nextDouble()), cy = -Double(size) * (1 + 2 * rng.nextDouble())
        let freq = 0.10 + 0.05 * rng.nextDouble()
        let tint = Float(rng.nextDouble() * 0.06 - 0.03)
        return planes(size) { y, x in
            let i = y * size + x
            let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
            let ring = Float(0.5 + 0.5 * sin(d * freq + 6 * Double(warp[i])))
            let t = 0.65 * ring * ring + 0.25 + 0.08 * grain[i]
            return (0.42 + 0.33 * t + tint, 0.25 + 0.25 * t + tint, 0.12 + 0.16 * t)
        }
    }

    /// Brushed metal: streaks along one axis (lattice fine across, coarse along), soft
    /// shading, a cool gray.
    static func metal(_ size: Int, _ rng: inout SplitMix64) -> ImagePlanes {
        let streaks = PerlinNoise.fractal(height: size, width: size, baseResY: 64, baseResX: 1, octaves: 3, rng: &rng)
        let shade = PerlinNoise.fractal(height: size, width: size, baseResY: 1, baseResX: 2, octaves: 2, rng: &rng)
        let base = Float(0.52 + 0.08 * rng.nextDouble())
        return planes(size) { y, x in
            let i = y * size + x
            let v = base + 0.06 * streaks[i] + 0.10 * shade[i]
            return (v, v + 0.01, v + 0.04)
        }
    }

    /// Plain weave: alternating over/under threads from two sine gratings, thread-level
    /// noise, a dyed colour.
    static func fabric(_ size: Int, _ rng: inout SplitMix64) -> ImagePlanes {
        let noise = PerlinNoise.fractal(height: size, width: size, baseResY: 16, baseResX: 16, octaves: 2, rng: &rng)
        let period = 6.0 + 2 * rng.nextDouble()
        // One dye for the whole product line, with a slight per-image lot variation.
        let jitter = Float(rng.nextDouble() * 0.04 - 0.02)
        let (r0, g0, b0): (Float, Float, Float) = (0.20 + jitter, 0.30 + jitter, 0.55 + jitter)
        return planes(size) { y, x in
            let i = y * size + x
            let u = sin(2 * Double.pi * Double(x) / period), v = sin(2 * Double.pi * Double(y) / period)
            let over = (Int((Double(x) / period).rounded(.down)) + Int((Double(y) / period).rounded(.down))) % 2 == 0
            let thread = Float(over ? abs(v) : abs(u))
            let s = 0.6 + 0.4 * thread + 0.08 * noise[i]
            return (r0 * s + 0.05, g0 * s + 0.05, b0 * s + 0.05)
        }
    }
}

/// Defects painted onto a demo surface: each returns a coverage map α ∈ [0, 1] and how
/// to recolour covered pixels; the pixel mask is α > 0.5.
enum DemoDefect: String, Sendable, CaseIterable {
    case scratch, crack, blob, spot

    /// Paints the defect in place and returns the mask (0/255 bytes).
    func paint(on image: inout ImagePlanes, rng: inout SplitMix64) -> [UInt8] {
        let size = image.width
        var alpha = [Float](repeating: 0, count: size * size)
        let margin = Double(size) * 0.16
        let cx = margin + rng.nextDouble() * (Double(size) - 2 * margin)
        let cy = margin + rng.nextDouble() * (Double(size) - 2 * margin)
        var color: (Float, Float, Float) -> (Float, Float, Float)
        switch self {
        case .scratch:
            let angle = rng.nextDouble() * Double.pi
            let length = Double(size) * (0.2 + 0.3 * rng.nextDouble())
            let width = 1.2 + 1.3 * rng.nextDouble()
            let (dx, dy) = (cos(angle) * length / 2, sin(angle) * length / 2)
            Self.stroke(&alpha, size: size, from: (cx - dx, cy - dy), to: (cx + dx, cy + dy), width: width)
            color = { r, g, b in (min(r + 0.35, 1), min(g + 0.35, 1), min(b + 0.35, 1)) }
        case .crack:
            var p = (cx, cy)
            var heading = rng.nextDouble() * 2 * Double.pi
            let segments = 6 + rng.nextInt(below: 7)
            for _ in 0..<segments {
                heading += (rng.nextDouble() - 0.5) * 1.2
                let step = 6 + 8 * rng.nextDouble()
                let q = (min(max(p.0 + cos(heading) * step, 2), Double(size) - 3),
                         min(max(p.1 + sin(heading) * step, 2), Double(size) - 3))
                Self.stroke(&alpha, size: size, from: p, to: q, width: 1.6 + 1.4 * rng.nextDouble())
                p = q
            }
            color = { r, g, b in (r * 0.25, g * 0.25, b * 0.25) }
        case .blob:
            let radius = Double(size) * (0.05 + 0.08 * rng.nextDouble())
            let noise = PerlinNoise.noise(height: size, width: size, resY: 8, resX: 8, rng: &rng)
            for y in 0..<size {
                for x in 0..<size {
                    let d = ((Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)).squareRoot()
                    let edge = radius * (1 + 0.6 * Double(noise[y * size + x]))
                    alpha[y * size + x] = Float(min(max(edge - d + 0.5, 0), 1))
                }
            }
            let dark = Float(0.45 + 0.2 * rng.nextDouble())
            color = { r, g, b in (r * dark, g * dark * 0.95, b * dark * 0.9) }
        case .spot:
            let rx = Double(size) * (0.025 + 0.045 * rng.nextDouble()), ry = rx * (0.6 + 0.8 * rng.nextDouble())
            for y in 0..<size {
                for x in 0..<size {
                    let u = (Double(x) - cx) / rx, v = (Double(y) - cy) / ry
                    let r = (u * u + v * v).squareRoot()
                    alpha[y * size + x] = Float(min(max((1 - r) * rx + 0.5, 0), 1))
                }
            }
            let paints: [(Float, Float, Float)] = [(0.75, 0.30, 0.10), (0.15, 0.35, 0.80), (0.85, 0.80, 0.20)]
            let paint = paints[rng.nextInt(below: paints.count)]
            color = { _, _, _ in paint }
        }
        let n = size * size
        var mask = [UInt8](repeating: 0, count: n)
        for i in 0..<n where alpha[i] > 0 {
            let a = alpha[i]
            let (r, g, b) = color(image.data[i], image.data[n + i], image.data[2 * n + i])
            image.data[i] += a * (r - image.data[i])
            image.data[n + i] += a * (g - image.data[n + i])
            image.data[2 * n + i] += a * (b - image.data[2 * n + i])
            if a > 0.5 { mask[i] = 255 }
        }
        return mask
    }

    /// Adds an anti-aliased line segment of the given width to the coverage map.
    static func stroke(_ alpha: inout [Float], size: Int, from p: (Double, Double), to q: (Double, Double), width: Double) {
        let minX = max(0, Int(min(p.0, q.0) - width - 1)), maxX = min(size - 1, Int(max(p.0, q.0) + width + 1))
        let minY = max(0, Int(min(p.1, q.1) - width - 1)), maxY = min(size - 1, Int(max(p.1, q.1) + width + 1))
        let vx = q.0 - p.0, vy = q.1 - p.1
        let len2 = max(vx * vx + vy * vy, 1e-9)
        guard minX <= maxX, minY <= maxY else { return }
        for y in minY...maxY {
            for x in minX...maxX {
                let t = min(max(((Double(x) - p.0) * vx + (Double(y) - p.1) * vy) / len2, 0), 1)
                let ex = Double(x) - (p.0 + t * vx), ey = Double(y) - (p.1 + t * vy)
                let d = (ex * ex + ey * ey).squareRoot()
                let a = Float(min(max(width / 2 - d + 0.5, 0), 1))
                alpha[y * size + x] = max(alpha[y * size + x], a)
            }
        }
    }
}
