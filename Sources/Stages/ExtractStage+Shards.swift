import Foundation
import FunAD
import Workflow

/// `extract` split by image for scale-out (`funad run-stage … --shard I/N`, docs/SCALE-OUT.md).
///
/// The unit of a shard is the backbone batch, not the image: the stage runs the training
/// images then the test images in batches of `batch_size`, and shard I of N takes a
/// contiguous run of those batches. Every batch of a shard is then exactly a batch of the
/// whole stage, so the backbone sees the same inputs in the same shapes and each image's
/// features are the same bits (a different batching could change the BLAS summation
/// order). The merge concatenates the shards' feature files in order.
extension ExtractStage: ShardableStage {
    func runShard(_ shard: Shard, context: StageContext) async throws {
        let p = context.parameters
        let data = try context.input(Artifact.dataset)
        // The same selection (`images: all | synthetic`), recipe and per-image feature cache
        // as `run`, so a shard's images get exactly the bytes the whole stage gives them.
        let (train, test) = try ExtractSelection(p.optionalString("images") ?? "all").items(of: data)
        let recipe = FeatureRecipe(p)
        let weights = p.optionalString("weights").map { URL(fileURLWithPath: $0) }
        let backbone = try recipe.makeBackbone(weights: weights)
        let cache = try ImageFeatureCache(context: context, recipe: recipe, weights: weights, stageVersion: declaration.version)
        let extraction = ReusingExtraction(recipe: recipe, backbone: backbone,
                                           normalization: try Normalization(mean: backbone.mean, std: backbone.std),
                                           preprocessor: try recipe.preprocessor(), cache: cache)
        let b = recipe.batchSize
        let parts = [(FeaturesManifest.trainFile, train.map(\.id), train.map(\.path)),
                     (FeaturesManifest.testFile, test.map(\.id), test.map(\.path))]
        // Per file: the image range of this shard's batches.
        let split = shard.groupedItems(partSizes: parts.map(\.1.count), groupSize: b)
        let slices = zip(parts, split.items).map { part, images in (file: part.0, ids: part.1[images], urls: part.2[images]) }
        let total = slices.reduce(0) { $0 + $1.ids.count }
        context.announce("\(recipe.backbone): shard \(shard) = batches \(split.groups.lowerBound + 1)-\(split.groups.upperBound) of \(split.totalGroups), \(total) images")
        var done = 0
        var counts = ExtractionCount()
        for slice in slices {
            let c = try extraction.run(ids: Array(slice.ids), urls: Array(slice.urls),
                                       to: context.outputDirectory.appendingPathComponent(slice.file), context: context) { n in
                done += n
                context.progress(done, of: total, unit: "images")
            }
            counts.computed += c.computed
            counts.reused += c.reused
        }
        context.record("shard", shard.description)
        context.record("images", ["computed": counts.computed, "reused": counts.reused, "per_image_cache": true])
    }

    func mergeShards(_ shards: [URL], context: StageContext) async throws {
        let p = context.parameters
        var counts: [Int] = []
        var layout: FeatureStoreReader?
        for file in [FeaturesManifest.trainFile, FeaturesManifest.testFile] {
            let readers = try shards.map { try FeatureStoreReader(url: $0.appendingPathComponent(file)) }
            let first = readers[0]
            layout = layout ?? first
            let writer = try FeatureStoreWriter(url: context.outputDirectory.appendingPathComponent(file), globalDim: first.globalDim,
                                                localDim: first.localDim, gridHeight: first.gridHeight, gridWidth: first.gridWidth,
                                                dtype: first.dtype, metadata: first.metadata)
            for (n, reader) in readers.enumerated() {
                guard reader.dtype == first.dtype, reader.globalDim == first.globalDim, reader.localDim == first.localDim,
                      reader.gridHeight == first.gridHeight, reader.gridWidth == first.gridWidth, reader.metadata == first.metadata else {
                    throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)': \(file) has another layout than shard 1's")
                }
                // Stored values pass through Float exactly (float16 → float32 → float16 is the identity).
                for i in 0..<reader.imageCount {
                    try context.checkCancellation()
                    try writer.append(id: reader.imageIds[i], global: reader.global(ofImage: i), local: reader.local(ofImage: i))
                }
            }
            try writer.finish()
            counts.append(readers.reduce(0) { $0 + $1.imageCount })
        }
        // What `run` writes after its feature files, from the same recipe.
        let recipe = FeatureRecipe(p)
        let f = layout!
        let manifest = FeaturesManifest(backbone: recipe.backbone, inputSize: recipe.inputSize, globalDim: f.globalDim, localDim: f.localDim,
                                        gridHeight: f.gridHeight, gridWidth: f.gridWidth, dtype: recipe.storageType.rawValue,
                                        trainCount: counts[0], testCount: counts[1], resize: recipe.resize,
                                        dataset: try context.input(Artifact.dataset).key)
        try JSONFiles.write(manifest, to: context.outputDirectory.appendingPathComponent(FeaturesManifest.file))
        context.record("backbone", recipe.backbone)
        context.record("patch_feature_dim", f.globalDim + f.localDim)
        context.record("grid", [f.gridHeight, f.gridWidth])
        if let seed = p.value(at: "random_weights_seed")?.intValue { context.record("random_weights_seed", seed) }
        // `run` records how many images the backbone computed and how many came from the
        // per-image cache: the shards' counts, summed, so the merged summary.json says the same.
        var images = ExtractionCount()
        var perImageCache = false
        for shard in shards {
            guard let data = try? Data(contentsOf: shard.appendingPathComponent("summary.json")),
                  let summary = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let counts = summary["images"] as? [String: Any] else {
                throw StageError("shard \(shard.lastPathComponent) of '\(context.stageName)' has no image counts in its summary.json; re-run the shard")
            }
            images.computed += (counts["computed"] as? Int) ?? 0
            images.reused += (counts["reused"] as? Int) ?? 0
            perImageCache = perImageCache || ((counts["per_image_cache"] as? Bool) ?? false)
        }
        context.record("images", ["computed": images.computed, "reused": images.reused, "per_image_cache": perImageCache])
        context.announce("merged \(shards.count) shards: \(counts[0]) training + \(counts[1]) test images")
    }
}
