import Foundation
import FunAD
import Workflow

/// Opens a feature file of an upstream `extract` result at the requested level.
enum FeatureFiles {
    static func open(_ input: URL, file: String, level: String,
                     transform: PatchFeatureTransform? = nil) throws -> any PatchFeatureSource {
        let reader = try FeatureStoreReader(url: input.appendingPathComponent(file))
        // Image-level mode (semantic anomaly detection, the paper's CIFAR-10 experiment):
        // one feature per image, the backbone's global vector.
        if level == "image" {
            if let transform, !transform.isIdentity {
                throw StageError("the feature transform (\(transform)) applies to patch features; level 'image' uses the global vector alone")
            }
            return try ImageLevelFeatures(base: reader, globalDimension: reader.globalDim)
        }
        guard let transform, !transform.isIdentity else { return reader }
        return try TransformedPatchFeatures(base: reader, globalDimension: reader.globalDim, transform: transform)
    }

    static func reader(_ input: URL, file: String) throws -> FeatureStoreReader {
        try FeatureStoreReader(url: input.appendingPathComponent(file))
    }
}

/// The `features:` parameter of the stages that fit a model (`train`, `patchcore`): how
/// f_ij is read (see `PatchFeatureTransform`). Defaults are the paper's f_ij.
enum FeatureTransformParameters {
    // No declared defaults: an unset option stays out of the cache key, so models trained
    // before the option existed keep their keys (unset = 1 and 1, the paper's f_ij).
    static let declaration = ParameterDeclaration("features", .object([
        .init("neighbourhood", .int(range: 1...15),
              help: "average each local vector over this odd window of the patch grid (unset or 1: none, the paper; 3: PatchCore's 3×3)"),
        .init("global_weight", .double(range: 0...100),
              help: "multiply the global part of f_ij (unset or 1: the paper; with Lite0 the global vector is 89 % of the dimensions)"),
    ]), help: "how patch features are read (not in the paper; stored with the model so infer reads the same)")

    static func transform(_ p: Parameters) throws -> PatchFeatureTransform {
        let t = PatchFeatureTransform(neighbourhood: p.value(at: "features.neighbourhood")?.intValue ?? 1,
                                      globalWeight: Float(p.value(at: "features.global_weight")?.doubleValue ?? 1))
        do { try t.validate() } catch { throw StageError("parameter 'features': \(error)") }
        return t
    }
}

/// The listed images of a feature source, in the listed order, as a source of their own
/// (a shard's images for `infer`, the kept training images for `patchcore`).
struct SelectedImages: PatchFeatureSource {
    let base: any PatchFeatureSource
    let images: [Int]
    var imageCount: Int { images.count }
    var patchesPerImage: Int { base.patchesPerImage }
    var gridHeight: Int { base.gridHeight }
    var gridWidth: Int { base.gridWidth }
    var dimension: Int { base.dimension }
    func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        try base.patchFeatures(ofImage: images[index], into: buffer)
    }
}
