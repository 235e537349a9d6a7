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
        let train = try DatasetArtifact.readTraining(from: data.directory)
        let test = try DatasetArtifact.readTest(from: data.directory)
        let recipe = FeatureRecipe(p)
        let backbone = try recipe.makeBackbone(weights: p.optionalString("weights").map { URL(fileURLWithPath: $0) })
        let side = recipe.inputSize
        let normalization = try Normalization(mean: backbone.mean, std: backbone.std)
        let preprocessor = try recipe.preprocessor()
        let b = recipe.batchSize
        let parts = [(FeaturesManifest.trainFile, train.map(\.id), train.map(\.path)),
                     (FeaturesManifest.testFile, test.map(\.id), test.map(\.path))]
        let batchCounts = parts.map { ($0.1.count + b - 1) / b }
        let mine = shard.range(of: batchCounts.reduce(0, +))
        // Per file: the image range of this shard's batches.
        var firstBatch = 0
        var slices: [(file: String, ids: ArraySlice<String>, urls: ArraySlice<URL>)] = []
        for (part, count) in zip(parts, batchCounts) {
            let lo = min(max(mine.lowerBound - firstBatch, 0), count), hi = min(max(mine.upperBound - firstBatch, 0), count)
            let images = min(lo * b, part.1.count)..<min(hi * b, part.1.count)
            slices.append((part.0, part.1[images], part.2[images]))
            firstBatch += count
        }
        let total = slices.reduce(0) { $0 + $1.ids.count }
        context.announce("\(recipe.backbone): shard \(shard) = batches \(mine.lowerBound + 1)-\(mine.upperBound) of \(batchCounts.reduce(0, +)), \(total) images")
        var done = 0
        for slice in slices {
            let writer = try recipe.writer(at: context.outputDirectory.appendingPathComponent(slice.file), backbone: backbone)
            var batches = try PreprocessedBatches(urls: Array(slice.urls), batchSize: b, preprocessor: preprocessor, threads: 2)
            var start = slice.ids.startIndex
            while let batch = try batches.next() {
                try context.checkCancellation()
                let features = try FeatureExtraction.forward(batch, backbone: backbone, normalization: normalization, side: side)
                try writer.append(features, ids: Array(slice.ids[start..<start + batch.count]))
                start += batch.count
                done += batch.count
                context.progress(done, of: total, unit: "images")
            }
            try writer.finish()
        }
        context.record("shard", shard.description)
        context.record("images", total)
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
                                        trainCount: counts[0], testCount: counts[1])
        try JSONFiles.write(manifest, to: context.outputDirectory.appendingPathComponent(FeaturesManifest.file))
        context.record("backbone", recipe.backbone)
        context.record("patch_feature_dim", f.globalDim + f.localDim)
        context.record("grid", [f.gridHeight, f.gridWidth])
        if let seed = p.value(at: "random_weights_seed")?.intValue { context.record("random_weights_seed", seed) }
        context.announce("merged \(shards.count) shards: \(counts[0]) training + \(counts[1]) test images")
    }
}
