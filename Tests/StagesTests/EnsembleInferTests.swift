import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// `infer` with several model inputs: the Local-Nets of two `train` stages scored as one
/// `LocalNetEnsemble`, and the mixtures it must refuse.
@Suite(.serialized) struct EnsembleInferTests {
    /// The ensemble's stages come before the single model's infer in the file, so a bundle
    /// that picked "the first infer that needs the model" would pick the ensemble's.
    static let workflow = TinyWorkflow.head(name: "tiny-ensemble") + """
      model:
        type: train
        needs: [features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], seed: 0, bank: {refresh: epoch, selection: quantile, min_images: 2}}
      model2:
        type: train
        needs: [features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], seed: 7, bank: {refresh: epoch, selection: quantile, min_images: 2}}
      ens-scores: {type: infer, needs: [model, model2, features], with: {map_size: 64}}
      ens-report: {type: evaluate, needs: [ens-scores, data]}
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report: {type: evaluate, needs: [scores, data, model]}
    """

    @Test func twoTrainStagesAreScoredAsOneEnsemble() async throws {
        let tiny = try TinyWorkflow(Self.workflow)
        defer { tiny.remove() }
        let run = try await tiny.run(jobs: 2)
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        #expect(run.summary("ens-scores")["ensemble"] as? [String] == ["model", "model2"])
        #expect(run.summary("scores")["ensemble"] == nil)

        let nets = try ["model", "model2"].map { try LocalNet(contentsOf: run.outputs($0).appendingPathComponent(ModelManifest.weightsFile)) }
        let featuresDir = run.outputs("features")
        let test = try FeatureStoreReader(url: featuresDir.appendingPathComponent(FeaturesManifest.testFile))
        let train = try FeatureStoreReader(url: featuresDir.appendingPathComponent(FeaturesManifest.trainFile))
        let ensemble = try LocalNetEnsemble(members: nets)
        func scores(_ scorer: some PatchScorer, _ source: FeatureStoreReader) throws -> [Float] {
            try Inference.run(scorer: scorer, features: source, mapSide: 64, sigma: 4, writeMapsTo: nil, imageScoreRule: .maximum).imageScores
        }
        let stored = try JSONFiles.read(ScoresFile.self, from: run.outputs("ens-scores").appendingPathComponent(ScoresFile.file))
        #expect(stored.scores == (try scores(ensemble, test)))
        #expect(stored.ensemble == ["model", "model2"])
        // Neither member alone gives these scores.
        let alone = try nets.map { try scores($0, test) }
        #expect(stored.scores != alone[0] && stored.scores != alone[1])
        // The training images are scored by the ensemble too (patchcore keep_training reads them).
        let storedTraining = try JSONFiles.read(ScoresFile.self, from: run.outputs("ens-scores").appendingPathComponent(ScoresFile.trainingFile))
        #expect(storedTraining.scores == (try scores(ensemble, train)))
        // The ensemble's maps exist, so its report has pixel metrics.
        #expect(run.status("ens-report") == "ran")

        // A bundle of `model` takes the scores and threshold of the infer that used it alone.
        let sources = try BundleSources.fromRunRecord(run.outcome.recordURL, stage: "model")
        #expect(sources.infer?.name == "scores")
        #expect(sources.evaluate?.name == "report")
    }

    /// A PatchCore model, or Local-Nets reading differently transformed features, cannot
    /// join an ensemble: one line naming the stages.
    @Test func refusesMixedModels() async throws {
        let patchcore = try TinyWorkflow(Self.workflow.replacingOccurrences(of: """
              model2:
                type: train
                needs: [features]
                with: {epochs: 2, batch_size: 4, hidden: [16, 8], seed: 7, bank: {refresh: epoch, selection: quantile, min_images: 2}}
            """, with: """
              model2: {type: patchcore, needs: [features], with: {coreset: 0.5}}
            """))
        defer { patchcore.remove() }
        let a = try await patchcore.run(targets: ["ens-scores"])
        #expect(!a.succeeded)
        #expect(a.failureMessages.contains { $0.contains("an ensemble of several models takes Local-Nets only; 'model2' is a patchcore model") },
                "\(a.failureMessages)")

        let transformed = try TinyWorkflow(Self.workflow.replacingOccurrences(
            of: "seed: 7, bank:", with: "seed: 7, features: {global_weight: 0.5}, bank:"))
        defer { transformed.remove() }
        let b = try await transformed.run(targets: ["ens-scores"])
        #expect(!b.succeeded)
        #expect(b.failureMessages.contains { $0.contains("the ensemble's models must read the same features; 'model2' reads") && $0.contains("'model' reads") },
                "\(b.failureMessages)")
    }

    /// `predict` bundles one model: it refuses two model inputs, and an ensemble's scores
    /// (whose threshold is not the model's) beside one model.
    @Test func predictRefusesAnEnsemble() async throws {
        let tiny = try TinyWorkflow(Self.workflow + "\n" + """
          two-models: {type: predict, needs: [model, model2, features, images], with: {subfolder: dataset/test}}
          ensemble-scores: {type: predict, needs: [model, features, ens-scores, images], with: {subfolder: dataset/test}}
        """)
        defer { tiny.remove() }
        let a = try await tiny.run(targets: ["two-models"])
        #expect(a.failureMessages == ["two-models: a bundle holds one model, but the stage needs 2 (model, model2); an ensemble scores in infer only, so give predict one of them"])
        let b = try await tiny.run(targets: ["ensemble-scores"])
        #expect(b.failureMessages == ["ensemble-scores: the scores of 'ens-scores' come from an ensemble of model, model2, not from model 'model' alone; give it an infer stage that needs only 'model'"])
    }
}
