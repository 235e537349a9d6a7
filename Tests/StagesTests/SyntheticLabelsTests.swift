import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// `train` with `synthetic_labels: masks` (the y_syn ablation, paper supplement Table 5):
/// the synthetic anomalies' patches are labelled by their own Perlin masks, pooled to the
/// patch grid; the run record counts them; a missing synthesize stage fails clearly.
@Suite(.serialized) struct SyntheticLabelsTests {
    /// FUN-AD*'s tiny workflow, its synthesis seed 7 (coarse Perlin scales, so that some
    /// masks cover whole cells; fine scales give speckle that no cell is half full of).
    static let workflow = FunADStarTests.workflow.replacingOccurrences(of: "{ratio: 0.2, seed: 2}", with: "{ratio: 0.2, seed: 7}") + """

      funad-ysyn:
        type: train
        needs: [features, synthetic-features, extra]
        with: {epochs: 2, batch_size: 4, hidden: [16, 8], bank: {refresh: epoch, selection: quantile, min_images: 2}, checkpoint_every: 0, synthetic_labels: masks}
    """

    @Test func masksLabelTheSyntheticPatches() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let run = try await wf.run()
        try #require(run.succeeded, "failures: \(run.failureMessages)")

        // Expected labels, counted here from the synthesize stage's masks: each 256² mask
        // resized (nearest) to 73 and centre-cropped to 64 as the features were, then an
        // 8 × 8 grid of 8 × 8-pixel cells, a cell anomalous when ≥ 32 of its pixels are.
        let ids = ["synthetic-0000", "synthetic-0001", "synthetic-0002"]
        var expected = 0
        for id in ids {
            let url = run.outputs("extra").appendingPathComponent("synthetic-masks/\(id).png")
            let mask = try Preprocessor(resize: 73, crop: 64).mask(at: url)
            #expect(mask.width == 64 && mask.height == 64)
            for gy in 0..<8 {
                for gx in 0..<8 {
                    var n = 0
                    for y in (gy * 8)..<(gy * 8 + 8) { for x in (gx * 8)..<(gx * 8 + 8) where mask.data[y * 64 + x] == 1 { n += 1 } }
                    if n >= 32 { expected += 1 }
                }
            }
        }
        let record = try #require(run.summary("funad-ysyn")["synthetic_labels"] as? [String: Any])
        #expect(record["rule"] as? String == "masks")
        #expect(record["images"] as? Int == 3)
        #expect(record["patches"] as? Int == 3 * 64)
        #expect(record["anomalous_patches"] as? Int == expected)
        #expect(expected > 0, "the synthetic masks of this seed fill no cell by half; pick another seed")
        let departures = run.summary("funad-ysyn")["departures_from_paper"] as? [String] ?? []
        #expect(departures.contains { $0.hasPrefix("3 images labelled by their masks") })
        // The same training with pseudo-labels (funad-star) ends elsewhere.
        let weights = { (stage: String) in try Data(contentsOf: run.outputs(stage).appendingPathComponent(ModelManifest.weightsFile)) }
        #expect(try weights("funad-ysyn") != weights("funad-star"))
    }

    @Test func masksWithoutTheSynthesizeStageFailClearly() async throws {
        let wf = try TinyWorkflow(Self.workflow.replacingOccurrences(of: "needs: [features, synthetic-features, extra]",
                                                                       with: "needs: [features, synthetic-features]"))
        defer { wf.remove() }
        let run = try await wf.run()
        #expect(!run.succeeded)
        #expect(run.failureMessages.contains { $0.contains("synthetic_labels: masks needs exactly one synthesize stage among its needs") })
    }
}
