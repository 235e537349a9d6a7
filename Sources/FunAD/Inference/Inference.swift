import Foundation

/// How an image's patch scores become its image score. The paper takes the maximum
/// (METHOD.md step 5); one maximal patch then decides the image, so a single noisy patch
/// of a normal image outranks a defect that raises several patches a little. The
/// alternatives are those one-class tools use to damp that noise.
public enum ImageScoreRule: Sendable, Equatable, CustomStringConvertible {
    /// max_j s_ij over the P patch scores (paper, METHOD.md step 5).
    case maximum
    /// Mean of the k highest patch scores, k = max(1, ⌈fraction · P⌉): a defect must raise
    /// several patches (fraction 0.01 of a 28×28 grid is 8 patches, about a 3×3 area).
    case topKMean(fraction: Double)
    /// Maximum of the anomaly map (patch grid → bilinear to the map size → Gaussian σ),
    /// i.e. the maximum after the same smoothing the pixel scores get (PatchCore, anomalib).
    case smoothedMaximum
    /// max_j of each patch's score calibrated by its position's training statistics,
    /// (t(s_ij) − median_j) / scale_j (`PositionCalibration`).
    case positionCalibratedMaximum(PositionCalibration)

    /// The default fraction of `topKMean`.
    public static let defaultTopKFraction = 0.01

    /// Patches averaged by `topKMean(fraction)` on P patches.
    public static func topKCount(fraction: Double, patches: Int) -> Int {
        min(patches, max(1, Int((fraction * Double(patches)).rounded(.up))))
    }

    public var description: String {
        switch self {
        case .maximum: return "max"
        case .topKMean(let f): return "topk_mean (top \(f) of the patch scores)"
        case .smoothedMaximum: return "smoothed_max (max of the smoothed anomaly map)"
        case .positionCalibratedMaximum(let c):
            return "calibrated_max (max over patches of (\(c.logit ? "the logit" : "the score") − its position's training median) / (1.4826 · MAD))"
        }
    }
}

/// What `Inference.run` produced: one score per image and, when asked, the map file.
public struct InferenceResult: Sendable {
    /// Image scores by the run's `ImageScoreRule` (default: max patch score, METHOD.md
    /// step 5), in feature-source order.
    public var imageScores: [Float]
    /// The anomaly-map file (N × mapSide × mapSide), if maps were written.
    public var mapURL: URL?
    public var mapHeight: Int
    public var mapWidth: Int
    /// Wall-clock seconds spent inside the scorer (Local-Net's layers or PatchCore's
    /// search), the rest being feature gathering, maps and writing: `predict` reports it.
    public var scorerSeconds: Double = 0
}

