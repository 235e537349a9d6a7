import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// Runs the real stage types end to end on a tiny generated set with seeded random
/// backbone weights (fast, and independent of any download).
@Suite(.serialized) struct WorkflowIntegrationTests {
    static let workflow = """
    name: tiny
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 128}}
      data:
        type: load
        needs: [images]
        with: {format: mvtec, contamination: {ratio: 0.25, overlap: false, seed: 5}}
      extra: {type: synthesize, needs: [data], with: {ratio: 0.2, seed: 2}}
      features:
        type: extract
        needs: [extra]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4, dtype: float32}
      model:
        type: train
        needs: [features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 1}
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report: {type: evaluate, needs: [scores, data, model], with: {overlays: 3}}
    """

    func run(_ dir: URL, _ path: String, settings: [String] = [], cancellation: CancellationFlag = CancellationFlag()) async throws -> (RunOutcome, [String: Any]) {
        try await TinyWorkflow.run(path, in: dir, settings: settings, jobs: 2, cancellation: cancellation).pair
    }

    func stage(_ record: [String: Any], _ name: String) -> [String: Any] { TinyRun.stage(record, name) }

    @Test func tinyWorkflowRunsEndToEndThenEntirelyFromCache() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.write(toFile: path, atomically: true, encoding: .utf8)

        let (outcome, record) = try await run(dir, path)
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")

        // load: n_noise = floor(0.25 · 12) = 3 moved into training; 8 − 3 = 5 defective left in test.
        let load = stage(record, "data")["summary"] as! [String: Any]
        #expect(load["train_images"] as? Int == 15)
        #expect(load["test_defective"] as? Int == 1)
        #expect((load["contamination"] as! [String: Any])["n_noise"] as? Int == 3)
        // synthesize: floor(0.2 · 15) = 3 unlabelled synthetic images.
        #expect((stage(record, "extra")["summary"] as! [String: Any])["synthetic_images"] as? Int == 3)

