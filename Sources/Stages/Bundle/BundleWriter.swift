import Foundation
import FunAD
import Workflow

/// Writes a model bundle from its sources: copies the model, records the feature recipe,
/// the image-score rule, the threshold and the training-score distribution. The folder
/// appears whole or not at all (written beside it, then renamed into place).
enum BundleWriter {
    /// What export did, for the command's report.
    struct Outcome {
        var manifest: BundleManifest
        var directory: URL
    }

    /// `stamped: false` leaves out the creation time (a workflow stage's bundle, see `Origin.created`).
    static func write(_ sources: BundleSources, to directory: URL, includeWeights: Bool, createdBy: String, stamped: Bool = true,
                      note: (String) -> Void = { _ in }) throws -> Outcome {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.path) {
            let contents = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
            guard contents.isEmpty || contents.contains(BundleManifest.file) else {
                throw BundleError("\(directory.path) exists and is not a model bundle; choose another output folder")
            }
        }
        let modelManifestURL = sources.model.directory.appendingPathComponent(ModelManifest.file)
        let modelManifest = try JSONFiles.read(ModelManifest.self, from: modelManifestURL)
        var recipe = FeatureRecipe(sources.features.parameters)
        let weightsPath = sources.features.parameters.optionalString("weights")
        let weightsURL = weightsPath.map { URL(fileURLWithPath: $0) }
        if let weightsURL, !fm.fileExists(atPath: weightsURL.path) {
            throw BundleError("the extract stage '\(sources.features.name)' read backbone weights \(weightsURL.path), which no longer exist")
        }
        let backbone = try recipe.makeBackbone(weights: weightsURL)
        recipe.mean = backbone.mean
        recipe.std = backbone.std

        let inferParameters = sources.infer?.parameters ?? InferStage.defaultParameters
        let scoring = BundleManifest.Scoring(imageScore: inferParameters.string("image_score"), topK: inferParameters.double("top_k"),
                                             sigma: inferParameters.double("sigma"), mapSize: inferParameters.int("map_size"))
        // A rule a bundle cannot apply (calibrated_max) is refused here, not at predict time.
        _ = try InferStage.imageScoreRule(scoring.ruleParameters)
        let scorer = try InferStage.loadScorer(modelManifest, weights: sources.model.directory.appendingPathComponent(ModelManifest.weightsFile))

        // The training images' scores: infer's, else scored here by the same rule.
        let trainingScores: [Float]
        let trainingSource: String
        if let infer = sources.infer, let scores = try? JSONFiles.read(ScoresFile.self, from: infer.directory.appendingPathComponent(ScoresFile.trainingFile)) {
            trainingScores = scores.scores
            trainingSource = "\(ScoresFile.trainingFile) of stage \(infer.name)"
        } else {
            note("scoring the \(FeaturesManifest.trainFile) of stage \(sources.features.name) for the training-score distribution (infer did not score the training images)")
            let source = try InferStage.scoringSource(sources.features.directory.appendingPathComponent(FeaturesManifest.trainFile), manifest: modelManifest)
            trainingScores = try Inference.run(scorer: scorer, features: source, mapSide: scoring.mapSize, sigma: scoring.sigma,
                                               writeMapsTo: nil, imageScoreRule: try InferStage.imageScoreRule(scoring.ruleParameters)).imageScores
            trainingSource = "the training features of stage \(sources.features.name), scored at export"
        }

        // The threshold: evaluate's (hook or built-in rule), else the built-in rule here.
        let scaleName = sources.evaluate?.parameters.string("threshold_scale") ?? "auto"
        let scale: RobustThreshold.Scale = scaleName == "raw" ? .raw : scaleName == "logit" ? .logit : (modelManifest.kind == .localNet ? .logit : .raw)
        let threshold: BundleManifest.Threshold
        struct ThresholdFile: Decodable { var threshold: Double; var rule: String }
        if let evaluate = sources.evaluate,
           let file = try? JSONFiles.read(ThresholdFile.self, from: evaluate.directory.appendingPathComponent("threshold.json")) {
            threshold = .init(value: file.threshold, rule: file.rule, source: "threshold.json of stage \(evaluate.name)")
        } else {
            let (value, rule) = try DeploymentThreshold.choose(trainingScores: trainingScores, hook: nil, seed: 0, scale: scale)
            threshold = .init(value: value, rule: rule, source: "computed at export from \(trainingSource)")
        }
        let normalised = try NormalisedScore(threshold: threshold.value, trainingScores: trainingScores, scale: scale)

        let tmp = directory.deletingLastPathComponent().appendingPathComponent(".\(directory.lastPathComponent).tmp-\(getpid())")
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        do {
            try fm.copyItem(at: modelManifestURL, to: tmp.appendingPathComponent(ModelManifest.file))
            try fm.copyItem(at: sources.model.directory.appendingPathComponent(ModelManifest.weightsFile),
                            to: tmp.appendingPathComponent(ModelManifest.weightsFile))
            if includeWeights, let weightsURL {
                try fm.copyItem(at: weightsURL, to: tmp.appendingPathComponent(weightsURL.lastPathComponent))
            }
            let manifest = BundleManifest(
                origin: .init(createdBy: createdBy, created: stamped ? ISO8601DateFormatter().string(from: Date()) : nil, run: sources.run,
                              modelStage: sources.model.name, trainingScores: trainingSource),
                backbone: .init(name: recipe.backbone, weightsFile: weightsURL?.lastPathComponent,
                                weightsSHA256: try weightsURL.map(ModelBundle.sha256), weightsPath: weightsURL?.path,
                                weightsIncluded: includeWeights && weightsURL != nil),
                features: recipe, scoring: scoring,
                model: .init(kind: modelManifest.kind.rawValue, level: modelManifest.level, dimension: modelManifest.dimension,
                             manifestFile: ModelManifest.file, weightsFile: ModelManifest.weightsFile,
                             weightsSHA256: try ModelBundle.sha256(tmp.appendingPathComponent(ModelManifest.weightsFile))),
                threshold: threshold, normalisedScore: normalised)
            try JSONFiles.write(manifest, to: tmp.appendingPathComponent(BundleManifest.file))
            if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
            try fm.moveItem(at: tmp, to: directory)
            return Outcome(manifest: manifest, directory: directory)
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
    }
}

extension InferStage {
    /// `infer`'s parameters at their declared defaults (for a run without an infer stage).
    static var defaultParameters: Parameters {
        Parameters(Dictionary(uniqueKeysWithValues: InferStage().declaration.parameters.compactMap { d in d.defaultValue.map { (d.name, $0) } }))
    }
}
