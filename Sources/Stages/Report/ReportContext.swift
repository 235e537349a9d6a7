import Foundation
import FunAD

/// `report_context.json`: what the report of one `evaluate` shows that its other files
/// (metrics.json, the curve CSVs, threshold.json) do not hold — the protocol, the test
/// images' scores and labels, the overlays written, and for FUN-AD the training history
/// and the departures from the paper. Gathered when `evaluate` runs, so the result folder
/// alone is enough to draw its report again (the run-level `funad report` does).
struct ReportContext: Codable {
    static let file = "report_context.json"

    struct TestImage: Codable { var id: String; var defectType: String; var anomalous: Bool; var score: Float }

    struct OverlayEntry: Codable {
        /// Relative to the evaluate folder.
        var file: String
        var id: String
        /// `OverlayPick.Role` raw value.
        var role: String
        var rank: Int
        var score: Float
        var anomalous: Bool
    }

    /// The contamination protocol of the load stage (its audit) and the split, if any.
    struct Contamination: Codable {
        var ratio: Double
        var overlap: Bool
        var seed: UInt64
        var trainGood: Int
        var moved: [String]
        var trainingImages: Int
        var contaminatedTraining: Int
        var splitSeed: UInt64?
        var trainFraction: Double?
    }

    struct Epoch: Codable {
        /// 1-based.
        var epoch: Int
        var loss: Double
        var bce: Double
        var mutualSmoothness: Double
        var bankImages: Double
        /// Defective training images in the bank at the epoch's last refresh (from the
        /// audit: for reporting only); nil when the epoch had no refresh.
        var bankContaminated: Int?
    }

    struct Training: Codable {
        var epochs: [Epoch]
        /// From the train stage's record (`departures_from_paper`).
        var departures: [String]
        var convergenceWarning: String?
        var stoppedEarly: String?
    }

    var stage: String
    /// "local-net", "patchcore", or nil when no stage upstream says.
    var modelKind: String?
    /// How infer turned a map into an image score, from its record.
    var imageScoreRule: String?
    /// "logit" for probabilities (FUN-AD), else "raw": the scale of the score histogram.
    var scoreScale: String
    var contamination: Contamination?
    var testImages: [TestImage]
    var overlays: [OverlayEntry]
    /// The map scores coloured blue (lower) to red (upper) in every overlay.
    var overlayRange: [Float]?
    var training: Training?

    func write(to directory: URL) throws {
        try JSONFiles.write(self, to: directory.appendingPathComponent(Self.file))
    }
}

extension ReportContext {
    /// Collects the context from the folders `evaluate` sees: its dataset (audit, split),
    /// its scores (infer's record) and, when given, its model (manifest, training
    /// history, train's record). `bank_purity.json` is read from `outputDirectory`, where
    /// `evaluate` has just written it.
    static func gather(stage: String, outputDirectory: URL, dataDirectory: URL, scoresDirectory: URL, modelDirectory: URL?,
                       samples: [EvaluationSample], scores: [Float], overlays: [OverlayEntry], overlayRange: ClosedRange<Float>?) throws -> ReportContext {
        let inferRecord = StageRecord.read(scoresDirectory)
        var kind = inferRecord?["model"] as? String
        var training: Training?
        if let modelDirectory {
            if let manifest = try? JSONFiles.read(ModelManifest.self, from: modelDirectory.appendingPathComponent(ModelManifest.file)) {
                kind = manifest.kind.rawValue
            }
            if let history = try? JSONFiles.read(TrainingHistory.self, from: modelDirectory.appendingPathComponent(TrainingHistory.file)) {
                let purity = try? JSONFiles.read(BankPurity.self, from: outputDirectory.appendingPathComponent("bank_purity.json"))
                let record = StageRecord.read(modelDirectory)
                training = Training(epochs: epochs(history, purity: purity),
                                    departures: record?["departures_from_paper"] as? [String] ?? [],
                                    convergenceWarning: record?["convergence_warning"] as? String,
                                    stoppedEarly: (record?["stopped_early"] as? [String: Any])?["reason"] as? String)
            }
        }
        return ReportContext(
            stage: stage, modelKind: kind, imageScoreRule: inferRecord?["image_score"] as? String,
            scoreScale: kind == ModelManifest.Kind.localNet.rawValue ? "logit" : "raw",
            contamination: contamination(dataDirectory),
            testImages: zip(samples, scores).map { TestImage(id: $0.name, defectType: $0.defectType, anomalous: $0.isAnomalous, score: $1) },
            overlays: overlays, overlayRange: overlayRange.map { [$0.lowerBound, $0.upperBound] }, training: training)
    }

    /// One row per finished epoch, with the bank's defective count at the epoch's last
    /// refresh.
    static func epochs(_ history: TrainingHistory, purity: BankPurity?) -> [Epoch] {
        var lastRefresh: [Int: BankPurity.Refresh] = [:]
        for r in purity?.refreshes ?? [] { lastRefresh[r.epoch] = r }
        return history.epochs.map { e in
            Epoch(epoch: e.epoch + 1, loss: Double(e.loss), bce: Double(e.bce), mutualSmoothness: Double(e.mutualSmoothness),
                  bankImages: Double(e.bankImages), bankContaminated: lastRefresh[e.epoch].map { $0.contaminated + $0.synthetic })
        }
    }

    static func contamination(_ dataDirectory: URL) -> Contamination? {
        guard let audit = try? JSONFiles.read(ContaminationAudit.self, from: dataDirectory.appendingPathComponent(DatasetArtifact.auditFile)) else {
            return nil
        }
        let split = StageRecord.read(dataDirectory)?["split"] as? [String: Any]
        return Contamination(ratio: audit.ratio, overlap: audit.overlap, seed: audit.seed, trainGood: audit.trainGoodCount,
                             moved: audit.movedIDs, trainingImages: audit.sourceOfTrainingID.count,
                             contaminatedTraining: audit.contaminatedTrainingIDs.count,
                             splitSeed: (split?["seed"] as? Int).map { UInt64($0) }, trainFraction: split?["train_fraction"] as? Double)
    }
}

/// The summary an upstream stage recorded (`context.record`), which the engine keeps in
/// its result folder as `summary.json` and copies into the run record.
enum StageRecord {
    static func read(_ directory: URL) -> [String: Any]? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("summary.json")) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
