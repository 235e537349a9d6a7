/// Options applied to the patch feature f_ij = [global ‖ local_j] as it is read, before
/// Local-Net or PatchCore sees it. Neither is in the paper (its f_ij is the identity
/// transform); both answer the same problem with small CNN backbones:
///
/// - **Neighbourhood aggregation.** Each local vector becomes the mean of the local
///   vectors in a `neighbourhood × neighbourhood` window around it (the local-aware patch
///   feature of PatchCore, Roth et al. 2022, Sec. 3.1), so a patch carries its context and
///   one noisy grid cell counts less. At the grid's edge the window is clipped and the mean
///   is over the cells inside it (no zero padding, which would shrink edge features).
/// - **Global weight.** With EfficientNet-Lite0 the global vector is 1280 of the 1432
///   dimensions, 89 % of every patch feature and the same for every patch of an image;
///   in a squared distance it can drown the local part that localisation depends on.
///   `globalWeight` multiplies the global part (1: the paper's f_ij; 0: local part only,
///   the dimension is kept so the Local-Net shape does not change).
///
/// The transform is stored with the model (so `infer` reads test features the same way)
/// and is part of the training stage's parameters (so the cache keys differ).
public struct PatchFeatureTransform: Codable, Equatable, Sendable, CustomStringConvertible {
    /// Side of the square window averaged over the local grid; odd, 1 = no aggregation.
    public var neighbourhood: Int
    /// Factor applied to the global part of every patch feature.
    public var globalWeight: Float

    public static let identity = PatchFeatureTransform(neighbourhood: 1, globalWeight: 1)

    public init(neighbourhood: Int, globalWeight: Float) {
        self.neighbourhood = neighbourhood
        self.globalWeight = globalWeight
    }

    public var isIdentity: Bool { neighbourhood == 1 && globalWeight == 1 }

    public var description: String {
        isIdentity ? "identity (paper)" : "neighbourhood \(neighbourhood)×\(neighbourhood), global weight \(globalWeight)"
    }

    /// Checks the options against a feature source's shape; the error says what was expected.
    public func validate() throws {
        guard neighbourhood >= 1, neighbourhood % 2 == 1, neighbourhood <= 15 else {
            throw TrainingError("feature transform: neighbourhood \(neighbourhood); expected an odd window side from 1 to 15")
        }
        guard globalWeight.isFinite, globalWeight >= 0 else {
            throw TrainingError("feature transform: global weight \(globalWeight); expected a finite value ≥ 0")
        }
    }

    /// Applies the transform in place to one image's patch features: `gridHeight ×
    /// gridWidth` rows of `globalDimension + localDimension` floats, global part first.
    /// `scratch` holds at least `gridHeight × gridWidth × localDimension` floats.
    public func apply(to features: UnsafeMutablePointer<Float>, gridHeight: Int, gridWidth: Int,
                      globalDimension: Int, localDimension: Int, scratch: UnsafeMutablePointer<Float>) {
        let dimension = globalDimension + localDimension
        let patches = gridHeight * gridWidth
        if neighbourhood > 1 {
            // scratch[p, :] = local part of patch p, then each local part = clipped window mean.
            for p in 0..<patches {
                (scratch + p * localDimension).update(from: features + p * dimension + globalDimension, count: localDimension)
            }
            let radius = neighbourhood / 2
            for y in 0..<gridHeight {
                let y0 = max(0, y - radius), y1 = min(gridHeight - 1, y + radius)
                for x in 0..<gridWidth {
                    let x0 = max(0, x - radius), x1 = min(gridWidth - 1, x + radius)
                    let out = features + (y * gridWidth + x) * dimension + globalDimension
                    out.update(repeating: 0, count: localDimension)
                    for yy in y0...y1 {
                        for xx in x0...x1 {
                            let src = scratch + (yy * gridWidth + xx) * localDimension
                            for c in 0..<localDimension { out[c] += src[c] }
                        }
                    }
                    let inverse = 1 / Float((y1 - y0 + 1) * (x1 - x0 + 1))
                    for c in 0..<localDimension { out[c] *= inverse }
                }
            }
        }
        if globalWeight != 1 {
            for p in 0..<patches {
                let g = features + p * dimension
                for c in 0..<globalDimension { g[c] *= globalWeight }
            }
        }
    }
}

/// A patch feature source read through a `PatchFeatureTransform`.
public struct TransformedPatchFeatures: PatchFeatureSource {
    public let base: any PatchFeatureSource
    public let transform: PatchFeatureTransform
    /// Length of the global part at the start of every patch feature.
    public let globalDimension: Int

    public init(base: any PatchFeatureSource, globalDimension: Int, transform: PatchFeatureTransform) throws {
        try transform.validate()
        guard globalDimension >= 0, globalDimension < base.dimension else {
            throw TrainingError("feature transform: global dimension \(globalDimension); expected 0..<\(base.dimension) (the patch feature dimension)")
        }
        self.base = base
        self.transform = transform
        self.globalDimension = globalDimension
    }

    public var imageCount: Int { base.imageCount }
    public var patchesPerImage: Int { base.patchesPerImage }
    public var gridHeight: Int { base.gridHeight }
    public var gridWidth: Int { base.gridWidth }
    public var dimension: Int { base.dimension }

    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        try base.patchFeatures(ofImage: index, into: buffer)
        let localDimension = base.dimension - globalDimension
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: patchesPerImage * localDimension)
        defer { scratch.deallocate() }
        transform.apply(to: buffer, gridHeight: gridHeight, gridWidth: gridWidth,
                        globalDimension: globalDimension, localDimension: localDimension, scratch: scratch)
    }
}
