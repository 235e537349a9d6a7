import Foundation
import FunAD
import Workflow

/// Features per image, kept across stages and runs in the cache folder, so that a sweep
/// whose `load` stages differ only in the contamination ratio (the same images in other
/// splits) runs the backbone once per image. An entry is keyed by the image file's
/// SHA-256 and by the digest of the full feature recipe (backbone, weights file digest,
/// prefix or random seed, resize, crop, local stages, global vector, storage precision,
/// the extract stage's version). It is a one-image feature store in the stage's storage
/// precision, written to a temporary file and renamed into place, so a reader sees a
/// whole entry or none. Reading a float16 value back and storing it again as float16 is
/// exact, so an extraction assembled from entries is bit for bit a fresh extraction.
/// The batch size is not part of the key: the backbone's output for an image does not
/// depend on its batch mates (`ExtractReuseTests` checks this bit for bit).
///
/// The folder is a side store of the engine (`StageContext.sideStore`): each extract
/// result records the recipe folder it used, so `funad cache gc` keeps the recipes of the
/// results it keeps and removes the others, and the feature store writer's temporary
/// names (`.<file>.partial-…`) are the ones gc treats as leftovers of interrupted writes.
struct ImageFeatureCache {
    /// `<cache>/image-features/<recipe digest>`.
    let directory: URL
    let recipeDigest: String

    /// The side store's name: its folder under the cache root (`ExtractStage` declares it,
    /// so `funad cache gc` keeps the recipe folders of the extract results it keeps).
    static let folder = "image-features"

    /// Opens the recipe's folder through `context`, which records the use with the result.
    init(context: StageContext, recipe: FeatureRecipe, weights: URL?, stageVersion: Int) throws {
        recipeDigest = try Self.recipeDigest(recipe, weights: weights, stageVersion: stageVersion)
        directory = try context.sideStore(Self.folder, item: recipeDigest)
    }

    /// SHA-256 of everything that decides an image's features, as text.
    static func recipeDigest(_ recipe: FeatureRecipe, weights: URL?, stageVersion: Int) throws -> String {
        var material: [String] = ["extract v\(stageVersion)", "backbone \(recipe.backbone)", "prefix \(recipe.weightsPrefix)",
                                  "resize \(recipe.resize)", "input \(recipe.inputSize)",
                                  "local \(recipe.localStages.map(String.init).joined(separator: ","))",
                                  "global \(recipe.global)", "dtype \(recipe.dtype)"]
        if let seed = recipe.randomWeightsSeed { material.append("random \(seed)") }
        if let weights {
            do { material.append("weights sha256 \(try SHA256.hex(fileAt: weights))") } catch {
                throw StageError("cannot read the weights file \(weights.path): \(error.localizedDescription)")
            }
        }
        return SHA256.hex(material.joined(separator: "\n"))
    }

    func url(forImage digest: String) -> URL {
        directory.appendingPathComponent(String(digest.prefix(2))).appendingPathComponent("\(digest).features")
    }

    /// The entry of an image, or nil when there is none or it cannot be read (a damaged
    /// entry is then recomputed and replaced).
    func load(_ digest: String, globalDim: Int, localDim: Int, grid: (height: Int, width: Int)) -> (global: [Float], local: [Float])? {
        let url = url(forImage: digest)
        guard FileManager.default.fileExists(atPath: url.path),
              let r = try? FeatureStoreReader(url: url), r.imageCount == 1, r.imageIds == [digest],
              r.globalDim == globalDim, r.localDim == localDim, r.gridHeight == grid.height, r.gridWidth == grid.width,
              let g = try? r.global(ofImage: 0), let l = try? r.local(ofImage: 0) else { return nil }
        return (g, l)
    }

    func store(_ digest: String, global: UnsafeBufferPointer<Float>, local: UnsafeBufferPointer<Float>,
               recipe: FeatureRecipe, backbone: any Backbone) throws {
        let url = url(forImage: digest)
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let writer = try recipe.writer(at: url, backbone: backbone)
            try writer.append(id: digest, global: global, local: local)
            try writer.finish()
        } catch {
            throw StageError("cannot write the per-image feature entry \(url.path): \(error)")
        }
    }
}

