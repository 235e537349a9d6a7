import Foundation
import FunAD
import Workflow

/// `predict`: scores a folder of new images with a trained model, as `funad predict`
/// does, inside a workflow (so scoring is a cached step of a pipeline). Writes the model
/// bundle it scores with (`model.funad/`, from the model, the extract stage's recipe and,
/// when given, the infer and evaluate stages' scores and threshold), `scores.csv`, an
/// overlay per flagged image and `summary.json`.
struct PredictStage: StageType {
    static let bundleFolder = "model.funad"

    let declaration = StageDeclaration(
        type: "predict", version: 1,
        summary: "score new images with a trained model: scores.csv (raw, normalised, decision), overlays of flagged images, summary.json",
        consumes: [Artifact.model, Artifact.features], optionallyConsumes: [Artifact.scores, Artifact.report, Artifact.imageFolder],
        produces: [Artifact.predictions],
        parameters: [
            .init("images", .inputPath, help: "image file or folder to score (searched recursively for .png/.jpg/.jpeg); or use 'subfolder' of an image-folder input"),
            .init("subfolder", .string, default: .string(""), help: "with an image-folder input (e.g. demo-data): the folder inside it to score, e.g. dataset/test for demo-data"),
            .init("threshold", .double(), help: "decision threshold instead of the evaluate stage's (or the built-in label-free rule's)"),
            .init("on_bad_image", .choice(["skip", "fail"]), default: .string("skip"),
                  help: "an unreadable or corrupt image: skip it (listed in summary.json) or fail the stage"),
        ])

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let folder = context.optionalInput(Artifact.imageFolder)
        let inputs: [URL]
        switch (p.optionalString("images"), folder) {
        case let (path?, nil): inputs = [URL(fileURLWithPath: path)]
        case let (nil, folder?): inputs = [folder.directory.appendingPathComponent(p.string("subfolder"))]
        case (nil, nil): throw StageError("predict: set 'images' (a file or folder) or give it an image-folder stage in 'needs' (with 'subfolder')")
        case (_?, _?): throw StageError("predict: set 'images' or give it an image-folder input, not both")
        }
        let sources = try BundleSources.fromInputs(context)
        let bundleURL = context.outputDirectory.appendingPathComponent(Self.bundleFolder)
        let written = try BundleWriter.write(sources, to: bundleURL, includeWeights: false, createdBy: "predict stage \(context.stageName)",
                                             note: { context.log($0) })
        let predictor = try Predictor(bundleDirectory: bundleURL, weights: nil, threshold: p.value(at: "threshold")?.doubleValue)
        let images = try ImageList.expand(inputs)
        context.announce("\(images.count) images, \(written.manifest.model.kind) model of stage \(sources.model.name), threshold \(String(format: "%.7g", predictor.threshold.value)) (\(predictor.threshold.rule))")
        let policy = BadImagePolicy(rawValue: p.string("on_bad_image")) ?? .skip
        let summary = try predictor.run(images: images, output: context.outputDirectory, onBadImage: policy,
                                        progress: { done, total in context.progress(done, of: total, unit: "images") },
                                        report: { context.announce("bad image \($0)") },
                                        checkCancellation: { try context.checkCancellation() })
        // The engine writes the recorded fields as the stage's summary.json: record the
        // prediction summary's own fields, so that file stays the prediction summary.
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: context.outputDirectory.appendingPathComponent(PredictionSummary.file)))
        for (key, value) in object as? [String: Any] ?? [:] { context.record(key, value) }
        context.announce("\(summary.scored) scored, \(summary.flagged) flagged, \(summary.skipped) skipped, \(String(format: "%.1f", summary.timing.imagesPerSecond)) images/s")
    }
}

extension Artifact {
    /// `scores.csv`, `summary.json`, `overlays/` and the `model.funad/` bundle used.
    static let predictions = "predictions"
}
