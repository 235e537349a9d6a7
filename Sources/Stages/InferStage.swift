import Foundation
import FunAD
import Workflow

/// `infer`: scores every test patch with the model (Local-Net or PatchCore), image score
/// = max over patches (or the `image_score` alternative), anomaly map = bilinear to the crop size then Gaussian σ
/// (METHOD.md step 5). Maps are written to one memory-mappable file.
/// Version 3: Local-Net scores whole images (the global product once per image), the same
/// scores as version 2 up to float rounding and about twice as fast with Lite0 features.
/// Version 4: the anomaly map's resize and Gaussian are one linear map (`SmoothedResize`),
/// the same maps up to float rounding (< 1e-6) and several times faster.
/// Several model inputs (one `train` stage per seed) are scored as a `LocalNetEnsemble`;
/// one model scores as before, so the version stays 4.
struct InferStage: StageType {
    let declaration = StageDeclaration(
        type: "infer", version: 4,
        summary: "image scores and anomaly maps for the test images (and image scores of the training images); several Local-Net inputs are scored as one ensemble (σ of their mean logit)",
        consumes: [Artifact.model, Artifact.features], produces: [Artifact.scores],
        parameters: [
            .init("sigma", .double(range: 0...100), default: .double(4), help: "Gaussian σ of the map smoothing in pixels (0: none)"),
            .init("map_size", .int(range: 1...4096), default: .int(224), help: "side of the anomaly maps (the crop size)"),
            .init("maps", .bool, default: .bool(true), help: "write anomaly maps (needed for pixel metrics)"),
            .init("map_dtype", .choice(["float32", "float16"]), default: .string("float32"), help: "storage precision of the maps"),
            .init("training_scores", .choice(["auto", "yes", "no"]), default: .string("auto"),
                  help: "also score the (unlabelled) training images, for evaluate's label-free deployment threshold; auto: yes for FUN-AD, no for PatchCore (its bank holds the training patches, so their scores are biased low, and scoring them costs as much as the test set)"),
            .init("image_score", .choice(["max", "topk_mean", "smoothed_max", "calibrated_max"]), default: .string("max"),
                  help: "image score from the patch scores: max (paper), topk_mean (mean of the top_k fraction of patch scores), smoothed_max (max of the anomaly map after bilinear resize and Gaussian sigma), calibrated_max (max of each patch's score against its position's median and MAD over the training images; not for sharded infer or bundles)"),
            .init("top_k", .double(range: 1e-6...1), default: .double(ImageScoreRule.defaultTopKFraction),
                  help: "topk_mean: fraction of the patches averaged, at least one (0.01 of a 28×28 grid = 8 patches)"),
        ])

    /// The image-score rule the parameters name. `calibrated_max` depends on the training
    /// images' scores, which only `run` has (it fits them first), so it is refused here
    /// unless `calibration` is given: sharded scoring and model bundles do not carry it.
    static func imageScoreRule(_ p: Parameters, calibration: PositionCalibration? = nil) throws -> ImageScoreRule {
        switch p.string("image_score") {
        case "topk_mean": return .topKMean(fraction: p.double("top_k"))
        case "smoothed_max": return .smoothedMaximum
        case "calibrated_max":
            guard let calibration else {
                throw StageError("infer: image_score calibrated_max needs the training images' per-position statistics, which sharded infer and model bundles do not carry; use it in an unsharded infer stage, or choose max, topk_mean or smoothed_max")
            }
            return .positionCalibratedMaximum(calibration)
        default: return .maximum
        }
    }

    /// The patch features `manifest`'s scorer reads from one feature file of an `extract`
    /// result (`predict` reads its per-batch feature files through this too).
    /// Applies the model's stored feature transform (`ModelManifest.features`).
    static func scoringSource(_ featuresFile: URL, manifest: ModelManifest) throws -> any PatchFeatureSource {
        try FeatureFiles.open(featuresFile.deletingLastPathComponent(), file: featuresFile.lastPathComponent, level: manifest.level,
                              transform: manifest.features)
    }

    /// The trained scorer in `weights` (`model.safetensors`), by the manifest's kind.
    static func loadScorer(_ manifest: ModelManifest, weights: URL) throws -> any PatchScorer {
        switch manifest.kind {
        case .localNet: return try LocalNet(contentsOf: weights)
        case .patchCore: return try PatchCore.load(from: weights)
        }
    }

    /// The scorer of the stage's model input, or of several: every upstream result that
    /// produces a model, in `needs` order. Several must be Local-Nets trained on the same
    /// features (same dimension, level and feature transform), typically one `train` stage
    /// per seed; they are scored as one `LocalNetEnsemble` (σ of the mean logit).
    struct Models {
        var manifest: ModelManifest
        var scorer: any PatchScorer
        /// The model stages' names when there are several (nil for one model).
        var ensemble: [String]?
    }

