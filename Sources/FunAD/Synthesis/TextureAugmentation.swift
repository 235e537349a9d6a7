import Foundation

/// Augmentations for the anomaly texture (DRAEM's `randAugmenter`: three distinct ops out
/// of a list, in random order). DRAEM's list is colour ops (gamma, brightness, sharpness,
/// hue/saturation, solarize, posterize, invert, autocontrast, equalize) plus rotation;
/// here the texture is another training image, so the list keeps the colour ops that are
/// simple per-pixel maps and adds flips, as the brief asks (colour, flips, rotation).
/// Values stay in [0, 1].
enum TextureAugmentation: String, CaseIterable, Sendable {
    case gamma, brightness, saturation, solarize, posterize, invert, autocontrast, channelShuffle
    case flipHorizontal, flipVertical, rotate

    /// Applies the op with parameters drawn from `rng`.
    func apply(_ image: ImagePlanes, rng: inout SplitMix64) -> ImagePlanes {
        let n = image.width * image.height
        var out = image
        switch self {
        case .gamma:   // iaa.GammaContrast((0.5, 2.0))
            let g = Float(0.5 + 1.5 * rng.nextDouble())
            out.data = image.data.map { pow(max($0, 0), g) }
        case .brightness:   // iaa.MultiplyAndAddToBrightness(mul=(0.8, 1.2), add=(-30, 30))
            let m = Float(0.8 + 0.4 * rng.nextDouble()), a = Float(-30 + 60 * rng.nextDouble()) / 255
            out.data = image.data.map { min(max($0 * m + a, 0), 1) }
        case .saturation:   // iaa.AddToHueAndSaturation-like: scale chroma about the gray value
            let s = Float(0.3 + 1.4 * rng.nextDouble())
            for i in 0..<n {
                let gray = (image.data[i] + image.data[n + i] + image.data[2 * n + i]) / 3
                for c in 0..<3 { out.data[c * n + i] = min(max(gray + s * (image.data[c * n + i] - gray), 0), 1) }
            }
        case .solarize:   // iaa.Solarize(0.5, threshold=(32, 128))
            let t = Float(32 + 96 * rng.nextDouble()) / 255
            out.data = image.data.map { $0 > t ? 1 - $0 : $0 }
        case .posterize:   // iaa.pillike.Posterize(4 bits)
            out.data = image.data.map { (($0 * 255).rounded(.down) / 16).rounded(.down) * 16 / 255 }
        case .invert:
            out.data = image.data.map { 1 - $0 }
        case .autocontrast:   // per-channel min–max stretch
            for c in 0..<3 {
                let plane = image.data[(c * n)..<((c + 1) * n)]
                let lo = plane.min()!, hi = plane.max()!
                if hi > lo { for i in 0..<n { out.data[c * n + i] = (image.data[c * n + i] - lo) / (hi - lo) } }
            }
        case .channelShuffle:   // a hue change that keeps texture: permute channels
            var perm = [0, 1, 2]
            repeat { rng.shuffle(&perm) } while perm == [0, 1, 2]
            for c in 0..<3 { for i in 0..<n { out.data[c * n + i] = image.data[perm[c] * n + i] } }
        case .flipHorizontal:
            out = image.mapPlanes { PlaneWarp.flipHorizontal($0, height: image.height, width: image.width) }
        case .flipVertical:
            out = image.mapPlanes { PlaneWarp.flipVertical($0, height: image.height, width: image.width) }
        case .rotate:   // iaa.Affine(rotate=(-45, 45))
            let deg = -45 + 90 * rng.nextDouble()
            out = image.mapPlanes { PlaneWarp.rotate($0, height: image.height, width: image.width, degrees: deg) }
        }
        return out
    }
}
