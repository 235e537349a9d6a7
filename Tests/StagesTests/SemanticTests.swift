import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// Semantic anomaly detection, one class against the rest (the paper's CIFAR-10 protocol)
/// on a folder-per-class set generated here: three classes of textures, a dozen training
/// and six test images each. FUN-AD at `level: image` and image-level PatchCore run end
/// to end to metrics.
@Suite(.serialized) struct SemanticTests {
    static let classes = ["checks", "rings", "stripes"]

    /// A 32×32 texture of class `name`, with seeded noise and a per-image phase.
    static func texture(_ name: String, index: Int) -> PixelBuffer {
        var rng = SplitMix64(seed: UInt64(index * 31 + name.count))
        let phase = Int(rng.next() % 8)
        var bytes = [UInt8](repeating: 0, count: 32 * 32 * 3)
        for y in 0..<32 {
            for x in 0..<32 {
                let on: Bool
                switch name {
                case "checks": on = ((x + phase) / 4 + y / 4) % 2 == 0
                case "rings":
                    let dx = Double(x - 16), dy = Double(y - 16)
                    on = Int((dx * dx + dy * dy).squareRoot() + Double(phase)) / 3 % 2 == 0
                default: on = (y + phase) / 3 % 2 == 0
                }
                let noise = Int(rng.next() % 40)
                let v = UInt8(on ? 200 + noise / 2 : 30 + noise)
                for c in 0..<3 { bytes[(y * 32 + x) * 3 + c] = c == 2 ? v / 2 : v }
            }
        }
        return PixelBuffer(width: 32, height: 32, channels: 3, bytes: bytes)
    }

    static func makeSet(at root: URL) throws {
        for name in classes {
            for (split, count, offset) in [("train", 12, 0), ("test", 6, 100)] {
                let dir = root.appendingPathComponent("\(split)/\(name)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                for i in 0..<count {
                    try PNGWriter.write(texture(name, index: offset + i), to: dir.appendingPathComponent(String(format: "%03d.png", i)))
                }
            }
        }
    }

    static let workflow = """
    name: tiny-semantic
    stages:
      data:
        type: load
        with: {format: semantic, root: set, normal_class: stripes, contamination: {ratio: 0.25, seed: 4}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 36, input_size: 32, batch_size: 6}
      funad:
        type: train
        needs: [features]
        with: {level: image, epochs: 4, batch_size: 5, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 3}, checkpoint_every: 0}
      funad-scores: {type: infer, needs: [funad, features], with: {map_size: 32}}
      funad-report: {type: evaluate, needs: [funad-scores, data, funad], with: {overlays: 0}}
      patchcore: {type: patchcore, needs: [features], with: {level: image, coreset: 1}}
      patchcore-scores: {type: infer, needs: [patchcore, features], with: {map_size: 32}}
      patchcore-report: {type: evaluate, needs: [patchcore-scores, data], with: {overlays: 0}}
    """

    @Test func oneVersusRestRunsEndToEndToMetrics() async throws {
        let wf = try TinyWorkflow(Self.workflow, prefix: "funad-semantic")
        defer { wf.remove() }
        try Self.makeSet(at: wf.dir.appendingPathComponent("set"))
        let run = try await wf.run()
        try #require(run.succeeded, "failures: \(run.failureMessages)")

        // 12 normal (stripes) + ⌊0.25 · 12⌋ = 3 drawn from the other classes' 24 training
        // images; every test image is kept: 6 normal, 12 anomalous.
        let load = run.summary("data")
        #expect(load["train_images"] as? Int == 15)
        #expect(load["test_images"] as? Int == 18)
        #expect(load["test_defective"] as? Int == 12)
        let contamination = load["contamination"] as? [String: Any]
        let moved = contamination?["moved"] as? [String] ?? []
        #expect(contamination?["n_noise"] as? Int == 3 && moved.count == 3)
        #expect(moved.allSatisfy { $0.hasPrefix("train/") && !$0.hasPrefix("train/stripes/") })
        #expect((load["semantic"] as? [String: Any])?["classes"] as? [String] == Self.classes)
        let audit = try JSONFiles.read(ContaminationAudit.self, from: run.outputs("data").appendingPathComponent("audit.json"))
        #expect(audit.contaminatedTrainingIDs.count == 3 && audit.trainGoodCount == 12)

        // Image-level models: FUN-AD on the 1280-d global vector, PatchCore on the same.
        #expect(run.summary("funad")["training_images"].flatMap { ($0 as? [String: Any])?["total"] as? Int } == 15)
        #expect(run.summary("patchcore")["bank_patches"] as? Int == 15)
        // The bank search is recorded, and it is exact whichever path the bank's values allow.
        #expect((run.summary("patchcore")["bank_search"] as? String)?.hasPrefix("exact, ") == true, "\(run.summary("patchcore"))")
        for report in ["funad-report", "patchcore-report"] {
            let auroc = try #require(run.summary(report)["image_auroc"] as? Double, "\(report): no image AUROC")
            #expect(auroc >= 0 && auroc <= 1)
        }
    }

