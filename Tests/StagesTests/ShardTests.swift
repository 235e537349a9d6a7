import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// `extract` and `infer` split into shards and merged give the unsharded stage's files, byte for byte,
/// under the same cache key (issue 15).
@Suite(.serialized) struct ShardTests {
    // 15 training + 9 test images (after contamination) in batches of 4: 4 + 3 = 7 batches;
    // 4 shards take batches [0,1), [1,3), [3,5), [5,7), so shard 3 spans the train/test boundary.
    static let workflow = """
    name: tiny-shards
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 8, test_defective: 4, size: 64}}
      data:
        type: load
        needs: [images]
        with: {format: mvtec, contamination: {ratio: 0.25, overlap: false, seed: 5}}
      features:
        type: extract
        needs: [data]
        with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4}
    """

    func job(_ session: WorkflowSession, _ wf: ValidatedWorkflow, _ stage: String, _ work: StageWork, logs: URL) async throws -> StageJobOutcome {
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await session.runStage(StageJob(workflow: wf, stage: stage, work: work), logsDirectory: logs, board: board)
        try #require(outcome.status == .ran || outcome.status == .cached, "\(stage) \(work): \(outcome.message ?? "")")
        return outcome
    }

    @Test func fourShardsMergeIntoTheUnshardedFeatures() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-shards-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.workflow.write(toFile: path, atomically: true, encoding: .utf8)
        let logs = dir.appendingPathComponent("logs")

        // Unsharded, in its own cache.
        let plain = WorkflowSession(registry: FunADStages.registry, cacheDirectory: dir.appendingPathComponent("plain"), environment: [:])
        let plainWF = try plain.load(path)
        for stage in ["images", "data", "features"] { _ = try await job(plain, plainWF, stage, .whole, logs: logs) }

        // Sharded, in another cache: 4 shards, then the merge.
        let sharded = WorkflowSession(registry: FunADStages.registry, cacheDirectory: dir.appendingPathComponent("sharded"), environment: [:])
        let shardedWF = try sharded.load(path)
        for stage in ["images", "data"] { _ = try await job(sharded, shardedWF, stage, .whole, logs: logs) }
        var shardImages = 0
        for i in 0..<4 {
            let shard = try await job(sharded, shardedWF, "features", .shard(try Shard(index: i, count: 4)), logs: logs)
            let train = try FeatureStoreReader(url: shard.output!.appendingPathComponent("train.features"))
            let test = try FeatureStoreReader(url: shard.output!.appendingPathComponent("test.features"))
            #expect(train.imageCount + test.imageCount > 0)
            shardImages += train.imageCount + test.imageCount
        }
        #expect(shardImages == 24)
        let merged = try await job(sharded, shardedWF, "features", .merge(count: 4), logs: logs)
        let whole = try await job(plain, plainWF, "features", .whole, logs: logs)
        #expect(merged.key == whole.key)

        // Every file of the two entries, byte for byte.
        let files = try FileManager.default.contentsOfDirectory(atPath: whole.output!.path).sorted()
        #expect(files == ["features.json", "summary.json", "test.features", "train.features"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: merged.output!.path).sorted() == files)
        for file in files {
            let a = try Data(contentsOf: whole.output!.appendingPathComponent(file))
            let b = try Data(contentsOf: merged.output!.appendingPathComponent(file))
            #expect(a == b, "\(file) differs between the sharded and the unsharded extract")
        }
        let reader = try FeatureStoreReader(url: merged.output!.appendingPathComponent("train.features"))
        #expect(reader.imageCount == 15 && reader.dtype == .float16)
    }

    // 224-px crops: a 28×28 grid, so Inference scores 10 images per call; 9 test + 15
    // training images make 1 + 2 groups, one per shard.
    static let inferWorkflow = """
    name: tiny-infer-shards
    stages:
      images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 8, test_defective: 4, size: 64}}
      data: {type: load, needs: [images], with: {format: mvtec, contamination: {ratio: 0.25, overlap: false, seed: 5}}}
      features: {type: extract, needs: [data], with: {backbone: efficientnet_lite0, random_weights_seed: 1, batch_size: 8}}
      model: {type: train, needs: [features], with: {epochs: 1, batch_size: 4, hidden: [16, 8], bank: {min_images: 2}, checkpoint_every: 0}}
      scores: {type: infer, needs: [model, features], with: {map_size: 32, map_dtype: float16}}
    """

    @Test func threeInferShardsMergeIntoTheUnshardedScoresAndMaps() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-shards-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tiny.yaml").path
        try Self.inferWorkflow.write(toFile: path, atomically: true, encoding: .utf8)
        let logs = dir.appendingPathComponent("logs")
        let upstream = ["images", "data", "features", "model"]

        let plain = WorkflowSession(registry: FunADStages.registry, cacheDirectory: dir.appendingPathComponent("plain"), environment: [:])
        let plainWF = try plain.load(path)
        for stage in upstream { _ = try await job(plain, plainWF, stage, .whole, logs: logs) }
        let whole = try await job(plain, plainWF, "scores", .whole, logs: logs)

        let sharded = WorkflowSession(registry: FunADStages.registry, cacheDirectory: dir.appendingPathComponent("sharded"), environment: [:])
        let shardedWF = try sharded.load(path)
        for stage in upstream { _ = try await job(sharded, shardedWF, stage, .whole, logs: logs) }
        var counts: [Int] = []
        for i in 0..<3 {
            let shard = try await job(sharded, shardedWF, "scores", .shard(try Shard(index: i, count: 3)), logs: logs)
            let test = try JSONDecoder().decode(ScoresFile.self, from: Data(contentsOf: shard.output!.appendingPathComponent("scores.json")))
            let train = try JSONDecoder().decode(ScoresFile.self, from: Data(contentsOf: shard.output!.appendingPathComponent("training_scores.json")))
            counts.append(test.ids.count + train.ids.count)
        }
        #expect(counts == [9, 10, 5])  // test group of 9, then training groups of 10 and 5
        let merged = try await job(sharded, shardedWF, "scores", .merge(count: 3), logs: logs)
        #expect(merged.key == whole.key)
        let files = try FileManager.default.contentsOfDirectory(atPath: whole.output!.path).sorted()
        #expect(files == ["maps.bin", "scores.json", "summary.json", "training_scores.json"])
        for file in files {
            let a = try Data(contentsOf: whole.output!.appendingPathComponent(file))
            let b = try Data(contentsOf: merged.output!.appendingPathComponent(file))
            #expect(a == b, "\(file) differs between the sharded and the unsharded infer")
        }
    }
}
