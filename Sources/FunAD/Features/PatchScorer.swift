/// Anything that maps patch features to anomaly scores: a trained Local-Net (score in
/// (0,1), METHOD.md Infer), or a one-class baseline such as PatchCore (a distance).
/// Higher always means more anomalous.
public protocol PatchScorer: Sendable {
    /// Input feature dimension the scorer expects.
    var dimension: Int { get }
    /// Scores `count` features (`count × dimension`, row-major) into `scores[count]`.
    func scorePatches(_ features: UnsafePointer<Float>, count: Int, into scores: UnsafeMutablePointer<Float>) throws
    /// Scores whole images: `images × patchesPerImage` features, image-major. A scorer that
    /// can use the image boundaries (Local-Net computes the global part of [global ‖ local_j]
    /// once per image) overrides this; the default scores the patches one by one.
    func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                     into scores: UnsafeMutablePointer<Float>) throws
    /// True when `calibrationValues` are logits whose sigmoid is the score (Local-Net),
    /// false when they are the scores themselves (PatchCore's distances).
    var calibratesLogits: Bool { get }
    /// Scores whole images as `scoreImages` does, and writes the values that per-position
    /// calibration (`PositionCalibration`) compares into `values`: for a sigmoid scorer the
    /// logits, since its scores crowd near 1 where float32 keeps only a few bits of 1 − s.
    func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                     into scores: UnsafeMutablePointer<Float>, calibrationValues values: UnsafeMutablePointer<Float>) throws
}

extension PatchScorer {
    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>) throws {
        try scorePatches(features, count: images * patchesPerImage, into: scores)
    }

    public var calibratesLogits: Bool { false }

    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>, calibrationValues values: UnsafeMutablePointer<Float>) throws {
        try scoreImages(features, images: images, patchesPerImage: patchesPerImage, into: scores)
        values.update(from: scores, count: images * patchesPerImage)
    }
}
