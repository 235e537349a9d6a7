import ArgumentParser
import Foundation
import FunAD
import Stages
import Workflow

/// `funad predict`: scores new images with an exported model bundle.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Score new images with a model bundle (from `funad export`).",
        discussion: """
        Writes OUT/scores.csv (path, raw image score, normalised score in [0, 1] with 0.5 at \
        the threshold, decision), OUT/overlays/ (a heat-map overlay per flagged image) and \
        OUT/summary.json. Rows are appended as images are scored. Exit codes: 0 all images \
        scored, 1 an image was skipped (or stopped the run with --on-bad-image fail), 2 invalid \
        usage, a bundle that does not load, or backbone weights that do not match the bundle's digest.
        """)

    @Option(help: "The model bundle folder.") var model: String
    @Option(parsing: .upToNextOption, help: "Image files or folders (searched recursively for .png/.jpg/.jpeg).") var images: [String]
    @Option(name: .shortAndLong, help: "Output folder.") var output: String
    @Option(help: "Decision threshold instead of the bundle's.") var threshold: Double?
    @Option(help: "Backbone weights file (default: the one the bundle names).") var weights: String?
    @Option(help: "An unreadable or corrupt image: skip (report and go on) or fail (stop).") var onBadImage: String = "skip"

    func validate() throws {
        guard !images.isEmpty else { throw ValidationError("--images needs at least one file or folder") }
        guard BadImagePolicy(rawValue: onBadImage) != nil else {
            throw ValidationError("--on-bad-image must be skip or fail, got '\(onBadImage)'")
        }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number") }
    }

    func run() throws {
        let board = ProgressBoard.standardError()
        let outcome: ModelPrediction.Outcome
        do {
            outcome = try ModelPrediction.run(bundle: URL(fileURLWithPath: model), inputs: images.map { URL(fileURLWithPath: $0) },
                                              output: URL(fileURLWithPath: output), threshold: threshold,
                                              weights: weights.map { URL(fileURLWithPath: $0) },
                                              onBadImage: BadImagePolicy(rawValue: onBadImage)!, board: board)
        } catch let e as BundleInputError {
            throw ValidationFailure(e.description)
        } catch let e as PredictionStopped {
            board.line("error: \(e.description)")
            throw ExitCode(1)
        }
        board.line("done: \(outcome.scored) of \(outcome.images) images scored, \(outcome.flagged) flagged at threshold \(String(format: "%.7g", outcome.threshold)), \(outcome.skipped) skipped; \(String(format: "%.1f", outcome.imagesPerSecond)) images/s. Results: \(output)/scores.csv")
        if outcome.skipped > 0 { throw ExitCode(1) }
    }
}
