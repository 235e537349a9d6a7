import Foundation
import FunAD
import Workflow

/// `predict` split by image for scale-out (`funad run-stage … --shard I/N`, docs/SCALE-OUT.md).
///
/// `Predictor.run` decodes the sorted image list in batches of the recipe's `batch_size`
/// (bad images keep their place in a batch and are dropped from it before the backbone),
/// and runs the backbone and the scorer once per batch. A shard takes a contiguous run of
/// those batches, so every product the kernels compute is one of the unsharded stage's
/// and every score and overlay is the same bits. The merge concatenates `scores.csv` rows
/// and the overlays (numbered by whole-list position) in shard order, writes the same
/// unstamped bundle from the same inputs, and records the summary with the counts summed
/// and the skipped-image lists concatenated.
extension PredictStage: ShardableStage {
    func runShard(_ shard: Shard, context: StageContext) async throws {
        let (predictor, images) = try prepare(context)
        let split = shard.groupedItems(partSizes: [images.count], groupSize: predictor.bundle.manifest.features.batchSize)
        let range = split.items[0]
        context.announce("shard \(shard) = batches \(split.groups.lowerBound + 1)-\(split.groups.upperBound) of \(split.totalGroups), \(range.count) images")
        try predict(Array(images[range]), firstIndex: range.lowerBound, with: predictor, context: context)
        context.record("shard", shard.description)
    }

    func mergeShards(_ shards: [URL], context: StageContext) async throws {
        let fm = FileManager.default
        let out = context.outputDirectory
        try fm.createDirectory(at: out, withIntermediateDirectories: true)
        try writeBundle(context)

        // scores.csv: one header, then every shard's rows in shard order.
        var csv = Data((ScoresCSV.header + "\n").utf8)
        for (n, shard) in shards.enumerated() {
            let url = shard.appendingPathComponent(PredictionSummary.scoresFile)
            guard let text = try? String(contentsOf: url, encoding: .utf8) else {
                throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)': no readable \(PredictionSummary.scoresFile); re-run the shard")
            }
            guard text.hasPrefix(ScoresCSV.header + "\n") else {
                throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)': \(PredictionSummary.scoresFile) does not start with the header '\(ScoresCSV.header)'")
            }
            csv.append(Data(text.utf8.dropFirst(ScoresCSV.header.utf8.count + 1)))
        }
        try csv.write(to: out.appendingPathComponent(PredictionSummary.scoresFile), options: .atomic)

        // overlays/: named by whole-list position, so the shards' sets never collide.
        let overlays = out.appendingPathComponent(PredictionSummary.overlaysFolder)
        try fm.createDirectory(at: overlays, withIntermediateDirectories: true)
        for shard in shards {
            let folder = shard.appendingPathComponent(PredictionSummary.overlaysFolder)
            for name in ((try? fm.contentsOfDirectory(atPath: folder.path)) ?? []).sorted() {
                try context.checkCancellation()
                let target = overlays.appendingPathComponent(name)
                guard !fm.fileExists(atPath: target.path) else {
                    throw StageError("\(context.stageName): two shards both hold overlay \(name)")
                }
                try fm.copyItem(at: folder.appendingPathComponent(name), to: target)
            }
        }

        // summary.json: shard 1's fields, with the counts summed and the skipped images
        // listed in shard order (each shard's list is in image order).
        var merged: [String: Any] = [:]
        var skippedImages: [Any] = []
        let counts = ["images", "scored", "flagged", "skipped", "overlays"]
        var sums = Dictionary(uniqueKeysWithValues: counts.map { ($0, 0) })
        for (n, shard) in shards.enumerated() {
            guard let data = try? Data(contentsOf: shard.appendingPathComponent(PredictionSummary.file)),
                  var fields = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any],
                  let list = fields["skippedImages"] as? [Any] else {
                throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)' has no prediction summary in its summary.json; re-run the shard")
            }
            for key in counts {
                guard let value = fields[key] as? Int else {
                    throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)': summary.json has no integer '\(key)'")
                }
                sums[key]! += value
            }
            guard fields["status"] as? String == "complete" else {
                throw StageError("shard \(n + 1)/\(shards.count) of '\(context.stageName)' did not complete (status \(fields["status"] ?? "missing"))")
            }
            skippedImages += list
            fields.removeValue(forKey: "shard")
            if n == 0 { merged = fields }
        }
        for key in counts { merged[key] = sums[key]! }
        merged["skippedImages"] = skippedImages
        for (key, value) in merged { context.record(key, value) }
        context.announce("merged \(shards.count) shards: \(sums["scored"]!) scored, \(sums["flagged"]!) flagged, \(sums["skipped"]!) skipped")
    }
}
