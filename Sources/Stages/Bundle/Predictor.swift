import Foundation
import FunAD
import Workflow

/// `summary.json` of a prediction.
struct PredictionSummary: Codable {
    struct Skipped: Codable { var path: String; var reason: String }
    struct Threshold: Codable { var value: Double; var rule: String; var source: String }
    struct ModelInfo: Codable {
        var bundle: String
        var kind: String
        var modelStage: String
        var modelSHA256: String
        var backbone: String
        var backboneWeightsSHA256: String?
    }
    struct Timing: Codable {
        var started: String
        var seconds: Double
        var imagesPerSecond: Double
        /// Where the time went: decoding and preprocessing, the backbone, the scorer (with
        /// the feature file round trip and the maps), and writing rows and overlays.
        var secondsDecoding: Double
        var secondsBackbone: Double
        var secondsScoring: Double
        var secondsWriting: Double
        /// Of `secondsScoring`, the time inside the scorer itself (Local-Net's layers or
        /// PatchCore's search); the rest is the feature round trip and the maps.
        var secondsScorer: Double
    }

    /// "complete", or "stopped at a bad image" (with `on_bad_image: fail`).
    var status: String
    var images: Int
    var scored: Int
    var flagged: Int
    var skipped: Int
    var skippedImages: [Skipped]
    var threshold: Threshold
    /// The normalised score's definition and parameters (0.5 = the threshold).
    var normalisedScore: NormalisedScore
    var normalisedScoreFormula: String
    var model: ModelInfo
    var timing: Timing
    var overlays: Int

    static let file = "summary.json", scoresFile = "scores.csv", overlaysFolder = "overlays"
}

/// The images named on a command line or by a stage parameter: files as given, folders
/// searched recursively for .png/.jpg/.jpeg files, in path order.
enum ImageList {
    static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    static func expand(_ paths: [URL]) throws -> [URL] {
        var out: [URL] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDir) else {
                throw BundleError("\(path.path): no such file or folder")
            }
            guard isDir.boolValue else { out.append(path); continue }
            let found = (FileManager.default.enumerator(at: path, includingPropertiesForKeys: nil)?.allObjects as? [URL] ?? [])
                .filter { extensions.contains($0.pathExtension.lowercased()) }
                .map { URL(fileURLWithPath: $0.standardizedFileURL.path) }
                .sorted { $0.path < $1.path }
            guard !found.isEmpty else { throw BundleError("\(path.path): no .png, .jpg or .jpeg image in this folder") }
            out += found
        }
        return out
    }
}

/// Appends `scores.csv` rows as images are scored (each batch written through at once),
/// so a stopped or killed run keeps every row it had.
final class ScoresCSV {
    static let header = "path,raw_score,normalised_score,decision"
    private let handle: FileHandle

