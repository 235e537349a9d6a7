/// A trained (frozen) Local-Net φ: patch features → anomaly scores in (0, 1)
/// (METHOD.md "Infer"). This is what inference, the eval helper's maps and the Stages
/// layer use; training mutates `LocalNetParameters` inside the trainer instead.
public struct LocalNet: PatchScorer {
    public let parameters: LocalNetParameters
    /// Rows scored per GEMM chain: large enough for BLAS efficiency, small enough that
    /// the activations stay modest (4096 × (D + 1024 + 128) floats ≈ 44 MB for D = 1536).
    public var chunkRows = 4096

    public init(parameters: LocalNetParameters) { self.parameters = parameters }

    public var shape: LocalNetShape { parameters.shape }
    public var dimension: Int { parameters.shape.dimension }

    public func scorePatches(_ features: UnsafePointer<Float>, count: Int, into scores: UnsafeMutablePointer<Float>) throws {
        try forEachChunk(features, count: count) { ws, start, n in
            (scores + start).update(from: ws.scores, count: n)
        }
    }

    /// Scores and adapted features φ_a(f) (count × D) in one pass: the memory bank needs
    /// the adapted features and the image scores from the same forward.
    public func scoreAndAdapt(_ features: UnsafePointer<Float>, count: Int,
                              scores: UnsafeMutablePointer<Float>, adapted: UnsafeMutablePointer<Float>) throws {
        let d = dimension
        try forEachChunk(features, count: count) { ws, start, n in
            (scores + start).update(from: ws.scores, count: n)
            (adapted + start * d).update(from: ws.adapted, count: n * d)
        }
    }

    /// Scores whole images: `images` × `patchesPerImage` features, image-major. Knowing
    /// the image boundaries lets the adaptor compute each image's global part
    /// [global ‖ local_j] once (`SharedPrefix`): ≈ 30 % fewer FLOPs for DINO features.
    /// Same results as `scorePatches` up to float rounding. `adapted` is optional.
    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            scores: UnsafeMutablePointer<Float>, adapted: UnsafeMutablePointer<Float>? = nil) throws {
        guard images >= 0, patchesPerImage >= 1 else {
            throw LocalNetError("LocalNet.scoreImages: \(images) images of \(patchesPerImage) patches; expected ≥ 0 images of ≥ 1 patches")
        }
        let d = dimension
        try forEachChunk(features, count: images * patchesPerImage, imageRows: patchesPerImage) { ws, start, n in
            (scores + start).update(from: ws.scores, count: n)
            adapted.map { ($0 + start * d).update(from: ws.adapted, count: n * d) }
        }
    }

    /// `PatchScorer.scoreImages`: what `Inference` (so `infer` and `predict`) calls. With
    /// EfficientNet-Lite0 features the global part is 1280 of 1432 dimensions, so computing
    /// the adaptor's global product once per image halves the cost of scoring an image.
    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>) throws {
        try scoreImages(features, images: images, patchesPerImage: patchesPerImage, scores: scores, adapted: nil)
    }

    /// Local-Net's score is σ(logit): per-position calibration compares the logits.
    public var calibratesLogits: Bool { true }

    /// Scores and logits in one pass (`PatchScorer`): the scores are the same values as
    /// `scoreImages(_:images:patchesPerImage:into:)` writes.
    public func scoreImages(_ features: UnsafePointer<Float>, images: Int, patchesPerImage: Int,
                            into scores: UnsafeMutablePointer<Float>, calibrationValues logits: UnsafeMutablePointer<Float>) throws {
        guard images >= 0, patchesPerImage >= 1 else {
            throw LocalNetError("LocalNet.scoreImages: \(images) images of \(patchesPerImage) patches; expected ≥ 0 images of ≥ 1 patches")
        }
        try forEachChunk(features, count: images * patchesPerImage, imageRows: patchesPerImage) { ws, start, n in
            (scores + start).update(from: ws.scores, count: n)
            (logits + start).update(from: ws.logits, count: n)
        }
    }

    private func forEachChunk(_ features: UnsafePointer<Float>, count: Int, imageRows: Int = 0,
                              _ body: (LocalNetWorkspace, Int, Int) -> Void) throws {
        guard count >= 0 else { throw LocalNetError("LocalNet.scorePatches: negative patch count \(count)") }
        guard count > 0 else { return }
        // Chunks hold whole images when the image size is known.
        let unit = max(1, imageRows)
        let rowsPerChunk = max(1, chunkRows / unit) * unit
        let ws = LocalNetWorkspace(shape: shape, capacity: min(count, rowsPerChunk), withBackward: false)
        let d = dimension
        parameters.values.withUnsafeBufferPointer { p in
            var start = 0
            while start < count {
                let n = min(ws.capacity, count - start)
                let x = features + start * d
                let prefix = imageRows > 1 ? SharedPrefix.detect(x, images: n / imageRows, imageRows: imageRows, dimension: d) : .none
                LocalNetPass.forward(parameters: p.baseAddress!, shape: shape, x: x, rows: n, into: ws, prefix: prefix)
                body(ws, start, n)
                start += n
            }
        }
    }

    /// Loads weights saved by `save(to:)` or by the official implementation's
    /// state_dict converted to safetensors.
    public init(contentsOf url: URL) throws {
        self.init(parameters: try LocalNetParameters(tensors: SafeTensors.read(url), source: url.path))
    }

    /// Writes the eight tensors under their official names (safetensors, F32).
    public func save(to url: URL, metadata: [String: String] = [:]) throws {
        try SafeTensors.write(parameters.namedTensors, metadata: metadata, to: url)
    }
}

/// Misuse of Local-Net with a message that names what was expected.
public struct LocalNetError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

import Foundation
