import Foundation

/// Per-position statistics of the training images' patch scores (issue 10: "per-position
/// calibration from the training set's own scores"). A patch position whose scores are
/// high on every image (an edge of the tile, a fixture, a vignetted corner) then stops
/// deciding the image score: each patch is compared with what its own position usually
/// scores. The training set is unlabelled and contaminated, so the statistics are
/// robust: the median and the median absolute deviation over the training images, not
/// the mean and standard deviation that its defective images would pull.
///
/// The values compared are the scorer's `calibrationValues`: Local-Net's logits (its
/// sigmoid scores crowd near 1, where float32 keeps only a few bits of 1 − s), PatchCore's
/// distances as they are.
public struct PositionCalibration: Sendable, Equatable {
    /// Median value per patch position (P values, row-major over the grid).
    public var center: [Float]
    /// 1.4826 · MAD per position, floored (see `fit`).
    public var scale: [Float]
    /// True when the values are logits (Local-Net), for the run record.
    public var logit: Bool

    public init(center: [Float], scale: [Float], logit: Bool) {
        self.center = center; self.scale = scale; self.logit = logit
    }

    /// The calibrated value of one patch at `position`: (v − median) / scale.
    @inline(__always) public func calibrated(_ v: Float, position: Int) -> Float {
        (v - center[position]) / scale[position]
    }

    /// Fits the statistics on `features` (the training images) with `scorer`.
    /// A position whose MAD is tiny would turn rounding into huge calibrated scores, so
    /// each scale is floored at a tenth of the median scale over all positions (and at
    /// 1e-6 when every position is flat).
    public static func fit(scorer: some PatchScorer, features: some PatchFeatureSource,
                           patchesPerCall: Int = 8192) throws -> PositionCalibration {
        let n = features.imageCount, p = features.patchesPerImage, d = features.dimension
        guard n > 0, p > 0 else { throw InferenceError("infer: per-position calibration needs training images; the training feature set is empty") }
        guard scorer.dimension == d else {
            throw InferenceError("infer: the scorer expects \(scorer.dimension)-d features, the training features are \(d)-d")
        }
        // Position-major (P, N) so that each position's N values are contiguous.
        var values = [Float](repeating: 0, count: p * n)
        let imagesPerCall = max(1, min(patchesPerCall / p, n))
        var feats = [Float](repeating: 0, count: imagesPerCall * p * d)
        var scores = [Float](repeating: 0, count: imagesPerCall * p)
        var batchValues = [Float](repeating: 0, count: imagesPerCall * p)
        var start = 0
        while start < n {
            let batch = min(imagesPerCall, n - start)
            try feats.withUnsafeMutableBufferPointer { f in
                for i in 0..<batch { try features.patchFeatures(ofImage: start + i, into: f.baseAddress! + i * p * d) }
            }
            try feats.withUnsafeBufferPointer { f in
                try scores.withUnsafeMutableBufferPointer { s in
                    try batchValues.withUnsafeMutableBufferPointer { v in
                        try scorer.scoreImages(f.baseAddress!, images: batch, patchesPerImage: p, into: s.baseAddress!, calibrationValues: v.baseAddress!)
                    }
                }
            }
            for i in 0..<batch {
                for j in 0..<p {
                    let v = batchValues[i * p + j]
                    guard v.isFinite else { throw InferenceError("infer: the scorer returned \(v) for patch \(j) of training image \(start + i)") }
                    values[j * n + start + i] = v
                }
            }
            start += batch
        }
        var center = [Float](repeating: 0, count: p), scale = [Float](repeating: 0, count: p)
        var column = [Float](repeating: 0, count: n)
        for j in 0..<p {
            for i in 0..<n { column[i] = values[j * n + i] }
            let m = median(&column)
            for i in 0..<n { column[i] = abs(values[j * n + i] - m) }
            center[j] = m
            scale[j] = 1.4826 * median(&column)
        }
        var sortedScales = scale
        let floor = max(0.1 * median(&sortedScales), 1e-6)
        for j in 0..<p { scale[j] = max(scale[j], floor) }
        return PositionCalibration(center: center, scale: scale, logit: scorer.calibratesLogits)
    }

    /// Median of `v` (sorted in place); the mean of the two middle values for even counts.
    static func median(_ v: inout [Float]) -> Float {
        v.sort()
        let c = v.count
        return c % 2 == 1 ? v[c / 2] : (v[c / 2 - 1] + v[c / 2]) / 2
    }
}
