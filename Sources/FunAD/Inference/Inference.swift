import Foundation

/// What `Inference.run` produced: one score per image and, when asked, the map file.
public struct InferenceResult: Sendable {
    /// Image score = max patch score (METHOD.md step 5), in feature-source order.
    public var imageScores: [Float]
    /// The anomaly-map file (N × mapSide × mapSide), if maps were written.
    public var mapURL: URL?
    public var mapHeight: Int
    public var mapWidth: Int
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
    ///   - progress: called with (images done, total) after every batch.
    ///   - imageScore: optional rule (image's P×D features, its P patch scores) → image
    ///     score, e.g. PatchCore's `reweightedImageScore`; nil = max patch score.
    public static func run(
        scorer: some PatchScorer,
        features: some PatchFeatureSource,
        mapSide: Int = 224,
        sigma: Double = 4,
        mapPrecision: MapPrecision = .float32,
        patchesPerCall: Int = 8192,
        writeMapsTo mapURL: URL?,
        progress: ((Int, Int) -> Void)? = nil,
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
        let writer = try mapURL.map { try AnomalyMapWriter(url: $0, height: mapSide, width: mapSide, precision: mapPrecision) }
        let maker = AnomalyMapMaker(gridHeight: features.gridHeight, gridWidth: features.gridWidth,
                                    mapHeight: mapSide, mapWidth: mapSide, sigma: sigma)
        let imagesPerCall = max(1, patchesPerCall / p)
        var feats = [Float](repeating: 0, count: imagesPerCall * p * d)
        var scores = [Float](repeating: 0, count: imagesPerCall * p)
        var map = [Float](repeating: 0, count: mapSide * mapSide)
        var imageScores = [Float](); imageScores.reserveCapacity(n)
        var start = 0
        while start < n {
            let batch = min(imagesPerCall, n - start)
            try feats.withUnsafeMutableBufferPointer { f in
                for i in 0..<batch { try features.patchFeatures(ofImage: start + i, into: f.baseAddress! + i * p * d) }
            }
            try feats.withUnsafeBufferPointer { f in
                try scores.withUnsafeMutableBufferPointer { s in
                    try scorer.scorePatches(f.baseAddress!, count: batch * p, into: s.baseAddress!)
                }
            }
            for i in 0..<batch {
                var best = -Float.infinity
                for j in 0..<p {
                    let s = scores[i * p + j]
                    guard s.isFinite else {
                        throw InferenceError("infer: the scorer returned \(s) for patch \(j) of image \(start + i)")
                    }
                    best = max(best, s)
                }
                if let imageScore {
                    best = try feats.withUnsafeBufferPointer { f in
                        try scores.withUnsafeBufferPointer { s in
                            try imageScore(f.baseAddress! + i * p * d, UnsafeBufferPointer(rebasing: s[(i * p)..<((i + 1) * p)]))
                        }
                    }
                }
                imageScores.append(best)
                if let writer {
                    scores.withUnsafeBufferPointer { s in
                        map.withUnsafeMutableBufferPointer { m in maker.makeMap(scores: s.baseAddress! + i * p, into: m.baseAddress!) }
                    }
                    try writer.append(map)
                }
            }
            start += batch
            progress?(start, n)
        }
        try writer?.finish()
        return InferenceResult(imageScores: imageScores, mapURL: mapURL, mapHeight: mapSide, mapWidth: mapSide)
    }
}