/// What `extract` did for one feature file: images run through the backbone, and images
/// whose features came from the per-image cache.
struct ExtractionCount {
    var computed = 0
    var reused = 0
}

/// Writes one feature file (`train.features` or `test.features`) for `ids`/`urls`,
/// running the backbone only on the images the per-image cache does not hold.
struct ReusingExtraction {
    let recipe: FeatureRecipe
    let backbone: any Backbone
    let normalization: Normalization
    let preprocessor: Preprocessor
    let cache: ImageFeatureCache

    func run(ids: [String], urls: [URL], to file: URL, context: StageContext,
             progress: (Int) -> Void) throws -> ExtractionCount {
        let side = recipe.inputSize
        let grid = backbone.gridSize(forInput: side)
        let writer = try recipe.writer(at: file, backbone: backbone)
        var count = ExtractionCount()
        let digests: [String] = try urls.map { url in
            do { return try SHA256.hex(fileAt: url) } catch {
                throw StageError("cannot read image \(url.path): \(error.localizedDescription)")
            }
        }
        // 1. The images no entry holds (each distinct image once), through the backbone.
        var missing: [Int] = []
        var queued = Set<String>()
        for (i, d) in digests.enumerated() where !queued.contains(d)
            && cache.load(d, globalDim: backbone.globalDim, localDim: backbone.localDim, grid: grid) == nil {
            missing.append(i)
            queued.insert(d)
        }
        if !missing.isEmpty {
            var batches = try PreprocessedBatches(urls: missing.map { urls[$0] }, batchSize: recipe.batchSize,
                                                  preprocessor: preprocessor, threads: 2)
            var start = 0
            while let batch = try batches.next() {
                try context.checkCancellation()
                let f = try FeatureExtraction.forward(batch, backbone: backbone, normalization: normalization, side: side)
                let l = grid.height * grid.width * f.localDim
                try f.global.withUnsafeBufferPointer { g in try f.local.withUnsafeBufferPointer { lo in
                    for b in 0..<batch.count {
                        try cache.store(digests[missing[start + b]],
                                        global: UnsafeBufferPointer(rebasing: g[(b * f.globalDim)..<((b + 1) * f.globalDim)]),
                                        local: UnsafeBufferPointer(rebasing: lo[(b * l)..<((b + 1) * l)]),
                                        recipe: recipe, backbone: backbone)
                    }
                } }
                start += batch.count
                count.computed += batch.count
                progress(batch.count)
            }
        }
        // 2. The feature file, in order, from the entries (the new ones included).
        for (i, d) in digests.enumerated() {
            try context.checkCancellation()
            guard let entry = cache.load(d, globalDim: backbone.globalDim, localDim: backbone.localDim, grid: grid) else {
                throw StageError("the per-image feature entry of \(urls[i].path) vanished from \(cache.url(forImage: d).path) while extract ran")
            }
            try writer.append(id: ids[i], global: entry.global, local: entry.local)
        }
        count.reused = urls.count - count.computed
        progress(count.reused)
        try writer.finish()
        return count
    }
}

/// Which images `extract` runs on (its `images` parameter).
struct ExtractSelection {
    let mode: String
    init(_ mode: String) { self.mode = mode }

    /// The training and test lists of the upstream dataset to extract.
    func items(of data: StageInput) throws -> (train: [UnlabelledItem], test: [LabelledItem]) {
        let train = try DatasetArtifact.readTraining(from: data.directory)
        guard mode == "synthetic" else { return (train, try DatasetArtifact.readTest(from: data.directory)) }
        let synthetic = Set(try JSONFiles.read([String].self, from: data.directory.appendingPathComponent(DatasetArtifact.syntheticFile)))
        // A synthesize stage at ratio 0 legitimately makes none (workflows switch FUN-AD* off
        // that way); a dataset that never went through synthesize is a wiring mistake.
        guard !synthetic.isEmpty || data.stageType == "synthesize" else {
            throw StageError("parameter 'images': synthetic, but the dataset of stage '\(data.stage)' holds no synthetic images; "
                             + "make the extract stage need a synthesize stage")
        }
        return (train.filter { synthetic.contains($0.id) }, [])
    }
}
