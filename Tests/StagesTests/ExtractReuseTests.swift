import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// A sweep over contamination ratios re-splits the same images; `extract` must run the
/// backbone once per image across the sweep (the per-image feature cache) and still write
/// exactly the feature files a fresh extraction writes.
@Suite(.serialized) struct ExtractReuseTests {
    static let workflow = """
    name: tiny-sweep
    vars: {RATIO: "0.25", BATCH: "4"}
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 128}}
      data:
        type: load
        needs: [images]
        with: {format: mvtec, contamination: {ratio: "${RATIO}", overlap: false, seed: 5}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: "${BATCH}"}
    """

    func bytes(_ run: TinyRun, _ file: String) throws -> Data {
        try Data(contentsOf: run.outputs("features").appendingPathComponent(file))
    }

    @Test func secondRatioRunsTheBackboneOnNoImageAlreadySeenAndMatchesAFreshExtraction() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        // Ratio 0.25: 12 good + 3 moved defective in training, 5 test images: 20 images, all new.
        let first = try await wf.run()
        try #require(first.succeeded, "failures: \(first.failureMessages)")
        let firstCount = first.summary("features")["images"] as? [String: Any]
        #expect(firstCount?["computed"] as? Int == 20 && firstCount?["reused"] as? Int == 0)

        // Ratio 0: another split (12 training, 8 test), another extract cache key, the same
        // 20 images: the backbone runs on none of them.
        let second = try await wf.run(settings: ["RATIO=0"])
        try #require(second.succeeded, "failures: \(second.failureMessages)")
        #expect(second.status("features") == "ran")
        let secondCount = second.summary("features")["images"] as? [String: Any]
        #expect(secondCount?["computed"] as? Int == 0 && secondCount?["reused"] as? Int == 20)

        // A fresh extraction of ratio 0 in an empty cache, in batches of 3 instead of 4,
        // writes byte-identical feature files (float16 entries read back and stored again).
        let fresh = try await wf.run(settings: ["RATIO=0", "BATCH=3"], cache: wf.dir.appendingPathComponent("fresh-cache"))
        try #require(fresh.succeeded, "failures: \(fresh.failureMessages)")
        let freshCount = fresh.summary("features")["images"] as? [String: Any]
        #expect(freshCount?["computed"] as? Int == 20)
        #expect(try bytes(second, "train.features") == bytes(fresh, "train.features"))
        #expect(try bytes(second, "test.features") == bytes(fresh, "test.features"))
        #expect(try FeatureStoreReader(url: second.outputs("features").appendingPathComponent("train.features")).imageCount == 12)
    }

    /// A damaged entry is not trusted: it is recomputed, and the output is still exact.
    @Test func damagedEntryIsRecomputed() async throws {
        let wf = try TinyWorkflow(Self.workflow)
        defer { wf.remove() }
        let first = try await wf.run(settings: ["RATIO=0"])
        try #require(first.succeeded, "failures: \(first.failureMessages)")
        let store = wf.dir.appendingPathComponent("cache/\(ImageFeatureCache.folder)")
        let entries = (FileManager.default.enumerator(at: store, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
            .filter { $0.pathExtension == "features" }
        #expect(entries.count == 20)
        // Truncate one entry: its trailer is gone, the reader refuses it.
        let victim = try #require(entries.first)
        let data = try Data(contentsOf: victim)
        try data.prefix(data.count / 2).write(to: victim)

        let again = try await wf.run(settings: ["RATIO=0.25"])
        try #require(again.succeeded, "failures: \(again.failureMessages)")
        let count = again.summary("features")["images"] as? [String: Any]
        #expect(count?["computed"] as? Int == 1 && count?["reused"] as? Int == 19)
        let fresh = try await wf.run(settings: ["RATIO=0.25"], cache: wf.dir.appendingPathComponent("fresh-cache"))
        #expect(try bytes(again, "train.features") == bytes(fresh, "train.features"))
        #expect(try bytes(again, "test.features") == bytes(fresh, "test.features"))
    }
}
