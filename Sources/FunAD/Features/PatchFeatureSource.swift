/// The feature contract between a backbone and everything downstream (METHOD.md step 2).
///
/// A backbone yields, per image, one global vector (the ViT class token, or a pooled CNN
/// stage) and a grid of local vectors (patch tokens, or CNN stages at a common stride).
/// The patch feature that Local-Net consumes is f_ij = [global ‖ local_j], global FIRST.
public protocol PatchFeatureSource: Sendable {
    /// Number of images.
    var imageCount: Int { get }
    /// Patches per image (grid height × width; 784 for a 28×28 grid).
    var patchesPerImage: Int { get }
    /// Grid height and width, row-major patch order.
    var gridHeight: Int { get }
    var gridWidth: Int { get }
    /// Dimension of one patch feature (global dim + local dim).
    var dimension: Int { get }
    /// Writes image `index`'s patch features, `patchesPerImage × dimension` floats,
    /// row-major (patch-major), into `buffer`.
    func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws
}

/// A feature set held in memory: for tests, synthetic experiments and small sets.
public struct InMemoryPatchFeatures: PatchFeatureSource {
    public let imageCount: Int
    public let gridHeight: Int
    public let gridWidth: Int
    public let dimension: Int
    /// imageCount × patchesPerImage × dimension, row-major.
    public let values: [Float]

    public var patchesPerImage: Int { gridHeight * gridWidth }

    public init(imageCount: Int, gridHeight: Int, gridWidth: Int, dimension: Int, values: [Float]) {
        precondition(values.count == imageCount * gridHeight * gridWidth * dimension,
                     "InMemoryPatchFeatures: \(values.count) values for \(imageCount)×\(gridHeight)×\(gridWidth)×\(dimension)")
        self.imageCount = imageCount
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
        self.dimension = dimension
        self.values = values
    }

    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        let n = patchesPerImage * dimension
        values.withUnsafeBufferPointer { src in
            buffer.update(from: src.baseAddress! + index * n, count: n)
        }
    }
}
