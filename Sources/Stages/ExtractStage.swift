import Foundation
import FunAD
import Workflow

/// `extract`: runs a backbone over every training and test image (METHOD.md step 2) and
/// stores, per image, the global vector and the grid of local vectors in memory-mappable
/// feature files. The patch feature f_ij = [global ‖ local_j] is built by the consumer
/// (the feature file's reader), so the global vector is stored once per image, not 784 times.
struct ExtractStage: StageType {
    let declaration = StageDeclaration(
        type: "extract", version: 2,
        summary: "backbone features (global vector + local grid) for every training and test image",
        consumes: [Artifact.dataset], produces: [Artifact.features],
        parameters: [
            .init("backbone", .choice(BackboneCatalog.names), default: .string("efficientnet_lite0"), help: "feature extractor"),
            .init("weights", .inputPath, help: "weights file (.safetensors, or a PyTorch .pth read without Python)"),
            .init("weights_prefix", .string, default: .string(""), help: "key prefix to select inside the weights file (e.g. teacher.backbone.)"),
            .init("random_weights_seed", .int(range: 0...Int.max), help: "use seeded random weights instead of a file (tests and benchmarks only)"),
            .init("resize", .int(range: 8...4096), default: .int(256), help: "square resize before the centre crop"),
            .init("input_size", .int(range: 8...4096), default: .int(224), help: "centre crop fed to the backbone"),
            .init("local_stages", .list(.int(range: 0...6)), default: .list([.int(2), .int(4)]),
                  help: "EfficientNet stages (0-6) whose outputs, resized to the stride-8 grid, form the local vectors"),
            .init("global", .choice(["head", "last_block"]), default: .string("head"),
                  help: "EfficientNet global vector: average pool of the 1280-d head or of the last block"),
            .init("dtype", .choice(["float16", "float32"]), default: .string("float16"), help: "storage precision of the feature files"),
            .init("batch_size", .int(range: 1...256), default: .int(8), help: "images per forward pass"),
            // No declared default, so that extract stages that do not set it keep their cache keys.
            .init("images", .choice(["all", "synthetic"]),
                  help: "all (unset): every training and test image; synthetic: only the synthetic anomalies of an upstream synthesize stage, no test images (FUN-AD*: train needs [features, these])"),
        ],
        // Per-image features kept across results (ExtractReuse.swift); not part of the key.
        sideStores: [ImageFeatureCache.folder])

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let data = try context.input(Artifact.dataset)
        let (train, test) = try ExtractSelection(p.optionalString("images") ?? "all").items(of: data)
        let recipe = FeatureRecipe(p)
        let name = recipe.backbone
        let weights = p.optionalString("weights").map { URL(fileURLWithPath: $0) }
        let backbone = try recipe.makeBackbone(weights: weights)
        let side = recipe.inputSize
        let grid = backbone.gridSize(forInput: side)
        let dtype = recipe.storageType
        let total = train.count + test.count
        context.announce("\(name): \(total) images at \(side)×\(side) → global \(backbone.globalDim)-d + \(grid.height)×\(grid.width) local \(backbone.localDim)-d (\(dtype.rawValue))")
        let cache = try ImageFeatureCache(context: context, recipe: recipe, weights: weights, stageVersion: declaration.version)
        let extraction = ReusingExtraction(recipe: recipe, backbone: backbone,
                                           normalization: try Normalization(mean: backbone.mean, std: backbone.std),
                                           preprocessor: try recipe.preprocessor(), cache: cache)
        var done = 0
        var counts = ExtractionCount()
        for (file, ids, urls) in [(FeaturesManifest.trainFile, train.map(\.id), train.map(\.path)),
                                  (FeaturesManifest.testFile, test.map(\.id), test.map(\.path))] {
            let c = try extraction.run(ids: ids, urls: urls, to: context.outputDirectory.appendingPathComponent(file), context: context) { n in
                done += n
                context.progress(done, of: total, unit: "images")
            }
            counts.computed += c.computed
            counts.reused += c.reused
        }
        context.announce("backbone ran on \(counts.computed) images; \(counts.reused) came from the per-image feature cache")
        context.record("images", ["computed": counts.computed, "reused": counts.reused, "per_image_cache": true])
        let manifest = FeaturesManifest(backbone: name, inputSize: side, globalDim: backbone.globalDim, localDim: backbone.localDim,
                                        gridHeight: grid.height, gridWidth: grid.width, dtype: dtype.rawValue,
                                        trainCount: train.count, testCount: test.count, resize: recipe.resize, dataset: data.key)
        try JSONFiles.write(manifest, to: context.outputDirectory.appendingPathComponent(FeaturesManifest.file))
        context.record("backbone", name)
        context.record("patch_feature_dim", backbone.globalDim + backbone.localDim)
        context.record("grid", [grid.height, grid.width])
        if let seed = p.value(at: "random_weights_seed")?.intValue { context.record("random_weights_seed", seed) }
    }
}
