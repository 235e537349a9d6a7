import Foundation
import Testing

/// `predict` split into shards by `funad run-stage --shard I/N` and merged by `--merge N`
/// gives the unsharded stage's files, byte for byte (scores.csv, overlays, the bundle,
/// summary.json with a corrupt image skipped), under the same cache key (issue 15).
@Suite(.serialized) struct PredictShardCLITests {
    let shards = ShardCLITests()

    // 13 demo test images and one corrupt file, scored in batches of 4: 4 batches
    // (4, 4, 4, 2 images), so 3 shards take batches [0,1), [1,2), [2,4). The corrupt file
    // sorts 8th: it is in shard 2's batch, which the backbone then sees with 3 images.
    // One epoch of random features scores every image about 0.3984: the threshold 0.3
    // flags them all, so each shard writes overlays numbered by whole-list position.
    static let workflow = """
    name: tiny-predict-shards
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 6, test_defective: 7, size: 64}}
      data: {type: load, needs: [images], with: {format: mvtec, contamination: {ratio: 0.25, overlap: true, seed: 5}}}
      features: {type: extract, needs: [data], with: {backbone: efficientnet_lite0, random_weights_seed: 1, batch_size: 4}}
      model: {type: train, needs: [features], with: {epochs: 1, batch_size: 4, hidden: [16, 8], bank: {min_images: 2}, checkpoint_every: 0}}
      predict: {type: predict, needs: [model, features], with: {images: new-images, threshold: 0.3}}
    """

    /// Every regular file under `root`, as paths relative to it, sorted.
    func files(under root: URL) -> [String] {
        let base = root.standardizedFileURL.path + "/"
        let all = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey])?.allObjects as? [URL] ?? []
        return all.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .map { String($0.standardizedFileURL.path.dropFirst(base.count)) }.sorted()
    }

    @Test func predictInThreeShardsMergesIntoTheUnshardedResult() async throws {
        let dir = try shards.cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.workflow.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)

        // The images to score (the folder must exist when the workflow is planned): the
        // demo's test images under new names, and a corrupt PNG.
        let newImages = dir.appendingPathComponent("new-images")
        try FileManager.default.createDirectory(at: newImages, withIntermediateDirectories: true)
        var plain: [String: URL] = [:]
        for stage in ["images", "data", "features", "model"] { plain[stage] = try await shards.job(dir, "plain", [stage]) }
        let test = plain["images"]!.appendingPathComponent("dataset/test")
        let pngs = files(under: test).filter { $0.hasSuffix(".png") && !$0.contains("ground_truth") }
        try #require(pngs.count == 13)
        for (i, png) in pngs.enumerated() {
            try FileManager.default.copyItem(at: test.appendingPathComponent(png), to: newImages.appendingPathComponent(String(format: "img-%02d.png", i)))
        }
        let corrupt = newImages.appendingPathComponent("img-06b.png")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]).write(to: corrupt)

        let whole = try await shards.job(dir, "plain", ["predict"])
        for stage in ["images", "data", "features", "model"] { _ = try await shards.job(dir, "sharded", [stage]) }
        var shardRows = 0
        for i in 1...3 {
            let shard = try await shards.job(dir, "sharded", ["predict", "--shard", "\(i)/3"])
            let rows = try String(contentsOf: shard.appendingPathComponent("scores.csv"), encoding: .utf8).split(separator: "\n").count - 1
            #expect(rows == [4, 3, 6][i - 1], "shard \(i): \(rows) rows")  // shard 2's batch holds the corrupt file
            shardRows += rows
        }
        #expect(shardRows == 13)
        let merged = try await shards.job(dir, "sharded", ["predict", "--merge", "3"])
        #expect(merged.deletingLastPathComponent().lastPathComponent == whole.deletingLastPathComponent().lastPathComponent)  // same key

        let expected = files(under: whole)
        #expect(expected.contains("scores.csv") && expected.contains("summary.json") && expected.contains("model.funad/bundle.json"))
        #expect(files(under: merged) == expected)
        for file in expected {
            #expect(try Data(contentsOf: whole.appendingPathComponent(file)) == Data(contentsOf: merged.appendingPathComponent(file)),
                    "\(file) differs between the sharded and the unsharded stage")
        }

        // What the (identical) summary says: the corrupt file skipped and listed, no timing.
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: merged.appendingPathComponent("summary.json"))) as! [String: Any]
        #expect(summary["images"] as? Int == 14 && summary["scored"] as? Int == 13 && summary["skipped"] as? Int == 1)
        let skipped = summary["skippedImages"] as? [[String: Any]] ?? []
        #expect(skipped.count == 1 && (skipped.first?["path"] as? String).map { $0.hasSuffix("new-images/img-06b.png") } == true)
        #expect(summary["timing"] == nil && summary["shard"] == nil)
        #expect((summary["model"] as? [String: Any])?["bundle"] as? String == "model.funad")
        let overlays = expected.filter { $0.hasPrefix("overlays/") }
        #expect(overlays.count == 13, "every scored image is flagged at 0.3: \(overlays)")
        #expect(overlays.contains { $0.hasPrefix("overlays/00009-") } && !overlays.contains { $0.hasPrefix("overlays/00008-") })  // 8th is the corrupt file
        #expect(overlays.count == summary["flagged"] as? Int && summary["overlays"] as? Int == overlays.count)
        let csv = try String(contentsOf: merged.appendingPathComponent("scores.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "path,raw_score,normalised_score,decision")
        let paths = csv.dropFirst().map { String($0.split(separator: ",")[0]) }
        #expect(paths.count == 13 && paths == paths.sorted() && !paths.contains(corrupt.path))
    }
}