/// The `infer` step: score every patch of every image, reduce to image scores, and write
/// the anomaly maps.
public enum Inference {
    /// - Parameters:
    ///   - scorer: any `PatchScorer` (trained Local-Net, PatchCore, …).
    ///   - features: the test images' patch features.
    ///   - mapSide: side of the square crop the maps are resized to (224).
    ///   - sigma: Gaussian σ in map pixels (4); ≤ 0 disables smoothing.
    ///   - patchesPerCall: patches handed to the scorer per call; whole images are batched
    ///     until this many patches are gathered (at least one image per call), so
    ///     BLAS-backed scorers see large matrices.
    ///   - writeMapsTo: anomaly-map file to write, or nil to compute image scores only.
    ///   - mapSink: called with (image index, its map) for every image, in order, when
    ///     the caller keeps the maps itself (`predict` renders overlays from them without
    ///     a file round trip); the same float32 values the file would hold.
    ///   - progress: called with (images done, total) after every batch.
    ///   - imageScoreRule: how patch scores become the image score (default: the paper's max).
    ///   - imageScore: optional rule (image's P×D features, its P patch scores) → image
    ///     score, e.g. PatchCore's `reweightedImageScore`; when given it replaces
    ///     `imageScoreRule`.
    public static func run(
        scorer: some PatchScorer,
        features: some PatchFeatureSource,
        mapSide: Int = 224,
        sigma: Double = 4,
        mapPrecision: MapPrecision = .float32,
        patchesPerCall: Int = 8192,
        writeMapsTo mapURL: URL?,
        mapSink: ((Int, UnsafeBufferPointer<Float>) throws -> Void)? = nil,
        progress: ((Int, Int) -> Void)? = nil,
        imageScoreRule: ImageScoreRule = .maximum,
        imageScore: ((UnsafePointer<Float>, UnsafeBufferPointer<Float>) throws -> Float)? = nil
    ) throws -> InferenceResult {
        let p = features.patchesPerImage, d = features.dimension, n = features.imageCount
        guard scorer.dimension == d else {
            throw InferenceError("infer: the scorer expects \(scorer.dimension)-d features, the feature source has \(d)-d")
        }
        guard p == features.gridHeight * features.gridWidth, p > 0 else {
            throw InferenceError("infer: feature grid \(features.gridHeight)×\(features.gridWidth) does not match \(p) patches per image")
        }
        guard mapSide > 0 else { throw InferenceError("infer: mapSide must be positive, got \(mapSide)") }
        if case .topKMean(let f) = imageScoreRule, !(f > 0 && f <= 1) {
            throw InferenceError("infer: the top-k fraction must be in (0, 1], got \(f)")
        }
        if case .positionCalibratedMaximum(let c) = imageScoreRule, c.center.count != p || c.scale.count != p {
            throw InferenceError("infer: the per-position calibration has \(c.center.count) positions, the features \(p) patches per image")
        }
        // The smoothed maximum needs the map of every image, written or not.
        let needsMap = mapURL != nil || mapSink != nil || (imageScore == nil && imageScoreRule == .smoothedMaximum)
        var sorted = [Float](repeating: 0, count: p)
        let writer = try mapURL.map { try AnomalyMapWriter(url: $0, height: mapSide, width: mapSide, precision: mapPrecision) }
        let maker = AnomalyMapMaker(gridHeight: features.gridHeight, gridWidth: features.gridWidth,
                                    mapHeight: mapSide, mapWidth: mapSide, sigma: sigma)
        // Never more images per call than the source holds: `predict` scores batches of 8,
        // and a 10-image buffer (45 MB for 1432-d features) per batch was pure page faults.
        let imagesPerCall = max(1, min(patchesPerCall / p, n))
        var feats = [Float](repeating: 0, count: imagesPerCall * p * d)
        var scores = [Float](repeating: 0, count: imagesPerCall * p)
        // calibrated_max compares the scorer's calibration values (Local-Net: logits).
        let calibration: PositionCalibration? = if case .positionCalibratedMaximum(let c) = imageScoreRule, imageScore == nil { c } else { nil }
        var calibrationValues = [Float](repeating: 0, count: calibration == nil ? 0 : imagesPerCall * p)
        var map = [Float](repeating: 0, count: mapSide * mapSide)
        var imageScores = [Float](); imageScores.reserveCapacity(n)
        var scorerSeconds = 0.0
        var start = 0
        while start < n {
            let batch = min(imagesPerCall, n - start)
            try feats.withUnsafeMutableBufferPointer { f in
                for i in 0..<batch { try features.patchFeatures(ofImage: start + i, into: f.baseAddress! + i * p * d) }
            }
            let scoringStarted = DispatchTime.now().uptimeNanoseconds
            try feats.withUnsafeBufferPointer { f in
                try scores.withUnsafeMutableBufferPointer { s in
                    if calibration != nil {
                        try calibrationValues.withUnsafeMutableBufferPointer { v in
                            try scorer.scoreImages(f.baseAddress!, images: batch, patchesPerImage: p, into: s.baseAddress!, calibrationValues: v.baseAddress!)
                        }
                    } else {
                        try scorer.scoreImages(f.baseAddress!, images: batch, patchesPerImage: p, into: s.baseAddress!)
                    }
                }
            }
            scorerSeconds += Double(DispatchTime.now().uptimeNanoseconds - scoringStarted) / 1e9
            for i in 0..<batch {
                var best = -Float.infinity
                for j in 0..<p {
                    let s = scores[i * p + j]
                    guard s.isFinite else {
                        throw InferenceError("infer: the scorer returned \(s) for patch \(j) of image \(start + i)")
                    }
                    best = max(best, s)
                }
                if needsMap {
                    scores.withUnsafeBufferPointer { s in
                        map.withUnsafeMutableBufferPointer { m in maker.makeMap(scores: s.baseAddress! + i * p, into: m.baseAddress!) }
                    }
                }
                if let imageScore {
                    best = try feats.withUnsafeBufferPointer { f in
                        try scores.withUnsafeBufferPointer { s in
                            try imageScore(f.baseAddress! + i * p * d, UnsafeBufferPointer(rebasing: s[(i * p)..<((i + 1) * p)]))
                        }
                    }
                } else {
                    switch imageScoreRule {
                    case .maximum: break
                    case .topKMean(let fraction):
                        let k = ImageScoreRule.topKCount(fraction: fraction, patches: p)
                        for j in 0..<p { sorted[j] = scores[i * p + j] }
                        sorted.sort(by: >)
                        var sum = 0.0
                        for j in 0..<k { sum += Double(sorted[j]) }
                        best = Float(sum / Double(k))
                    case .smoothedMaximum:
                        best = map.max()!
                    case .positionCalibratedMaximum(let c):
                        best = -Float.infinity
                        for j in 0..<p { best = max(best, c.calibrated(calibrationValues[i * p + j], position: j)) }
                    }
                }
                imageScores.append(best)
                try writer?.append(map)
                if let mapSink { try map.withUnsafeBufferPointer { try mapSink(start + i, $0) } }
            }
            start += batch
            progress?(start, n)
        }
        try writer?.finish()
        return InferenceResult(imageScores: imageScores, mapURL: mapURL, mapHeight: mapSide, mapWidth: mapSide,
                               scorerSeconds: scorerSeconds)
    }
}
