import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// FUN-AD* (METHOD.md step 3, paper Sec. 5.3 and Table 2): train sees the base training
/// set followed by the synthetic anomalies, unlabelled, and the base images are extracted
/// once — the synthetic images by an extract stage of their own.
@Suite(.serialized) struct FunADStarTests {
    static let workflow = """
    name: tiny-star
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 128}}
      data:
        type: load
        needs: [images]
        with: {format: mvtec, contamination: {ratio: 0.25, overlap: false, seed: 5}}
      extra: {type: synthesize, needs: [data], with: {ratio: 0.2, seed: 2}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4}
      synthetic-features:
        type: extract
        needs: [extra]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4, images: synthetic}
      funad:
        type: train
        needs: [features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0}
      funad-star:
        type: train
        needs: [features, synthetic-features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0}
      none: {type: synthesize, needs: [data], with: {ratio: 0, seed: 2}}
      none-features:
        type: extract
        needs: [none]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4, images: synthetic}
      funad-none:
        type: train
        needs: [features, none-features]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0}
      star-scores: {type: infer, needs: [funad-star, features], with: {map_size: 64}}
      star-report: {type: evaluate, needs: [star-scores, data, funad-star], with: {overlays: 0}}
    """

    @Test func trainSeesBasePlusSyntheticAndBaseImagesAreExtractedOnce() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let run = try await wf.run()
        try #require(run.succeeded, "failures: \(run.failureMessages)")

        // load: 12 good + ⌊0.25 · 12⌋ = 3 moved = 15 training images; 4 + 4 − 3 = 5 test images.
        // synthesize: ⌊0.2 · 15⌋ = 3 synthetic anomalies.
        #expect(run.summary("data")["train_images"] as? Int == 15)
        #expect(run.summary("extra")["synthetic_images"] as? Int == 3)

        // The backbone ran on each image once: 15 + 5 base images, then the 3 synthetic ones alone.
        let base = run.summary("features")["images"] as? [String: Any]
        let synthetic = run.summary("synthetic-features")["images"] as? [String: Any]
        #expect(base?["computed"] as? Int == 20 && base?["reused"] as? Int == 0)
        #expect(synthetic?["computed"] as? Int == 3 && synthetic?["reused"] as? Int == 0)
        let synthFiles = try FeatureStoreReader(url: run.outputs("synthetic-features").appendingPathComponent("train.features"))
        #expect(synthFiles.imageIds == ["synthetic-0000", "synthetic-0001", "synthetic-0002"])
        #expect(try FeatureStoreReader(url: run.outputs("synthetic-features").appendingPathComponent("test.features")).imageCount == 0)

        // FUN-AD trains on the 15 base images, FUN-AD* on 15 + 3, base first.
        let plain = run.summary("funad")["training_images"] as? [String: Any]
        let star = run.summary("funad-star")["training_images"] as? [String: Any]
        #expect(plain?["total"] as? Int == 15)
        #expect(star?["total"] as? Int == 18)
        let parts = (star?["parts"] as? [[String: Any]] ?? []).map { "\($0["stage"] ?? "")=\($0["images"] ?? "")" }
        #expect(parts == ["features=15", "synthetic-features=3"])
        let history = try JSONFiles.read(TrainingHistory.self, from: run.outputs("funad-star").appendingPathComponent(TrainingHistory.file))
        let baseIDs = try FeatureStoreReader(url: run.outputs("features").appendingPathComponent("train.features")).imageIds
        #expect(history.trainingIDs == baseIDs + synthFiles.imageIds)
        #expect(run.summary("star-report")["image_auroc"] is Double)
        // The bank purity counts the 3 synthetic anomalies apart from the 3 moved-in
        // defective images (evaluate's dataset is load's, which lists no synthetic image:
        // they are the trained-on images it lacks).
        let purity = run.summary("star-report")["bank_purity"] as? [String: Any]
        #expect(purity?["synthetic_in_training"] as? Int == 3)
        #expect(purity?["contaminated_in_training"] as? Int == 3)

        // Synthesis at ratio 0 (how the mtd-*.yaml workflows switch FUN-AD* off): no synthetic
        // image, and the model is FUN-AD's, byte for byte.
        #expect((run.summary("none-features")["images"] as? [String: Any])?["computed"] as? Int == 0)
        #expect((run.summary("funad-none")["training_images"] as? [String: Any])?["total"] as? Int == 15)
        let weights = { (stage: String) in try Data(contentsOf: run.outputs(stage).appendingPathComponent(ModelManifest.weightsFile)) }
        #expect(try weights("funad-none") == weights("funad"))
        #expect(try weights("funad-star") != weights("funad"))
    }

    /// Each joined image reads exactly as in its own feature set, in order.
    @Test func joinedFeaturesReadEachPartInOrder() throws {
        func part(_ n: Int, _ base: Float) -> InMemoryPatchFeatures {
            InMemoryPatchFeatures(imageCount: n, gridHeight: 1, gridWidth: 2, dimension: 3,
                                  values: (0..<(n * 6)).map { base + Float($0) })
        }
        let joined = try JoinedPatchFeatures([part(2, 0), part(0, 500), part(1, 100)])
        #expect(joined.imageCount == 3)
        var buffer = [Float](repeating: 0, count: 6)
        try joined.patchFeatures(ofImage: 1, into: &buffer)
        #expect(buffer == [6, 7, 8, 9, 10, 11])
        try joined.patchFeatures(ofImage: 2, into: &buffer)
        #expect(buffer == [100, 101, 102, 103, 104, 105])
        #expect(throws: TrainingError.self) { try joined.patchFeatures(ofImage: 3, into: &buffer) }
        let other = InMemoryPatchFeatures(imageCount: 1, gridHeight: 1, gridWidth: 2, dimension: 4, values: [Float](repeating: 0, count: 8))
        #expect(throws: TrainingError.self) { try JoinedPatchFeatures([part(1, 0), other], names: ["a", "b"]) }
    }

    /// Mis-wirings fail with a message that says what to do: synthetic-only extraction of a
    /// dataset without synthetic images, and an image that would be trained on twice.
    @Test func miswiredFunADStarFailsClearly() async throws {
        let noSynthetic = Self.workflow.replacingOccurrences(of: "needs: [extra]", with: "needs: [data]")
        let wf1 = try TinyWorkflow(noSynthetic)
        defer { wf1.remove() }
        let run1 = try await wf1.run()
        #expect(!run1.succeeded)
        #expect(run1.failureMessages.contains { $0.contains("holds no synthetic images") })

        let twice = Self.workflow.replacingOccurrences(of: "needs: [data]\n    with: {backbone", with: "needs: [extra]\n    with: {backbone")
        #expect(twice != Self.workflow)
        let wf2 = try TinyWorkflow(twice)
        defer { wf2.remove() }
        let run2 = try await wf2.run()
        #expect(!run2.succeeded)
        #expect(run2.failureMessages.contains { $0.contains("comes from both 'features' and 'synthetic-features'") })
    }
}
