import Foundation
import FunAD
import Workflow

/// `predict`: scores a folder of new images with a trained model, as `funad predict`
/// does, inside a workflow (so scoring is a cached step of a pipeline). Writes the model
/// bundle it scores with (`model.funad/`, from the model, the extract stage's recipe and,
/// when given, the infer and evaluate stages' scores and threshold), `scores.csv`, an
/// overlay per flagged image and `summary.json` (the prediction summary without its
/// timing, which the stage logs: a cached result holds no speed). Shards by image
/// batch (`PredictStage+Shards.swift`).
struct PredictStage: StageType {
    static let bundleFolder = "model.funad"

    let declaration = StageDeclaration(
        type: "predict", version: 3,
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
        let (predictor, images) = try prepare(context)
        try predict(images, firstIndex: 0, with: predictor, context: context)
    }

    /// The image list (`ImageList.expand`: sorted) and a predictor on the model bundle it
    /// writes into the output folder; shared by `run` and each shard.
    func prepare(_ context: StageContext) throws -> (Predictor, [URL]) {
        let p = context.parameters
        let folder = context.optionalInput(Artifact.imageFolder)
        let inputs: [URL]
        switch (p.optionalString("images"), folder) {
        case let (path?, nil): inputs = [URL(fileURLWithPath: path)]
        case let (nil, folder?): inputs = [folder.directory.appendingPathComponent(p.string("subfolder"))]
        case (nil, nil): throw StageError("predict: set 'images' (a file or folder) or give it an image-folder stage in 'needs' (with 'subfolder')")
        case (_?, _?): throw StageError("predict: set 'images' or give it an image-folder input, not both")
        }
        let bundleURL = try writeBundle(context)
        let predictor = try Predictor(bundleDirectory: bundleURL, weights: nil, threshold: p.value(at: "threshold")?.doubleValue)
        return (predictor, try ImageList.expand(inputs))
    }

    /// Writes `model.funad/` from the stage's inputs. Unstamped: its bytes depend on the
    /// inputs only, so a merge of shards writes the very bundle the whole stage writes.
    @discardableResult
    func writeBundle(_ context: StageContext) throws -> URL {
        let sources = try BundleSources.fromInputs(context)
        let bundleURL = context.outputDirectory.appendingPathComponent(Self.bundleFolder)
        let written = try BundleWriter.write(sources, to: bundleURL, includeWeights: false, createdBy: "predict stage \(context.stageName)",
                                             stamped: false, note: { context.log($0) })
        context.log("bundle: \(written.manifest.model.kind) model of stage \(sources.model.name)")
        return bundleURL
    }

    /// Scores `images` (the whole list's images from `firstIndex` on) into the output
    /// folder and records the prediction summary's fields.
    func predict(_ images: [URL], firstIndex: Int, with predictor: Predictor, context: StageContext) throws {
        let p = context.parameters
        context.announce("\(images.count) images, \(predictor.bundle.manifest.model.kind) model, threshold \(String(format: "%.7g", predictor.threshold.value)) (\(predictor.threshold.rule))")
        let policy = BadImagePolicy(rawValue: p.string("on_bad_image")) ?? .skip
        let summary = try predictor.run(images: images, firstIndex: firstIndex, output: context.outputDirectory, onBadImage: policy,
                                        progress: { done, total in context.progress(done, of: total, unit: "images") },
                                        report: { context.announce("bad image \($0)") },
                                        checkCancellation: { try context.checkCancellation() })
        // The engine writes the recorded fields as the stage's summary.json: record the
        // prediction summary's own fields, so that file stays the prediction summary —
        // except what depends on when and where it ran: the timing goes to the stage's log
        // (a cached result, and a merge of shards, must not hold a speed), and the bundle
        // is named relative to the stage's folder, not by the temporary path it was written at.
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: context.outputDirectory.appendingPathComponent(PredictionSummary.file)))
        var fields = object as? [String: Any] ?? [:]
        if let timing = fields.removeValue(forKey: "timing") {
            let data = try JSONSerialization.data(withJSONObject: timing, options: [.sortedKeys])
            context.log("timing \(String(decoding: data, as: UTF8.self))")
        }
        if var model = fields["model"] as? [String: Any] {
            model["bundle"] = Self.bundleFolder
            fields["model"] = model
        }
        for (key, value) in fields { context.record(key, value) }
        context.announce("\(summary.scored) scored, \(summary.flagged) flagged, \(summary.skipped) skipped, \(String(format: "%.1f", summary.timing.imagesPerSecond)) images/s")
    }
}

extension Artifact {
    /// `scores.csv`, `summary.json`, `overlays/` and the `model.funad/` bundle used.
    static let predictions = "predictions"
}