        // The training list the extract and train stages read carries ids and paths only.
        let extraDir = URL(fileURLWithPath: stage(record, "extra")["outputs"] as! String)
        let trainJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: extraDir.appendingPathComponent("train.json"))) as! [[String: Any]]
        #expect(trainJSON.count == 18)
        #expect(trainJSON.allSatisfy { Set($0.keys) == ["id", "path"] })

        // Features: EfficientNet-Lite0 at 64 px → stride-8 grid 8×8, global 1280 + local 40 + 112.
        let featuresDir = URL(fileURLWithPath: stage(record, "features")["outputs"] as! String)
        let train = try FeatureStoreReader(url: featuresDir.appendingPathComponent("train.features"))
        #expect(train.imageCount == 18 && train.gridHeight == 8 && train.gridWidth == 8 && train.dimension == 1280 + 152)

        // Training recorded its departures from the paper and its bank refreshes.
        let train_ = stage(record, "model")["summary"] as! [String: Any]
        let departures = train_["departures_from_paper"] as! [String]
        #expect(departures.contains("epochs 2 (paper: 1500)"))
        #expect(departures.contains { $0.hasPrefix("memory bank rebuilt once per epoch") })

        // Evaluation wrote its report with every metric defined (both classes are present).
        let reportDir = URL(fileURLWithPath: stage(record, "report")["outputs"] as! String)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: reportDir.appendingPathComponent("metrics.json"))) as! [String: Any]
        #expect(metrics["overall"] != nil || metrics["subsets"] != nil)
        let summary = stage(record, "report")["summary"] as! [String: Any]
        for key in ["image_auroc", "pixel_auroc", "aupro"] {
            let v = try #require(summary[key] as? Double, "\(key) missing")
            #expect(v >= 0 && v <= 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: reportDir.appendingPathComponent("overlays").path).count == 3)
        #expect(FileManager.default.fileExists(atPath: reportDir.appendingPathComponent("bank_purity.json").path))

        // Unchanged re-run: nothing runs. A changed training seed reruns train and what follows only.
        let (again, _) = try await run(dir, path)
        #expect(again.ran == 0 && again.cached == 7)
        let (changed, record3) = try await run(dir, path, settings: ["model.seed=9"])
        #expect(changed.ran == 3)
        #expect(stage(record3, "features")["status"] as? String == "cached")
    }

    /// A training stopped after its first checkpoint resumes from it on the next run and
    /// ends with the same weights, bit for bit, as a run that was never interrupted.
    @Test func interruptedTrainingResumesToTheSameWeights() async throws {
        func scratch() throws -> URL {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try Self.workflow.replacingOccurrences(of: "epochs: 2,", with: "epochs: 6,")
                .write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
            return dir
        }
        let straight = try scratch(), interrupted = try scratch()
        defer { try? FileManager.default.removeItem(at: straight); try? FileManager.default.removeItem(at: interrupted) }

        let (whole, wholeRecord) = try await run(straight, straight.appendingPathComponent("tiny.yaml").path)
        try #require(whole.status == .succeeded)

        // Cancel the second run as soon as the training stage has written a checkpoint.
        let flag = CancellationFlag()
        let resume = interrupted.appendingPathComponent("cache/resume")
        let watcher = Task {
            while !Task.isCancelled {
                for dir in (try? FileManager.default.contentsOfDirectory(atPath: resume.path)) ?? []
                where FileManager.default.fileExists(atPath: resume.appendingPathComponent(dir + "/trainer.checkpoint").path) {
                    flag.cancel()
                    return
                }
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
        }
        let (stopped, _) = try await run(interrupted, interrupted.appendingPathComponent("tiny.yaml").path, cancellation: flag)
        watcher.cancel()
        #expect(stopped.status == .cancelled)
        let (resumed, resumedRecord) = try await run(interrupted, interrupted.appendingPathComponent("tiny.yaml").path)
        try #require(resumed.status == .succeeded)
        let summary = stage(resumedRecord, "model")["summary"] as! [String: Any]
        let from = try #require(summary["resumed_from_epoch"] as? Int)
        #expect(from >= 1 && from < 6)

        let a = try SafeTensors.read(URL(fileURLWithPath: stage(wholeRecord, "model")["outputs"] as! String).appendingPathComponent("model.safetensors"))
        let b = try SafeTensors.read(URL(fileURLWithPath: stage(resumedRecord, "model")["outputs"] as! String).appendingPathComponent("model.safetensors"))
        #expect(a == b)
    }

    /// `steps` through the stage: 18 training images in batches of 4 give 4 iterations per
    /// epoch, so `steps: 2` runs 2 steps in one partial epoch (8 images seen), too few to fit
    /// the loss trend: the warning is in the record and the stage log. Setting both `steps`
    /// and `epochs` fails the stage with a message naming both. `image_score: topk_mean`
    /// is recorded by infer.
    @Test func stepsScheduleIsRecordedAndWarnsWhenTooShort() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.replacingOccurrences(of: "epochs: 2,", with: "steps: 2,")
            .replacingOccurrences(of: "with: {map_size: 64}", with: "with: {map_size: 64, image_score: topk_mean, top_k: 0.05}")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (outcome, record) = try await run(dir, path)
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")
        let summary = stage(record, "model")["summary"] as! [String: Any]
        let schedule = summary["schedule"] as! [String: Any]
        #expect(schedule["given"] as? String == "steps" && schedule["steps"] as? Int == 2 && schedule["epochs"] as? Int == 1)
        #expect(schedule["iterations_per_epoch"] as? Int == 4 && schedule["images_seen"] as? Int == 8 && schedule["patches_seen"] as? Int == 8 * 64)
        let warning = "training ran only 2 optimiser steps, too few to tell whether the loss settled (at least 3 are needed to fit its trend); train for more steps"
        #expect(summary["convergence_warning"] as? String == warning)
        #expect((summary["departures_from_paper"] as! [String]).contains("2 optimiser steps (paper: 1500 epochs)"))
        let log = try String(contentsOfFile: stage(record, "model")["log"] as! String, encoding: .utf8)
        #expect(log.contains("warning: " + warning))
        #expect(log.contains("18 images × 64 patches × 1432-d, 2 steps = 1 epochs of 4 iterations (the last one 2)"))
        #expect((stage(record, "scores")["summary"] as! [String: Any])["image_score"] as? String == "topk_mean (top 0.05 of the patch scores)")

        let (both, _) = try await run(dir, path, settings: ["model.epochs=3"])
        #expect(both.status == .failed)
        #expect(both.failures.map(\.message) == ["train: set either 'steps' (total optimiser steps) or 'epochs' (passes over the training set), not both; got steps: 2 and epochs: 3"])
    }

    /// `weight_average` through the stage: 8 steps (2 epochs of 4) with a tail of 0.5 save
    /// the mean over steps 4…7: the record says so, the departure is listed, the loss curve
    /// is the plain run's and the saved weights are not. Out of range is refused by name.
    @Test func weightAverageIsRecordedAndChangesOnlyTheSavedWeights() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.write(toFile: path, atomically: true, encoding: .utf8)
        let (plain, plainRecord) = try await run(dir, path)
        try #require(plain.status == .succeeded, "failures: \(plain.failures.map(\.message))")
        let (averaged, record) = try await run(dir, path, settings: ["model.weight_average=0.5"])
        try #require(averaged.status == .succeeded, "failures: \(averaged.failures.map(\.message))")
        let summary = stage(record, "model")["summary"] as! [String: Any]
        let w = try #require(summary["weight_average"] as? [String: Any])
        #expect(w["tail"] as? Double == 0.5 && w["first_step"] as? Int == 4 && w["averaged_steps"] as? Int == 4)
        #expect((summary["departures_from_paper"] as! [String]).contains {
            $0 == "the saved weights are the mean over the last 50 % of the steps (Polyak-Ruppert tail average; paper: the last step's weights)"
        })
        #expect((stage(plainRecord, "model")["summary"] as! [String: Any])["weight_average"] == nil)
        func output(_ r: [String: Any], _ file: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: stage(r, "model")["outputs"] as! String).appendingPathComponent(file))
        }
        let a = try JSONDecoder().decode(TrainingHistory.self, from: output(plainRecord, TrainingHistory.file))
        let b = try JSONDecoder().decode(TrainingHistory.self, from: output(record, TrainingHistory.file))
        #expect(a.stepLosses == b.stepLosses && a.stepLosses?.count == 8)
        #expect(try output(plainRecord, "model.safetensors") != output(record, "model.safetensors"))

        do {
            _ = try await run(dir, path, settings: ["model.weight_average=0"])
            Issue.record("expected the workflow to be refused")
        } catch {
            #expect("\(error)".contains("stage 'model', field 'with.weight_average': expected number in 0.0001...1.0, found the integer 0"), "\(error)")
        }
    }

    /// `train`'s `features:` option: the model records the transform, `infer` reads the
    /// test features through it (its scores equal scoring `TransformedPatchFeatures` with the
    /// saved Local-Net directly), and the departure from the paper is in the run record.
    @Test func featureTransformIsStoredWithTheModelAndUsedByInfer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.replacingOccurrences(of: "checkpoint_every: 1}", with: "checkpoint_every: 1, features: {neighbourhood: 3, global_weight: 0.25}}")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (outcome, record) = try await run(dir, path)
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")
        let modelDir = URL(fileURLWithPath: stage(record, "model")["outputs"] as! String)
        let manifest = try JSONFiles.read(ModelManifest.self, from: modelDir.appendingPathComponent(ModelManifest.file))
        let transform = PatchFeatureTransform(neighbourhood: 3, globalWeight: 0.25)
        #expect(manifest.features == transform)
        let departures = (stage(record, "model")["summary"] as! [String: Any])["departures_from_paper"] as! [String]
        #expect(departures.contains { $0.hasPrefix("patch features read with neighbourhood 3×3, global weight 0.25") })

        let featuresDir = URL(fileURLWithPath: stage(record, "features")["outputs"] as! String)
        let reader = try FeatureStoreReader(url: featuresDir.appendingPathComponent("test.features"))
        let net = try LocalNet(contentsOf: modelDir.appendingPathComponent(ModelManifest.weightsFile))
        let direct = try Inference.run(scorer: net, features: TransformedPatchFeatures(base: reader, globalDimension: reader.globalDim, transform: transform),
                                       mapSide: 64, sigma: 4, writeMapsTo: nil, imageScoreRule: .maximum)
        let plain = try Inference.run(scorer: net, features: reader, mapSide: 64, sigma: 4, writeMapsTo: nil, imageScoreRule: .maximum)
        let scores = try JSONFiles.read(ScoresFile.self, from: URL(fileURLWithPath: stage(record, "scores")["outputs"] as! String).appendingPathComponent(ScoresFile.file))
        #expect(scores.scores == direct.imageScores)
        #expect(scores.scores != plain.imageScores)
    }

    /// `image_score: calibrated_max` through the stage: the record names the rule, the
    /// statistics come from the training features (not the test set's), and the scores are
    /// the library's (`PositionCalibration.fit` on train.features, then `Inference.run`) bit
    /// for bit. The arithmetic itself is checked by hand in `ImageScoreRuleTests`.
    @Test func calibratedMaximumImageScoreUsesTheTrainingFeatures() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.replacingOccurrences(of: "with: {map_size: 64}", with: "with: {map_size: 64, image_score: calibrated_max}")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (outcome, record) = try await run(dir, path)
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")
        #expect(((stage(record, "scores")["summary"] as! [String: Any])["image_score"] as? String ?? "").hasPrefix("calibrated_max (max over patches of (the logit"))

        let modelDir = URL(fileURLWithPath: stage(record, "model")["outputs"] as! String)
        let featuresDir = URL(fileURLWithPath: stage(record, "features")["outputs"] as! String)
        let net = try LocalNet(contentsOf: modelDir.appendingPathComponent(ModelManifest.weightsFile))
        let train = try FeatureStoreReader(url: featuresDir.appendingPathComponent("train.features"))
        let test = try FeatureStoreReader(url: featuresDir.appendingPathComponent("test.features"))
        func scored(calibratedOn source: FeatureStoreReader) throws -> [Float] {
            let c = try PositionCalibration.fit(scorer: net, features: source)
            return try Inference.run(scorer: net, features: test, mapSide: 64, sigma: 4, writeMapsTo: nil,
                                     imageScoreRule: .positionCalibratedMaximum(c)).imageScores
        }
        let scores = try JSONFiles.read(ScoresFile.self, from: URL(fileURLWithPath: stage(record, "scores")["outputs"] as! String).appendingPathComponent(ScoresFile.file))
        #expect(scores.scores == (try scored(calibratedOn: train)))
        #expect(scores.scores != (try scored(calibratedOn: test)))
    }

    @Test func missingWeightsIsAClearStageError() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-stages-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("w.yaml").path
        try """
        stages:
          images: {type: demo-data, with: {train_good: 2, test_good: 1, test_defective: 1, size: 64}}
          data: {type: load, needs: [images], with: {format: mvtec}}
          features: {type: extract, needs: [data], with: {backbone: dino_vits16}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let (outcome, _) = try await run(dir, path)
        #expect(outcome.status == .failed)
        #expect(outcome.failures.map(\.message) == ["backbone dino_vits16 needs 'weights' (a .safetensors or PyTorch .pth file; see `funad weights import`), or 'random_weights_seed' for a random-weight test run"])
    }
}
