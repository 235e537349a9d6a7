/// Image-level mode for semantic anomaly detection (paper supplement Sec. 2: "Local-Net
/// outputs one anomaly score per image"): one feature per image, P = 1. Wraps a patch
/// feature source and exposes only the global vector, which the feature contract puts
/// FIRST in every patch feature f_ij = [global ‖ local_j]. A source that already holds
/// one feature per image (gridHeight = gridWidth = 1) can be trained on directly.
public struct ImageLevelFeatures: PatchFeatureSource {
    public let base: any PatchFeatureSource
    /// Length of the global vector (768 for DINO ViT-B/8's class token).
    public let dimension: Int

    public init(base: any PatchFeatureSource, globalDimension: Int) throws {
        guard globalDimension >= 1, globalDimension <= base.dimension else {
            throw TrainingError("image-level features: globalDimension \(globalDimension); expected 1...\(base.dimension) (the patch feature dimension)")
        }
        self.base = base
        self.dimension = globalDimension
    }

    public var imageCount: Int { base.imageCount }
    public var patchesPerImage: Int { 1 }
    public var gridHeight: Int { 1 }
    public var gridWidth: Int { 1 }

    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        let full = UnsafeMutablePointer<Float>.allocate(capacity: base.patchesPerImage * base.dimension)
        defer { full.deallocate() }
        try base.patchFeatures(ofImage: index, into: full)
        buffer.update(from: full, count: dimension)
    }
}
