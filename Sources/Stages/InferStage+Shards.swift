import Foundation
import FunAD
import Workflow

/// `infer` split by image for scale-out (`funad run-stage … --shard I/N`, docs/SCALE-OUT.md).
///
/// `Inference.run` hands the scorer whole images in groups of `Inference` batch size
/// (8192 patches' worth); a shard takes a contiguous run of those groups, test images
/// first, then the training images when they are scored, so the scorer sees exactly the
/// matrices of the unsharded stage and every score and map is the same bits. The merge
/// concatenates scores, training scores and maps in order.
extension InferStage: ShardableStage {
    /// Images per scorer call in `Inference.run` (its default `patchesPerCall` of 8192).
    static func imagesPerCall(patchesPerImage p: Int) -> Int { max(1, 8192 / max(1, p)) }

    private struct Part {
        var file: String
        var source: any PatchFeatureSource
        var ids: [String]
    }

    func runShard(_ shard: Shard, context: StageContext) async throws {
        let p = context.parameters
        let featuresDir = try context.input(Artifact.features).directory
        let models = try Self.loadModels(context)
        let manifest = models.manifest
        let wantTraining = p.string("training_scores") == "yes" || (p.string("training_scores") == "auto" && manifest.kind == .localNet)
        var parts = [Part(file: FeaturesManifest.testFile,
                          source: try Self.scoringSource(featuresDir.appendingPathComponent(FeaturesManifest.testFile), manifest: manifest),
                          ids: try FeatureFiles.reader(featuresDir, file: FeaturesManifest.testFile).imageIds)]
        if wantTraining {
            parts.append(Part(file: FeaturesManifest.trainFile,
                              source: try Self.scoringSource(featuresDir.appendingPathComponent(FeaturesManifest.trainFile), manifest: manifest),
                              ids: try FeatureFiles.reader(featuresDir, file: FeaturesManifest.trainFile).imageIds))
        }
        let group = Self.imagesPerCall(patchesPerImage: parts[0].source.patchesPerImage)
        let split = shard.groupedItems(partSizes: parts.map(\.ids.count), groupSize: group)
        let scorer = models.scorer
        let precision: MapPrecision = p.string("map_dtype") == "float16" ? .float16 : .float32
        let rule = try Self.imageScoreRule(p)
        var scored = 0
        for (index, (part, images)) in zip(parts, split.items).enumerated() {
            let isTest = index == 0
            let mapURL = isTest && p.bool("maps") ? context.outputDirectory.appendingPathComponent(ScoresFile.mapsFile) : nil
            let result = try Inference.run(scorer: scorer, features: SelectedImages(base: part.source, images: Array(images)), mapSide: p.int("map_size"),
                                           sigma: p.double("sigma"), mapPrecision: precision, writeMapsTo: mapURL,
                                           progress: { done, _ in context.progress(scored + done, of: nil, unit: "images") },
                                           imageScoreRule: rule)
            scored += images.count
            try JSONFiles.write(ScoresFile(ids: Array(part.ids[images]), scores: result.imageScores, mapSize: mapURL == nil ? nil : p.int("map_size"),
                                           dataset: isTest ? nil : try FeaturesManifest.read(in: featuresDir).dataset, ensemble: models.ensemble),
                                to: context.outputDirectory.appendingPathComponent(isTest ? ScoresFile.file : ScoresFile.trainingFile))
        }
        context.record("shard", shard.description)
        context.record("images", scored)
    }

    func mergeShards(_ shards: [URL], context: StageContext) async throws {
        let p = context.parameters
        func scores(_ file: String) throws -> ScoresFile? {
            let present = shards.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent(file).path) }
            guard !present.isEmpty else { return nil }
            guard present.count == shards.count else { throw StageError("\(context.stageName): only some shards hold \(file)") }
            let parts = try shards.map { try JSONFiles.read(ScoresFile.self, from: $0.appendingPathComponent(file)) }
            return ScoresFile(ids: parts.flatMap(\.ids), scores: parts.flatMap(\.scores), mapSize: parts[0].mapSize, dataset: parts[0].dataset,
                              ensemble: parts[0].ensemble)
        }
        guard let test = try scores(ScoresFile.file) else { throw StageError("\(context.stageName): the shards hold no \(ScoresFile.file)") }
        if p.bool("maps") {
            let readers = try shards.map { try AnomalyMapReader(url: $0.appendingPathComponent(ScoresFile.mapsFile)) }
            let writer = try AnomalyMapWriter(url: context.outputDirectory.appendingPathComponent(ScoresFile.mapsFile),
                                              height: readers[0].height, width: readers[0].width, precision: readers[0].precision)
            // Stored values pass through Float exactly (float16 → float32 → float16 is the identity).
            for reader in readers {
                for i in 0..<reader.count {
                    try context.checkCancellation()
                    try writer.append(reader.map(i))
                }
            }
            try writer.finish()
        }
        try JSONFiles.write(test, to: context.outputDirectory.appendingPathComponent(ScoresFile.file))
        if let training = try scores(ScoresFile.trainingFile) {
            try JSONFiles.write(training, to: context.outputDirectory.appendingPathComponent(ScoresFile.trainingFile))
            context.record("training_images_scored", training.ids.count)
        }
        // What `run` records, from the same inputs.
        let (inputs, manifests) = try Self.modelManifests(context)
        context.record("model", manifests[0].kind.rawValue)
        if inputs.count > 1 { context.record("ensemble", inputs.map(\.stage)) }
        context.record("image_score", try Self.imageScoreRule(p).description)
        context.record("images", test.ids.count)
        context.announce("merged \(shards.count) shards: \(test.ids.count) test images")
    }
}
