import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// Scoring new images: a tiny workflow with a seeded random-weight backbone *file* (so the
/// digest check has a file to check) trains FUN-AD, `infer` scores the test images, and
/// `predict` (as a workflow stage, and from an exported bundle) must give exactly the
/// same scores for the same images, through the feature transform stored with the model.
@Suite(.serialized) struct PredictTests {
    static let workflow = """
    name: tiny-predict
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 5, test_defective: 6, size: 128}}
      data:
        type: load
        needs: [images]
        with: {format: mvtec, contamination: {ratio: 0.25, overlap: true, seed: 5}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, weights: backbone.safetensors, resize: 73, input_size: 64, batch_size: 4}
      model:
        type: train
        needs: [features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0,
               features: {neighbourhood: 3, global_weight: 0.5}}
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report: {type: evaluate, needs: [scores, data, model], with: {overlays: 0}}
      predict:
        type: predict
        needs: [model, features, scores, report, images]
        with: {subfolder: dataset/test}
    """

    struct Fixture {
        var dir: URL
        var record: [String: Any]
        var recordURL: URL
        func stage(_ name: String) -> [String: Any] {
            (record["stages"] as! [[String: Any]]).first { $0["name"] as? String == name }!
        }
        func outputs(_ name: String) -> URL { URL(fileURLWithPath: stage(name)["outputs"] as! String) }
        /// Test image path → infer's score, through the dataset's id → path list.
        func inferScores() throws -> [String: Float] {
            let scores = try JSONFiles.read(ScoresFile.self, from: outputs("scores").appendingPathComponent(ScoresFile.file))
            let test = try DatasetArtifact.readTest(from: outputs("data"))
            let paths = Dictionary(uniqueKeysWithValues: test.map { ($0.id, $0.path.standardizedFileURL.path) })
            return Dictionary(uniqueKeysWithValues: zip(scores.ids, scores.scores).map { (paths[$0.0]!, $0.1) })
        }
    }

    static func makeFixture() async throws -> Fixture {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-predict-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        // The tests remove `dir` once they hold the fixture; until then, a failure here does.
        do { return try await fill(dir) } catch { try? FileManager.default.removeItem(at: dir); throw error }
    }

    private static func fill(_ dir: URL) async throws -> Fixture {
        let weights = BackboneCatalog.randomWeights(EfficientNetLite.expectedShapes(.lite0), seed: 7)
        try SafeTensors.write(weights, to: dir.appendingPathComponent("backbone.safetensors"))
        let path = dir.appendingPathComponent("tiny.yaml").path
        try workflow.write(toFile: path, atomically: true, encoding: .utf8)
        let session = WorkflowSession(registry: FunADStages.registry, cacheDirectory: dir.appendingPathComponent("cache"), environment: [:])
        let wf = try session.load(path, settings: [])
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await session.run(wf, options: RunOptions(jobs: 1, runsDirectory: dir.appendingPathComponent("runs")), board: board,
                                            cancellation: CancellationFlag())
        try #require(outcome.status == .succeeded, "failures: \(outcome.failures.map(\.message))")
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
        return Fixture(dir: dir, record: record, recordURL: outcome.recordURL)
    }

