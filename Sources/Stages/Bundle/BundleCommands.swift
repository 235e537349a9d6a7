import Foundation
import FunAD
import Workflow

/// `funad export` and `funad predict` as the command-line tool calls them. Errors that
/// are the user's input (a bad bundle, a weights file that does not match, a missing run
/// or image path) are `BundleInputError`s (exit code 2).
public struct BundleInputError: Error, CustomStringConvertible {
    public let description: String
}

public enum ModelExport {
    /// Writes the bundle of model stage `stage` (nil: the run's only train stage) of the
    /// run whose record is `runRecord`. Returns lines describing what was written.
    public static func export(runRecord: URL, stage: String?, to output: URL, includeWeights: Bool,
                              note: (String) -> Void = { _ in }) throws -> [String] {
        let outcome: BundleWriter.Outcome
        do {
            let sources = try BundleSources.fromRunRecord(runRecord, stage: stage)
            outcome = try BundleWriter.write(sources, to: output, includeWeights: includeWeights, createdBy: "funad export", note: note)
        } catch let e as BundleError {
            throw BundleInputError(description: e.description)
        }
        let m = outcome.manifest
        return [
            "\(output.path): \(m.model.kind) model of stage \(m.origin.modelStage) (\(m.model.dimension)-d \(m.model.level) features)",
            "  backbone \(m.backbone.name), weights \(m.backbone.weightsFile ?? "random (seed \(m.features.randomWeightsSeed ?? 0))")\(m.backbone.weightsSHA256.map { " sha256 \($0)" } ?? "")\(m.backbone.weightsIncluded ? " (copied into the bundle)" : "")",
            "  threshold \(String(format: "%.7g", m.threshold.value)): \(m.threshold.rule) (\(m.threshold.source))",
            "  normalised score: \(m.normalisedScore.formula)",
        ]
    }
}

public enum ModelPrediction {
    public struct Outcome: Sendable {
        public let images: Int, scored: Int, flagged: Int, skipped: Int
        public let seconds: Double, imagesPerSecond: Double
        public let threshold: Double
    }

    /// Scores `inputs` (files, or folders searched for images) with the bundle into
    /// `output`, with progress on `board` under the step name "predict". Throws
    /// `BundleInputError` for invalid input before anything is scored, and
    /// `PredictionStopped` when a bad image stops the run under `.fail`.
    public static func run(bundle: URL, inputs: [URL], output: URL, threshold: Double?, weights: URL?,
                           onBadImage: BadImagePolicy, board: ProgressBoard) throws -> Outcome {
        let predictor: Predictor
        let images: [URL]
        do {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: output.path, isDirectory: &isDir), !isDir.boolValue {
                throw BundleError("\(output.path) is a file; -o names the folder for scores.csv, overlays/ and summary.json")
            }
            predictor = try Predictor(bundleDirectory: bundle, weights: weights, threshold: threshold)
            images = try ImageList.expand(inputs)
        } catch let e as BundleError {
            throw BundleInputError(description: e.description)
        }
        board.line("predict: \(images.count) images with \(predictor.bundle.manifest.model.kind) model \(bundle.path), threshold \(String(format: "%.7g", predictor.threshold.value)) (\(predictor.threshold.rule))")
        board.started("predict")
        defer { board.finished("predict") }
        let s = try predictor.run(images: images, output: output, onBadImage: onBadImage,
                                  progress: { done, total in board.update("predict", completed: done, total: total, unit: "images", note: nil) },
                                  report: { board.line((onBadImage == .skip ? "skipped " : "bad image ") + $0) })
        return Outcome(images: s.images, scored: s.scored, flagged: s.flagged, skipped: s.skipped,
                       seconds: s.timing.seconds, imagesPerSecond: s.timing.imagesPerSecond, threshold: s.threshold.value)
    }
}