    init(url: URL) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: Data((Self.header + "\n").utf8)) else {
            throw BundleError("cannot create \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
        _ = try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    func append(_ rows: [(path: String, raw: Float, normalised: Double, flagged: Bool)]) throws {
        guard !rows.isEmpty else { return }
        var text = ""
        for r in rows {
            text += "\(Self.field(r.path)),\(r.raw),\(String(format: "%.6f", r.normalised)),\(r.flagged ? "anomalous" : "normal")\n"
        }
        try handle.write(contentsOf: Data(text.utf8))
    }

    /// RFC 4180 quoting when the path holds a comma, quote or line break.
    static func field(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

/// A prediction stopped by a bad image under `BadImagePolicy.fail`.
public struct PredictionStopped: Error, CustomStringConvertible {
    public let description: String
}

/// Scores new images with a model bundle, streaming: decode → preprocess → backbone →
/// patch features (through a feature file, exactly as `extract` stores them) → scorer →
/// image score and anomaly map (`Inference.run`, as `infer`). Writes `scores.csv` row by
/// row, an overlay PNG per flagged image, and `summary.json` (atomically) at the end.
struct Predictor {
    let bundle: ModelBundle
    let backbone: any Backbone
    let scorer: any PatchScorer
    let threshold: PredictionSummary.Threshold
    let normalise: NormalisedScore
    let backboneWeightsDigest: String?

    /// Opens the bundle, checks the backbone weights file against its digest first, and
    /// loads the backbone and the scorer. `threshold` replaces the bundle's.
    init(bundleDirectory: URL, weights: URL?, threshold: Double?) throws {
        bundle = try ModelBundle.open(bundleDirectory)
        let weightsURL = try bundle.verifiedBackboneWeights(override: weights)
        let m = bundle.manifest
        backboneWeightsDigest = m.backbone.weightsSHA256
        backbone = try m.features.makeBackbone(weights: weightsURL)
        if let mean = m.features.mean, let std = m.features.std, mean != backbone.mean || std != backbone.std {
            throw BundleError("\(bundleDirectory.path): the bundle's normalisation (mean \(mean), std \(std)) is not the backbone's (\(backbone.mean), \(backbone.std))")
        }
        scorer = try InferStage.loadScorer(bundle.modelManifest, weights: bundle.modelWeights)
        if let threshold {
            self.threshold = .init(value: threshold, rule: "given on the command line", source: "--threshold")
            normalise = m.normalisedScore.centred(at: threshold)
        } else {
            self.threshold = .init(value: m.threshold.value, rule: m.threshold.rule, source: m.threshold.source)
            normalise = m.normalisedScore
        }
    }

    /// Scores `images` into `output`. `progress(done, total)` after every batch, `report`
    /// for each bad image. Returns the summary (also written as summary.json).
    /// `firstIndex` is the position of `images[0]` in the whole list when `images` is one
    /// shard's part of it: overlay files are numbered by that whole-list position, so the
    /// shards' overlays together are the unsharded run's.
    func run(images: [URL], firstIndex: Int = 0, output: URL, onBadImage: BadImagePolicy,
             progress: (Int, Int) -> Void = { _, _ in }, report: (String) -> Void = { _ in },
             checkCancellation: () throws -> Void = {}) throws -> PredictionSummary {
        let fm = FileManager.default
        let started = Date()
        try fm.createDirectory(at: output, withIntermediateDirectories: true)
        let overlaysDir = output.appendingPathComponent(PredictionSummary.overlaysFolder)
        try? fm.removeItem(at: overlaysDir)
        try? fm.removeItem(at: output.appendingPathComponent(PredictionSummary.file))
        try fm.createDirectory(at: overlaysDir, withIntermediateDirectories: true)
        let csv = try ScoresCSV(url: output.appendingPathComponent(PredictionSummary.scoresFile))
        let scratch = fm.temporaryDirectory.appendingPathComponent("funad-predict-\(getpid())-\(UUID().uuidString.prefix(8))")
        try fm.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fm.removeItem(at: scratch) }

        let m = bundle.manifest
        let recipe = m.features
        let side = recipe.inputSize
        let normalization = try Normalization(mean: backbone.mean, std: backbone.std)
        let rule = try InferStage.imageScoreRule(m.scoring.ruleParameters)
        // Colours compare across images: Local-Net's scores are probabilities (0…1); a
        // distance is coloured from 0 to twice the threshold.
        let colourRange: ClosedRange<Float> = bundle.modelManifest.kind == .localNet ? 0...1 : 0...Float(max(2 * threshold.value, 1e-6))
        var batches = try PreprocessedBatches(urls: images, batchSize: recipe.batchSize, preprocessor: try recipe.preprocessor(), threads: 2)
        var scored = 0, flagged = 0, overlays = 0, position = 0
        // Overlays are drawn behind the next batch's backbone and scorer; every exit waits
        // for them, so no overlay is still being written when `run` returns or throws.
        let drawer = OverlayDrawer(range: colourRange)
        defer { drawer.waitQuietly() }
        var skipped: [PredictionSummary.Skipped] = []
        var status = "complete"
        struct Clock { var decoding = 0.0, backbone = 0.0, scoring = 0.0, writing = 0.0, scorer = 0.0 }
        var clock = Clock()
        func timed<T>(_ slot: WritableKeyPath<Clock, Double>, _ body: () throws -> T) rethrows -> T {
            let t0 = Date()
            defer { clock[keyPath: slot] += Date().timeIntervalSince(t0) }
            return try body()
        }

        func summary() -> PredictionSummary {
            let seconds = Date().timeIntervalSince(started)
            return PredictionSummary(
                status: status, images: images.count, scored: scored, flagged: flagged, skipped: skipped.count, skippedImages: skipped,
                threshold: threshold, normalisedScore: normalise, normalisedScoreFormula: normalise.formula,
                model: .init(bundle: bundle.directory.path, kind: m.model.kind, modelStage: m.origin.modelStage,
                             modelSHA256: m.model.weightsSHA256, backbone: m.backbone.name, backboneWeightsSHA256: backboneWeightsDigest),
                timing: .init(started: ISO8601DateFormatter().string(from: started), seconds: seconds,
                              imagesPerSecond: seconds > 0 ? Double(scored) / seconds : 0,
                              secondsDecoding: clock.decoding, secondsBackbone: clock.backbone,
                              secondsScoring: clock.scoring, secondsWriting: clock.writing, secondsScorer: clock.scorer),
                overlays: overlays)
        }

        while let outcomes = try timed(\.decoding, { try batches.nextOutcomes() }) {
            try checkCancellation()
            let batchStart = position
            position += outcomes.count
            var good: [(index: Int, url: URL, image: ImagePlanes)] = []
            for (offset, outcome) in outcomes.enumerated() {
                let url = images[batchStart + offset]
                switch outcome {
                case .success(let image): good.append((batchStart + offset, url, image))
                case .failure(let error):
                    let reason = (error as? ImageError).map { Self.reason($0) } ?? "\(error)"
                    skipped.append(.init(path: url.path, reason: reason))
                    report("\(url.path): \(reason)")
                    if onBadImage == .fail {
                        status = "stopped at a bad image"
                        overlays = try drawer.finish()
                        try JSONFiles.write(summary(), to: output.appendingPathComponent(PredictionSummary.file))
                        throw PredictionStopped(description: "stopped at \(url.path): \(reason) (--on-bad-image fail); \(scored) images scored before it are in \(output.appendingPathComponent(PredictionSummary.scoresFile).path)")
                    }
                }
            }
            if !good.isEmpty {
                let features = try timed(\.backbone) {
                    try FeatureExtraction.forward(good.map(\.image), backbone: backbone, normalization: normalization, side: side)
                }
                let result = try timed(\.scoring) { try score(features, scratch: scratch, rule: rule) }
                clock.scorer += result.scorerSeconds
                let t0 = Date()
                var rows: [(path: String, raw: Float, normalised: Double, flagged: Bool)] = []
                var toDraw: [OverlayJob] = []
                for (i, item) in good.enumerated() {
                    let raw = result.scores[i]
                    let isFlagged = Double(raw) > threshold.value
                    rows.append((item.url.path, raw, normalise(raw), isFlagged))
                    if isFlagged {
                        let name = String(format: "%05d-%@.png", firstIndex + item.index + 1, Self.safeName(item.url))
                        toDraw.append(OverlayJob(path: item.url.path, image: item.image, map: result.maps[i], mapHeight: bundle.manifest.scoring.mapSize, mapWidth: bundle.manifest.scoring.mapSize,
                                                 file: overlaysDir.appendingPathComponent(name)))
                    }
                }
                try csv.append(rows)
                scored += good.count
                flagged += toDraw.count
                try drawer.rethrowFailure()
                drawer.submit(toDraw)
                clock.writing += Date().timeIntervalSince(t0)
            }
            progress(position, images.count)
        }
        let t0 = Date()
        overlays = try drawer.finish()
        clock.writing += Date().timeIntervalSince(t0)
        let final = summary()
        try JSONFiles.write(final, to: output.appendingPathComponent(PredictionSummary.file))
        return final
    }

    /// One batch's backbone features written to a feature file and read back (so the
    /// scorer sees the stored precision, as `infer` does), then scored with maps. The maps
    /// stay in memory (float32, the values `infer`'s map file holds at its default precision).
    private func score(_ features: BackboneFeatures, scratch: URL, rule: ImageScoreRule) throws -> (scores: [Float], maps: [[Float]], scorerSeconds: Double) {
        let featuresURL = scratch.appendingPathComponent("batch.features")
        let writer = try bundle.manifest.features.writer(at: featuresURL, backbone: backbone)
        try writer.append(features, ids: (0..<features.batch).map(String.init))
        try writer.finish()
        let source = try InferStage.scoringSource(featuresURL, manifest: bundle.modelManifest)
        let s = bundle.manifest.scoring
        var maps: [[Float]] = []
        maps.reserveCapacity(features.batch)
        let result = try Inference.run(scorer: scorer, features: source, mapSide: s.mapSize, sigma: s.sigma,
                                       writeMapsTo: nil, mapSink: { _, map in maps.append(Array(map)) }, imageScoreRule: rule)
        return (result.imageScores, maps, result.scorerSeconds)
    }

    /// One flagged image's overlay: rendered and PNG-encoded off the main thread.
    struct OverlayJob: Sendable {
        var path: String
        var image: ImagePlanes
        var map: [Float]
        /// The map's size (the scoring's `map_size`, square); resized to the image when they differ.
        var mapHeight: Int
        var mapWidth: Int
        var file: URL

        /// Renders and writes every job, `lanes` at a time; the first failure, in job
        /// order, is thrown after all have finished, so no file is left half-written by a
        /// sibling lane.
        static func drawAll(_ jobs: [OverlayJob], range: ClosedRange<Float>, lanes: Int = 2) throws {
            guard !jobs.isEmpty else { return }
            let failures = FailureSlots(count: jobs.count)
            DispatchQueue.concurrentPerform(iterations: min(lanes, jobs.count)) { lane in
                for j in stride(from: lane, to: jobs.count, by: min(lanes, jobs.count)) {
                    let job = jobs[j]
                    do {
                        let planes = try Overlay.render(name: job.path, image: job.image, mask: nil, map: job.map,
                                                                        mapHeight: job.mapHeight, mapWidth: job.mapWidth, range: range)
                        try PNGWriter.write(planes, to: job.file, fast: true)
                    } catch {
                        failures.set(j, error)
                    }
                }
            }
            if let first = failures.first { throw first }
        }
    }

    /// Draws overlays on one background thread, in submission order, while the caller
    /// goes on with the next batch (PNG encoding was a seventh of predict's time on the
    /// main thread). Failures are kept and thrown by `rethrowFailure` or `finish`.
    final class OverlayDrawer: @unchecked Sendable {
        private let queue = DispatchQueue(label: "funad.predict.overlays")
        private let group = DispatchGroup()
        private let lock = NSLock()
        private var failure: Error?
        private var drawn = 0
        let range: ClosedRange<Float>

        init(range: ClosedRange<Float>) { self.range = range }

        func submit(_ jobs: [OverlayJob]) {
            guard !jobs.isEmpty else { return }
            queue.async(group: group) { [self] in
                do {
                    try OverlayJob.drawAll(jobs, range: range, lanes: 1)
                    lock.lock(); drawn += jobs.count; lock.unlock()
                } catch {
                    lock.lock(); if failure == nil { failure = error }; lock.unlock()
                }
            }
        }

        /// Throws the first failure seen so far, without waiting.
        func rethrowFailure() throws {
            lock.lock(); defer { lock.unlock() }
            if let failure { throw failure }
        }

        /// Waits for every submitted overlay; returns how many were written or throws
        /// the first failure.
        func finish() throws -> Int {
            group.wait()
            try rethrowFailure()
            lock.lock(); defer { lock.unlock() }
            return drawn
        }

        func waitQuietly() { group.wait() }
    }

    /// Errors from concurrent lanes, by job index (each index written by one lane only).
    final class FailureSlots: @unchecked Sendable {
        private var errors: [Error?]
        private let lock = NSLock()
        init(count: Int) { errors = Array(repeating: nil, count: count) }
        func set(_ i: Int, _ e: Error) { lock.lock(); errors[i] = e; lock.unlock() }
        var first: Error? { lock.lock(); defer { lock.unlock() }; return errors.lazy.compactMap { $0 }.first }
    }

    /// The reason part of an image error (its description starts with the path).
    static func reason(_ e: ImageError) -> String {
        let d = e.description
        return d.hasPrefix(e.path + ": ") ? String(d.dropFirst(e.path.count + 2)) : d
    }

    /// A file name from an image path: the last two components, without the extension.
    static func safeName(_ url: URL) -> String {
        let parts = url.deletingPathExtension().pathComponents.suffix(2).joined(separator: "_")
        return String(parts.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }
}
