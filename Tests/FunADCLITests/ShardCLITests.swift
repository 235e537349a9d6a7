import Foundation
import Testing

/// `extract` and `infer` split into shards by `funad run-stage --shard I/N` and merged by
/// `--merge N` give the unsharded stage's files, byte for byte, under the same cache key
/// (issue 15). Separate processes, so the work holds no thread of the test pool.
@Suite(.serialized) struct ShardCLITests {
    let cli = CLITests()
    let snake = SnakemakeTests()

    // 224-px crops (a 28×28 grid): Inference scores 10 images per call. 15 training + 9 test
    // images (after contamination) in batches of 4 give 4 + 3 = 7 extract batches, and 4
    // shards take batches [0,1), [1,3), [3,5), [5,7): shard 3 spans the train/test boundary.
    // infer: 9 test images (1 group), then 15 training images (groups of 10 and 5), so 3
    // shards take one group each.
    static let workflow = """
    name: tiny-shards
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 8, test_defective: 4, size: 64}}
      data: {type: load, needs: [images], with: {format: mvtec, contamination: {ratio: 0.25, overlap: false, seed: 5}}}
      features: {type: extract, needs: [data], with: {backbone: efficientnet_lite0, random_weights_seed: 1, batch_size: 4}}
      model: {type: train, needs: [features], with: {epochs: 1, batch_size: 4, hidden: [16, 8], bank: {min_images: 2}, checkpoint_every: 0}}
      scores: {type: infer, needs: [model, features], with: {map_size: 32, map_dtype: float16}}
    """

    /// Runs one job; returns the stored result's folder (from its marker note).
    func job(_ dir: URL, _ cache: String, _ args: [String]) async throws -> URL {
        let marker = dir.appendingPathComponent("m-\(UUID().uuidString.prefix(6)).done")
        let r = try await snake.funad(["run-stage", "tiny.yaml"] + args + ["--cache", cache, "--runs", cache + "-runs", "--marker", marker.path], in: dir)
        try #require(r.status == 0, "run-stage \(args): \(r.stderr)")
        let note = try JSONSerialization.jsonObject(with: Data(contentsOf: marker)) as! [String: Any]
        // Where the job ran, as a run record says it (jobs of one workflow may run on several machines).
        let host = try #require(note["host"] as? [String: Any], "marker without host: \(note)")
        #expect((host["blas"] as? String)?.hasPrefix("OpenBLAS ") == true && host["cpu"] is String
                && host["cores"] as? Int == ProcessInfo.processInfo.activeProcessorCount && (host["funad"] as? String)?.isEmpty == false, "\(host)")
        return URL(fileURLWithPath: note["output"] as! String)
    }

    func expectSameFiles(_ a: URL, _ b: URL, _ expected: [String]) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: a.path).sorted()
        #expect(files == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: b.path).sorted() == expected)
        for file in files {
            #expect(try Data(contentsOf: a.appendingPathComponent(file)) == Data(contentsOf: b.appendingPathComponent(file)),
                    "\(file) differs between the sharded and the unsharded stage")
        }
    }

    @Test func extractInFourShardsAndInferInThreeMergeIntoTheUnshardedResults() async throws {
        let dir = try cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Self.workflow.write(to: dir.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)

        var plain: [String: URL] = [:]
        for stage in ["images", "data", "features", "model", "scores"] { plain[stage] = try await job(dir, "plain", [stage]) }

        for stage in ["images", "data"] { _ = try await job(dir, "sharded", [stage]) }
        var shardImages = 0
        for i in 1...4 {
            let shard = try await job(dir, "sharded", ["features", "--shard", "\(i)/4"])
            for file in ["train.features", "test.features"] {
                // The footer's "count" of a feature store (the image count).
                let data = try Data(contentsOf: shard.appendingPathComponent(file))
                let text = String(decoding: data.suffix(4096), as: UTF8.self)
                let count = text.range(of: #""count":(\d+)"#, options: .regularExpression).map { Int(text[$0].dropFirst(8))! } ?? -1
                shardImages += count
            }
        }
        #expect(shardImages == 24)
        let features = try await job(dir, "sharded", ["features", "--merge", "4"])
        #expect(features.deletingLastPathComponent().lastPathComponent == plain["features"]!.deletingLastPathComponent().lastPathComponent)  // same key
        try expectSameFiles(plain["features"]!, features, ["features.json", "summary.json", "test.features", "train.features"])

        _ = try await job(dir, "sharded", ["model"])
        for i in 1...3 { _ = try await job(dir, "sharded", ["scores", "--shard", "\(i)/3"]) }
        let scores = try await job(dir, "sharded", ["scores", "--merge", "3"])
        #expect(scores.deletingLastPathComponent().lastPathComponent == plain["scores"]!.deletingLastPathComponent().lastPathComponent)
        try expectSameFiles(plain["scores"]!, scores, ["maps.bin", "scores.json", "summary.json", "training_scores.json"])
    }
}