    /// The model inputs and their manifests, checked as `loadModels` needs them, without
    /// loading any weights (the shard merge records the model kind only: a PatchCore bank
    /// can be large).
    static func modelManifests(_ context: StageContext) throws -> (inputs: [StageInput], manifests: [ModelManifest]) {
        let inputs = context.inputs(producing: Artifact.model)
        guard let first = inputs.first else { throw StageError("\(context.stageName): no upstream stage produced a model") }
        let manifests = try inputs.map { try JSONFiles.read(ModelManifest.self, from: $0.directory.appendingPathComponent(ModelManifest.file)) }
        guard inputs.count > 1 else { return (inputs, manifests) }
        let reference = manifests[0]
        for (input, manifest) in zip(inputs, manifests) {
            guard manifest.kind == .localNet else {
                throw StageError("\(context.stageName): an ensemble of several models takes Local-Nets only; '\(input.stage)' is a \(manifest.kind.rawValue) model (give infer one model, or only train stages)")
            }
            guard manifest.dimension == reference.dimension, manifest.level == reference.level, manifest.features == reference.features else {
                throw StageError("\(context.stageName): the ensemble's models must read the same features; '\(input.stage)' reads \(manifest.dimension)-d \(manifest.level) features\(manifest.features.map { " (\($0))" } ?? ""), '\(first.stage)' reads \(reference.dimension)-d \(reference.level) features\(reference.features.map { " (\($0))" } ?? "")")
            }
        }
        return (inputs, manifests)
    }

    static func loadModels(_ context: StageContext) throws -> Models {
        let (inputs, manifests) = try modelManifests(context)
        let weights = inputs.map { $0.directory.appendingPathComponent(ModelManifest.weightsFile) }
        guard inputs.count > 1 else {
            return Models(manifest: manifests[0], scorer: try loadScorer(manifests[0], weights: weights[0]), ensemble: nil)
        }
        let members = try weights.map { try LocalNet(contentsOf: $0) }
        return Models(manifest: manifests[0], scorer: try LocalNetEnsemble(members: members), ensemble: inputs.map(\.stage))
    }

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let featuresDir = try context.input(Artifact.features).directory
        let models = try Self.loadModels(context)
        let manifest = models.manifest
        let source = try Self.scoringSource(featuresDir.appendingPathComponent(FeaturesManifest.testFile), manifest: manifest)
        let ids = try FeatureFiles.reader(featuresDir, file: FeaturesManifest.testFile).imageIds
        let mapURL = p.bool("maps") ? context.outputDirectory.appendingPathComponent(ScoresFile.mapsFile) : nil
        let precision: MapPrecision = p.string("map_dtype") == "float16" ? .float16 : .float32
        let progress: (Int, Int) -> Void = { done, total in context.progress(done, of: total, unit: "images") }
        let calibrated = p.string("image_score") == "calibrated_max"
        let wantTraining = p.string("training_scores") == "yes" || (p.string("training_scores") == "auto" && manifest.kind == .localNet)
        let training = try wantTraining || calibrated
            ? Self.scoringSource(featuresDir.appendingPathComponent(FeaturesManifest.trainFile), manifest: manifest) : nil
        // One scorer (loaded once: a PatchCore bank can be large) scores the test images,
        // with maps, and then the training images, scores only.
        func scoreAll(_ scorer: some PatchScorer) throws -> (test: InferenceResult, training: InferenceResult?, rule: ImageScoreRule) {
            // calibrated_max: the training images' per-position statistics first.
            let calibration = try calibrated ? PositionCalibration.fit(scorer: scorer, features: training!) : nil
            let rule = try Self.imageScoreRule(p, calibration: calibration)
            let test = try Inference.run(scorer: scorer, features: source, mapSide: p.int("map_size"), sigma: p.double("sigma"),
                                         mapPrecision: precision, writeMapsTo: mapURL, progress: progress, imageScoreRule: rule)
            let train = try wantTraining ? training.map {
                try Inference.run(scorer: scorer, features: $0, mapSide: p.int("map_size"), sigma: p.double("sigma"),
                                  writeMapsTo: nil, imageScoreRule: rule)
            } : nil
            return (test, train, rule)
        }
        let (result, scoredTraining, rule) = try scoreAll(models.scorer)
        try JSONFiles.write(ScoresFile(ids: ids, scores: result.imageScores, mapSize: mapURL == nil ? nil : p.int("map_size"),
                                       ensemble: models.ensemble),
                            to: context.outputDirectory.appendingPathComponent(ScoresFile.file))
        if let scoredTraining {
            let trainIds = try FeatureFiles.reader(featuresDir, file: FeaturesManifest.trainFile).imageIds
            try JSONFiles.write(ScoresFile(ids: trainIds, scores: scoredTraining.imageScores, mapSize: nil,
                                           dataset: try FeaturesManifest.read(in: featuresDir).dataset, ensemble: models.ensemble),
                                to: context.outputDirectory.appendingPathComponent(ScoresFile.trainingFile))
            context.record("training_images_scored", trainIds.count)
        }
        context.record("model", manifest.kind.rawValue)
        if let members = models.ensemble {
            context.record("ensemble", members)
            context.announce("ensemble of \(members.count) Local-Nets (\(members.joined(separator: ", "))): σ of the mean logit")
        }
        context.record("image_score", rule.description)
        context.record("images", ids.count)
    }
}