    /// scores.csv as path → (raw, normalised, decision), in file order.
    static func readCSV(_ url: URL) throws -> [(path: String, raw: Float, normalised: Double, decision: String)] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.first == "path,raw_score,normalised_score,decision")
        return lines.dropFirst().map { line in
            let f = line.split(separator: ",").map(String.init)
            return (f[0], Float(f[1])!, Double(f[2])!, f[3])
        }
    }

    /// An independent normalised score: logistic of the robust z of the logits.
    static func expectedNormalised(_ s: Float, threshold: Double, training: [Float]) -> Double {
        func logit(_ p: Double) -> Double { let q = min(max(p, 1e-7), 1 - 1e-7); return log(q / (1 - q)) }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2 }
        let g = training.map { logit(Double($0)) }
        let m = median(g)
        let w = 1.4826 * median(g.map { abs($0 - m) })
        return 1 / (1 + exp(-(logit(Double(s)) - logit(threshold)) / w))
    }

    @Test func predictGivesInfersScoresAndTheDocumentedNormalisedScore() async throws {
        let f = try await Self.makeFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let infer = try f.inferScores()
        #expect(infer.count >= 8)
        let threshold = try JSONSerialization.jsonObject(with: Data(contentsOf: f.outputs("report").appendingPathComponent("threshold.json"))) as! [String: Any]
        let t = threshold["threshold"] as! Double
        let training = try JSONFiles.read(ScoresFile.self, from: f.outputs("scores").appendingPathComponent(ScoresFile.trainingFile)).scores

        // The workflow stage: every test image of the dataset scored exactly as infer did.
        let stageRows = try Self.readCSV(f.outputs("predict").appendingPathComponent("scores.csv"))
        #expect(stageRows.count == 11)  // the whole test folder: 5 good + 6 defective
        var compared = 0
        for row in stageRows {
            if let expected = infer[row.path] {
                #expect(row.raw == expected, "\(row.path): predict \(row.raw), infer \(expected)")
                compared += 1
            }
            #expect(abs(row.normalised - Self.expectedNormalised(row.raw, threshold: t, training: training)) < 1e-6)
            #expect(row.decision == (Double(row.raw) > t ? "anomalous" : "normal"))
        }
        #expect(compared == infer.count)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: f.outputs("predict").appendingPathComponent("summary.json"))) as! [String: Any]
        #expect(summary["scored"] as? Int == 11 && summary["skipped"] as? Int == 0)
        #expect(summary["flagged"] as? Int == stageRows.filter { $0.decision == "anomalous" }.count)
        #expect((summary["threshold"] as! [String: Any])["value"] as? Double == t)
        let overlays = try FileManager.default.contentsOfDirectory(atPath: f.outputs("predict").appendingPathComponent("overlays").path)
        #expect(overlays.count == summary["flagged"] as? Int)
        #expect(overlays.allSatisfy { $0.hasSuffix(".png") && !$0.hasSuffix(".png.png") })

        // Exported from the run record, then predicted on the test images by path: the same scores.
        let bundle = f.dir.appendingPathComponent("tiny.funad")
        _ = try ModelExport.export(runRecord: f.recordURL, stage: nil, to: bundle, includeWeights: false)
        let manifest = try JSONFiles.read(BundleManifest.self, from: bundle.appendingPathComponent("bundle.json"))
        #expect(manifest.backbone.weightsSHA256 == (try SHA256.hex(fileAt: f.dir.appendingPathComponent("backbone.safetensors"))))
        #expect(manifest.features.resize == 73 && manifest.features.inputSize == 64 && manifest.features.dtype == "float16")
        #expect(manifest.threshold.value == t)
        #expect(try Data(contentsOf: bundle.appendingPathComponent("model.json")) == Data(contentsOf: f.outputs("model").appendingPathComponent("model.json")))
        let out = f.dir.appendingPathComponent("out")
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try ModelPrediction.run(bundle: bundle, inputs: infer.keys.sorted().map { URL(fileURLWithPath: $0) }, output: out,
                                              threshold: nil, weights: nil, onBadImage: .skip, board: board)
        #expect(outcome.scored == infer.count && outcome.skipped == 0)
        let rows = try Self.readCSV(out.appendingPathComponent("scores.csv"))
        #expect(rows.map(\.path) == infer.keys.sorted())
        for row in rows { #expect(row.raw == infer[row.path]) }
    }

    @Test func changedWeightsCorruptImagesAndStopping() async throws {
        let f = try await Self.makeFixture()
        defer { try? FileManager.default.removeItem(at: f.dir) }
        let bundle = f.dir.appendingPathComponent("tiny.funad")
        _ = try ModelExport.export(runRecord: f.recordURL, stage: "model", to: bundle, includeWeights: false)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let testDir = f.outputs("images").appendingPathComponent("dataset/test")
        let images = try ImageList.expand([testDir])
        #expect(images.count == 11)

        // A weights file that is not the one the model was trained on is refused before
        // anything is written, naming both files.
        var bytes = try Data(contentsOf: f.dir.appendingPathComponent("backbone.safetensors"))
        bytes[bytes.count - 1] ^= 0x01
        let changed = f.dir.appendingPathComponent("changed.safetensors")
        try bytes.write(to: changed)
        let refusedOut = f.dir.appendingPathComponent("refused")
        do {
            _ = try ModelPrediction.run(bundle: bundle, inputs: [testDir], output: refusedOut, threshold: nil, weights: changed,
                                        onBadImage: .skip, board: board)
            Issue.record("a changed weights file was accepted")
        } catch let e as BundleInputError {
            #expect(e.description.contains(changed.path))
            #expect(e.description.contains(bundle.appendingPathComponent("bundle.json").path))
            #expect(e.description.contains("SHA-256"))
        }
        #expect(!FileManager.default.fileExists(atPath: refusedOut.path))

        // A corrupt image in the second batch (batch size 4): skipped with its path and
        // reason, every other image scored.
        let mixed = f.dir.appendingPathComponent("mixed")
        try FileManager.default.createDirectory(at: mixed, withIntermediateDirectories: true)
        for (i, url) in images.prefix(6).enumerated() {
            try FileManager.default.copyItem(at: url, to: mixed.appendingPathComponent(String(format: "img%02d.png", i < 5 ? i : 6)))
        }
        try Data("this is not a PNG file".utf8).write(to: mixed.appendingPathComponent("img05.png"))
        let skipOut = f.dir.appendingPathComponent("skip")
        let skipped = try ModelPrediction.run(bundle: bundle, inputs: [mixed], output: skipOut, threshold: nil, weights: nil,
                                              onBadImage: .skip, board: board)
        #expect(skipped.scored == 6 && skipped.skipped == 1 && skipped.images == 7)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: skipOut.appendingPathComponent("summary.json"))) as! [String: Any]
        let bad = (summary["skippedImages"] as! [[String: Any]]).first!
        #expect(bad["path"] as? String == mixed.appendingPathComponent("img05.png").path)
        #expect((bad["reason"] as? String)?.hasPrefix("not a PNG or JPEG image") == true)
        let skipRows = try Self.readCSV(skipOut.appendingPathComponent("scores.csv"))
        #expect(skipRows.map { URL(fileURLWithPath: $0.path).lastPathComponent } == ["img00.png", "img01.png", "img02.png", "img03.png", "img04.png", "img06.png"])

        // With fail, the run stops at the bad image; the first batch's rows stay intact.
        let failOut = f.dir.appendingPathComponent("fail")
        #expect(throws: PredictionStopped.self) {
            _ = try ModelPrediction.run(bundle: bundle, inputs: [mixed], output: failOut, threshold: nil, weights: nil, onBadImage: .fail, board: board)
        }
        let failRows = try Self.readCSV(failOut.appendingPathComponent("scores.csv"))
        #expect(failRows.count == 4)
        for (a, b) in zip(failRows, skipRows) { #expect(a.path == b.path && a.raw == b.raw) }
        let failSummary = try JSONSerialization.jsonObject(with: Data(contentsOf: failOut.appendingPathComponent("summary.json"))) as! [String: Any]
        #expect(failSummary["status"] as? String == "stopped at a bad image")

        // A threshold given by the user moves the decision and the 0.5 point with it.
        let low = f.dir.appendingPathComponent("low")
        let lowest = skipRows.map(\.raw).min()!
        let given = try ModelPrediction.run(bundle: bundle, inputs: [mixed], output: low, threshold: Double(lowest) - 1e-6, weights: nil,
                                            onBadImage: .skip, board: board)
        #expect(given.flagged == 6)
        #expect(try Self.readCSV(low.appendingPathComponent("scores.csv")).allSatisfy { $0.normalised > 0.5 && $0.decision == "anomalous" })
    }
}
