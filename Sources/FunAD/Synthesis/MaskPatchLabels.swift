/// Patch labels of an image from its pixel mask, on the feature grid: a patch is anomalous
/// when at least half of the pixels of its cell are (the mask area-averaged to the grid,
/// then thresholded at 0.5). Used for the y_syn ablation (paper supplement, Table 5), where
/// synthetic anomalies are supervised by their own Perlin masks instead of pseudo-labels.
public enum MaskPatchLabels {
    /// mask: 1 × H × W planes of 0 and 1, already through the backbone's resize and crop.
    /// Returns gridHeight · gridWidth labels, row-major. Cell (gy, gx) covers rows
    /// ⌊gy·H/gh⌋ ..< ⌊(gy+1)·H/gh⌋ and the same for columns, so uneven sizes are covered.
    public static func labels(mask: ImagePlanes, gridHeight gh: Int, gridWidth gw: Int) throws -> [UInt8] {
        guard mask.channels == 1, gh >= 1, gw >= 1, mask.height >= gh, mask.width >= gw else {
            throw TrainingError("mask of \(mask.channels)×\(mask.height)×\(mask.width) cannot be pooled to a \(gh)×\(gw) patch grid; expected one channel at least as large as the grid")
        }
        var out = [UInt8](repeating: 0, count: gh * gw)
        for gy in 0..<gh {
            let y0 = gy * mask.height / gh, y1 = (gy + 1) * mask.height / gh
            for gx in 0..<gw {
                let x0 = gx * mask.width / gw, x1 = (gx + 1) * mask.width / gw
                var anomalous = 0
                for y in y0..<y1 {
                    for x in x0..<x1 where mask.data[y * mask.width + x] > 0.5 { anomalous += 1 }
                }
                out[gy * gw + gx] = 2 * anomalous >= (y1 - y0) * (x1 - x0) ? 1 : 0
            }
        }
        return out
    }
}
