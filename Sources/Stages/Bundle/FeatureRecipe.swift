import Foundation
import FunAD
import Workflow

/// Everything `extract` does to turn an image file into stored patch features, apart from
/// the weights file itself: the backbone and its layers, the resize and crop, and the
/// storage precision. `extract` runs it on a dataset, `predict` on new images; both build
/// the backbone, the preprocessor and the feature file through these functions, so the
/// two cannot drift apart.
struct FeatureRecipe: Codable, Equatable {
    var backbone: String
    /// Key prefix selected inside the weights file ("" for none).
    var weightsPrefix: String
    /// Seeded random weights instead of a file (tests and benchmarks only).
    var randomWeightsSeed: Int?
    /// Square resize before the centre crop.
    var resize: Int
    /// Side of the centre crop fed to the backbone.
    var inputSize: Int
    var localStages: [Int]
    /// "head" or "last_block".
    var global: String
    /// Storage precision of the features ("float16" or "float32"): the scorer sees the
    /// values after this rounding, so prediction must round the same way.
    var dtype: String
    /// Images per forward pass.
    var batchSize: Int
    /// The backbone's per-channel normalisation of [0, 1] RGB (filled in from the backbone
    /// when a bundle is written; documentation, and checked when a bundle is loaded).
    var mean: [Float]?
    var std: [Float]?

    /// The recipe of an `extract` stage's (validated, defaults filled in) parameters.
    init(_ p: Parameters) {
        backbone = p.string("backbone")
        weightsPrefix = p.string("weights_prefix")
        randomWeightsSeed = p.value(at: "random_weights_seed")?.intValue
        resize = p.int("resize")
        inputSize = p.int("input_size")
        localStages = (p["local_stages"]?.listValue ?? []).compactMap(\.intValue)
        global = p.string("global")
        dtype = p.string("dtype")
        batchSize = p.int("batch_size")
    }

    var storageType: FeatureStore.DType { dtype == "float32" ? .float32 : .float16 }

    /// The backbone, from `weights` or (without a file) the recipe's random seed.
    func makeBackbone(weights: URL?) throws -> any Backbone {
        try BackboneCatalog.make(name: backbone, weights: weights, prefix: weightsPrefix.isEmpty ? nil : weightsPrefix,
                                 randomSeed: randomWeightsSeed, localStages: localStages, global: global)
    }

    func preprocessor() throws -> Preprocessor { try Preprocessor(resize: resize, crop: inputSize) }

    /// A feature file for `backbone`'s output at this recipe's size and precision.
    func writer(at url: URL, backbone: any Backbone) throws -> FeatureStoreWriter {
        let grid = backbone.gridSize(forInput: inputSize)
        return try FeatureStoreWriter(url: url, globalDim: backbone.globalDim, localDim: backbone.localDim,
                                      gridHeight: grid.height, gridWidth: grid.width, dtype: storageType,
                                      metadata: ["backbone": self.backbone])
    }
}

/// One batch of preprocessed images through the backbone, as `extract` runs it: each
/// image normalised with the backbone's mean and std, the batch stacked CHW, one forward pass.
enum FeatureExtraction {
    static func forward(_ batch: [ImagePlanes], backbone: any Backbone, normalization: Normalization, side: Int) throws -> BackboneFeatures {
        var input = [Float]()
        input.reserveCapacity(batch.count * 3 * side * side)
        for var image in batch {
            try normalization.apply(to: &image)
            input += image.data
        }
        return try backbone.forward(input, batch: batch.count, side: side)
    }
}