    /// PatchCore's coreset by blocks through the stage: 15 training vectors (one per image
    /// at `level: image`), 40 % kept = 6, blocks of ≤ 5 images → 3 blocks of 2 picks; the
    /// run record says so. A block of 0 patches is refused when the workflow loads.
    @Test func patchCoreCoresetByBlocksIsRecorded() async throws {
        let wf = try TinyWorkflow(Self.workflow, prefix: "funad-semantic-blocks")
        defer { wf.remove() }
        try Self.makeSet(at: wf.dir.appendingPathComponent("set"))
        let run = try await wf.run(settings: ["patchcore.coreset=0.4", "patchcore.coreset_block=5"])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        #expect(run.summary("patchcore")["bank_patches"] as? Int == 6)
        // The parameters that key the result are the ones patchcore had before it offered a
        // hook: the Lua limits' defaults stay out, so stored PatchCore results stay valid.
        // (Empty objects, `features: {}` as before, do not enter the key.)
        let parameters = run.stage("patchcore")["parameters"] as? [String: Any] ?? [:]
        #expect(parameters.keys.sorted() == ["coreset", "coreset_block", "features", "level", "lua", "projection_dim", "seed"],
                "\(parameters.keys.sorted())")
        #expect((parameters["lua"] as? [String: Any])?.isEmpty == true, "\(parameters["lua"] ?? "nil")")
        let coreset = run.summary("patchcore")["coreset"] as? String ?? ""
        #expect(coreset.contains("6 of 15 patches") && coreset.contains("3 blocks of ≤ 5 images"), "\(coreset)")
        do {
            _ = try await wf.run(settings: ["patchcore.coreset=0.4", "patchcore.coreset_block=0"])
            Issue.record("coreset_block 0 was accepted")
        } catch {
            #expect("\(error)".contains("coreset_block"), "\(error)")
        }
        // Two rounds: the blocks pick 2 × 6 = 12, the greedy over that union keeps 6.
        let twice = try await wf.run(settings: ["patchcore.coreset=0.4", "patchcore.coreset_block=5", "patchcore.coreset_oversample=2"])
        try #require(twice.succeeded, "failures: \(twice.failureMessages)")
        #expect(twice.summary("patchcore")["bank_patches"] as? Int == 6)
        let merged = twice.summary("patchcore")["coreset"] as? String ?? ""
        #expect(merged.hasSuffix("picking 2× their share (12), then the greedy over that union"), "\(merged)")
        // Oversampling without blocks means nothing: the stage says so instead of ignoring it.
        let alone = try await wf.run(settings: ["patchcore.coreset=0.4", "patchcore.coreset_oversample=2"])
        #expect(!alone.succeeded && alone.failureMessages.joined().contains("'coreset_oversample' needs 'coreset_block'"),
                "\(alone.failureMessages)")
    }

    /// A patch-level FUN-AD on `features` and its scores of the test and training images:
    /// the scores the training-image choice reads.
    static func funadPatchStages(epochs: Int) -> String {
        """

          funad-patch:
            type: train
            needs: [features]
            with: {epochs: \(epochs), batch_size: 5, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 3}, checkpoint_every: 0}
          funad-patch-scores: {type: infer, needs: [funad-patch, features], with: {map_size: 32}}
        """
    }

    /// PatchCore on the training images FUN-AD finds most normal (`keep_training`, and the
    /// `training_images` hook). Independent check of which images: with coreset 1 the bank
    /// holds every patch vector of the kept images, read back from the model file and
    /// compared with the feature store's rows of the ⌈0.5 · 15⌉ = 8 images a patch-level
    /// FUN-AD scores lowest (and of images 1-3 for the hook that returns them).
    @Test func patchCoreKeepsTheTrainingImagesFunADScoresLowest() async throws {
        let extra = Self.funadPatchStages(epochs: 2) + """

          clean: {type: patchcore, needs: [features, funad-patch-scores], with: {coreset: 1, keep_training: 0.5}}
          scripted:
            type: patchcore
            needs: [features, funad-patch-scores]
            with: {coreset: 1, hooks: {training_images: first3.lua}}
        """
        let wf = try TinyWorkflow(Self.workflow + extra, prefix: "funad-semantic-clean")
        defer { wf.remove() }
        try Self.makeSet(at: wf.dir.appendingPathComponent("set"))
        try "function training_images(scores, ctx) return {3, 1, 2} end\n"
            .write(to: wf.dir.appendingPathComponent("first3.lua"), atomically: true, encoding: .utf8)
        let run = try await wf.run()
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        let funad = try JSONFiles.read(ScoresFile.self, from: run.outputs("funad-patch-scores").appendingPathComponent(ScoresFile.trainingFile))
        #expect(funad.ids.count == 15)
        // The documented rule: the ⌈0.5 · 15⌉ = 8 lowest scores, ties to the earlier image.
        let lowest = funad.scores.indices.sorted { (funad.scores[$0], $0) < (funad.scores[$1], $1) }.prefix(8).sorted()
        let features = try FeatureStoreReader(url: run.outputs("features").appendingPathComponent(FeaturesManifest.trainFile))
        #expect(try bankRows("clean", run) == featureRows(of: lowest, features))
        // Not vacuous: the 8 highest-scored images' vectors are another multiset.
        let highest = funad.scores.indices.sorted { (funad.scores[$0], $0) > (funad.scores[$1], $1) }.prefix(8).sorted()
        #expect(try featureRows(of: highest, features) != featureRows(of: lowest, features))
        let record = run.summary("clean")["training_images"] as? [String: Any]
        #expect(record?["kept"] as? Int == 8 && record?["of"] as? Int == 15)
        #expect(try bankRows("scripted", run) == featureRows(of: [0, 1, 2], features))
        let rule = (run.summary("scripted")["training_images"] as? [String: Any])?["rule"] as? String ?? ""
        #expect(rule.hasPrefix("Lua hook training_images (") && rule.hasSuffix("first3.lua) on the scores of 'funad-patch-scores'"), "\(rule)")
        // A rule without the scores, and scores without a rule, fail the stage with the reason.
        let noScores = try TinyWorkflow(Self.workflow + """

          clean: {type: patchcore, needs: [features], with: {level: image, coreset: 1, keep_training: 0.5}}
        """, prefix: "funad-semantic-clean-bad")
        defer { noScores.remove() }
        try Self.makeSet(at: noScores.dir.appendingPathComponent("set"))
        let bad = try await noScores.run()
        #expect(!bad.succeeded && bad.failureMessages.joined().contains("need the training images' scores"), "\(bad.failureMessages)")
    }

    /// What the training-image choice cannot use fails the stage with its reason, one
    /// wiring at a time (targets, one shared cache): scores given without a rule (they would
    /// be ignored), both rules at once, an infer stage that scored no training images, and
    /// the scores of another training set (a second draw of the contamination: the same
    /// opaque ids, other images).
    @Test func patchCoreRefusesATrainingChoiceItCannotMake() async throws {
        let extra = Self.funadPatchStages(epochs: 1) + """

          funad-test-only: {type: infer, needs: [funad-patch, features], with: {map_size: 32, training_scores: "no"}}
          other-data:
            type: load
            with: {format: semantic, root: set, normal_class: stripes, contamination: {ratio: 0.25, seed: 9}}
          other-features:
            type: extract
            needs: [other-data]
            with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 36, input_size: 32, batch_size: 6}
          other-scores: {type: infer, needs: [funad-patch, other-features], with: {map_size: 32}}
          ignored: {type: patchcore, needs: [features, funad-patch-scores], with: {coreset: 1}}
          both:
            type: patchcore
            needs: [features, funad-patch-scores]
            with: {coreset: 1, keep_training: 0.5, hooks: {training_images: first3.lua}}
          unscored: {type: patchcore, needs: [features, funad-test-only], with: {coreset: 1, keep_training: 0.5}}
          foreign: {type: patchcore, needs: [features, other-scores], with: {coreset: 1, keep_training: 0.5}}
        """
        let wf = try TinyWorkflow(Self.workflow + extra, prefix: "funad-semantic-choice")
        defer { wf.remove() }
        try Self.makeSet(at: wf.dir.appendingPathComponent("set"))
        try "function training_images(scores, ctx) return {3, 1, 2} end\n"
            .write(to: wf.dir.appendingPathComponent("first3.lua"), atomically: true, encoding: .utf8)
        let expected = [
            "ignored": "the scores of 'funad-patch-scores' would be ignored: set 'keep_training'",
            "both": "set 'keep_training' or a training_images hook, not both",
            "unscored": "'funad-test-only' scored no training images (training_scores.json missing)",
            "foreign": "the training scores of 'other-scores' are of another image set (load result",
        ]
        for (stage, reason) in expected.sorted(by: { $0.key < $1.key }) {
            let run = try await wf.run(targets: [stage])
            #expect(!run.succeeded, "\(stage) succeeded")
            #expect(run.outcome.failures.map(\.stage) == [stage], "\(stage): \(run.outcome.failures.map(\.stage))")
            #expect(run.failureMessages.joined().contains(reason), "\(stage): \(run.failureMessages)")
        }
        // The other draw has other training images under the same opaque ids (they name
        // positions after the draw), so only the recorded image set tells them apart.
        let run = try await wf.run(targets: ["funad-patch-scores", "other-scores"])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        let own = try JSONFiles.read(ScoresFile.self, from: run.outputs("funad-patch-scores").appendingPathComponent(ScoresFile.trainingFile))
        let other = try JSONFiles.read(ScoresFile.self, from: run.outputs("other-scores").appendingPathComponent(ScoresFile.trainingFile))
        #expect(own.ids == other.ids)
        #expect(run.summary("data")["contamination"].flatMap { ($0 as? [String: Any])?["moved"] as? [String] }
                != run.summary("other-data")["contamination"].flatMap { ($0 as? [String: Any])?["moved"] as? [String] })
        #expect(own.dataset == run.stage("data")["key"] as? String && other.dataset == run.stage("other-data")["key"] as? String)
        #expect(own.dataset != nil && own.dataset != other.dataset)
    }

    /// The scores are matched to the training images by id, whatever the file's order; a
    /// missing or non-finite score, or a file whose columns disagree, is refused.
    @Test func trainingScoresAreMatchedByIDAndMustBeFinite() throws {
        let file = ScoresFile(ids: ["c", "a", "b"], scores: [3, 1, 2], mapSize: nil)
        #expect(try TrainingImageChoice.matched(ids: ["a", "b", "c"], file: file, stage: "s", path: "p") == [1, 2, 3])
        #expect(TrainingImageChoice.lowest(fraction: 0.5, of: [3, 1, 2]) == [1, 2])   // ⌈1.5⌉ = 2: scores 1 and 2
        #expect(TrainingImageChoice.lowest(fraction: 0.01, of: [2, 1, 1]) == [1])      // at least one; tie to the earlier
        let cases: [(ScoresFile, String)] = [
            (ScoresFile(ids: ["a", "b", "c"], scores: [1, .nan, 2], mapSize: nil), "training image 'b' has the score nan in 's'"),
            (ScoresFile(ids: ["a", "b", "c"], scores: [1, 2, -.infinity], mapSize: nil), "training image 'c' has the score -inf in 's'"),
            (ScoresFile(ids: ["a", "c"], scores: [1, 2], mapSize: nil), "training image 'b' has no score in 's' (2 images scored)"),
            (ScoresFile(ids: ["a", "b", "c"], scores: [1, 2], mapSize: nil), "p: 3 ids but 2 scores"),
        ]
        for (bad, reason) in cases {
            do {
                _ = try TrainingImageChoice.matched(ids: ["a", "b", "c"], file: bad, stage: "s", path: "p")
                Issue.record("accepted \(bad)")
            } catch {
                #expect("\(error)".contains(reason), "\(error)")
            }
        }
    }

    /// A PatchCore stage's bank rows, sorted (the multiset of its patch vectors).
    func bankRows(_ stage: String, _ run: TinyRun) throws -> [[Float]] {
        let model = try PatchCore.load(from: run.outputs(stage).appendingPathComponent(ModelManifest.weightsFile))
        let d = model.dimension
        return (0..<model.bankSize).map { Array(model.bank[($0 * d)..<(($0 + 1) * d)]) }.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// Every patch vector of the listed training images, sorted.
    func featureRows(of images: [Int], _ features: FeatureStoreReader) throws -> [[Float]] {
        let p = features.patchesPerImage, d = features.dimension
        var buf = [Float](repeating: 0, count: p * d)
        var rows: [[Float]] = []
        for i in images {
            try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: i, into: $0.baseAddress!) }
            for j in 0..<p { rows.append(Array(buf[(j * d)..<((j + 1) * d)])) }
        }
        return rows.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// The shipped `workflows/semantic.yaml`, unchanged but for sizes set from the command
    /// line and a seeded random weights file, runs end to end on the generated set.
    @Test func shippedSemanticWorkflowRuns() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = repo.appendingPathComponent("workflows/semantic.yaml")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-semantic-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.makeSet(at: dir.appendingPathComponent("set"))
        let weights = dir.appendingPathComponent("backbone.safetensors")
        try SafeTensors.write(BackboneCatalog.randomWeights(EfficientNetLite.expectedShapes(.lite0), seed: 7), to: weights)
        let run = try await TinyWorkflow.run(shipped.path, in: dir, settings: [
            "ROOT=\(dir.appendingPathComponent("set").path)", "NORMAL=checks", "WEIGHTS=\(weights.path)", "EPOCHS=2",
            "features.resize=36", "features.input_size=32", "funad.batch_size=5", "funad.bank.min_images=3",
            "funad-scores.map_size=32", "patchcore-scores.map_size=32",
        ])
        try #require(run.succeeded, "failures: \(run.failureMessages)")
        // RATIO 0.1 (the paper's 1:10): ⌊0.1 · 12⌋ = 1 image of another class joins the 12 checks.
        #expect(run.summary("data")["train_images"] as? Int == 13)
        #expect(run.summary("funad-report")["image_auroc"] is Double)
        #expect(run.summary("patchcore-report")["image_auroc"] is Double)
    }

    /// The draw is seeded and recorded: the same seed draws the same images, another seed
    /// other ones, and the count is ⌊ratio · N_normal⌋.
    @Test func drawIsSeededAndCounted() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("funad-semantic-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.makeSet(at: root)
        let listing = try SemanticFolders.list(root: root, normalClass: "rings")
        #expect(listing.classes == Self.classes)
        #expect(listing.dataset.count(split: .train) == 12 && listing.pool.count == 24)
        #expect(listing.dataset.count(split: .test, label: .normal) == 6 && listing.dataset.count(split: .test, label: .anomalous) == 12)
        let a = try SemanticContamination(ratio: 0.5, seed: 1).draw(from: listing.pool, normalCount: 12)
        let b = try SemanticContamination(ratio: 0.5, seed: 1).draw(from: listing.pool.reversed(), normalCount: 12)
        let c = try SemanticContamination(ratio: 0.5, seed: 2).draw(from: listing.pool, normalCount: 12)
        #expect(a.count == 6 && a == b && a != c)
        #expect(throws: DatasetError.self) { try SemanticContamination(ratio: 1, seed: 1).draw(from: Array(listing.pool.prefix(5)), normalCount: 12) }
        #expect(throws: DatasetError.self) { try SemanticFolders.list(root: root, normalClass: "cats") }
    }
}
