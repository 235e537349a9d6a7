import Foundation

/// Geometric helpers on single planes (`height × width`, row-major).
enum PlaneWarp {
    /// Rotation by `degrees` about the image centre with bilinear sampling; samples from
    /// outside the image are 0 — imgaug's `Affine(rotate=…)` defaults (order 1, constant
    /// mode, cval 0), which DRAEM applies to its Perlin noise and textures.
    static func rotate(_ src: [Float], height: Int, width: Int, degrees: Double) -> [Float] {
        if degrees == 0 { return src }
        let theta = degrees * Double.pi / 180
        let c = cos(theta), s = sin(theta)
        let cy = Double(height - 1) / 2, cx = Double(width - 1) / 2
        var out = [Float](repeating: 0, count: src.count)
        for y in 0..<height {
            for x in 0..<width {
                // Inverse map: output pixel → source position.
                let dx = Double(x) - cx, dy = Double(y) - cy
                let sx = c * dx + s * dy + cx
                let sy = -s * dx + c * dy + cy
                let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
                let fx = Float(sx - Double(x0)), fy = Float(sy - Double(y0))
                @inline(__always) func at(_ yy: Int, _ xx: Int) -> Float {
                    (yy >= 0 && yy < height && xx >= 0 && xx < width) ? src[yy * width + xx] : 0
                }
                let top = at(y0, x0) + fx * (at(y0, x0 + 1) - at(y0, x0))
                let bottom = at(y0 + 1, x0) + fx * (at(y0 + 1, x0 + 1) - at(y0 + 1, x0))
                out[y * width + x] = top + fy * (bottom - top)
            }
        }
        return out
    }

    static func flipHorizontal(_ src: [Float], height: Int, width: Int) -> [Float] {
        var out = src
        for y in 0..<height { for x in 0..<width { out[y * width + x] = src[y * width + (width - 1 - x)] } }
        return out
    }

    static func flipVertical(_ src: [Float], height: Int, width: Int) -> [Float] {
        var out = src
        for y in 0..<height { for x in 0..<width { out[y * width + x] = src[(height - 1 - y) * width + x] } }
        return out
    }
}

extension ImagePlanes {
    /// Applies a per-plane transform to every channel.
    func mapPlanes(_ f: ([Float]) -> [Float]) -> ImagePlanes {
        let n = width * height
        var out = [Float]()
        out.reserveCapacity(data.count)
        for c in 0..<channels { out += f(Array(data[(c * n)..<((c + 1) * n)])) }
        return ImagePlanes(width: width, height: height, channels: channels, data: out)
    }
}
