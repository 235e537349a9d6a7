import Foundation
import FunAD

/// Timings of the evaluation area's hot paths on synthetic, seeded data, for
/// `funad bench eval`. bench/eval_bench.py runs the same work in PyTorch / SciPy /
/// scikit-learn for the ratio. Not a test: nothing here asserts.
public enum EvalBench {
    public struct Measurement: Sendable {
        public var name: String
        /// Best of `repeats` wall-clock runs.
        public var seconds: Double
        /// What was measured, with sizes.
        public var detail: String
    }

    static func time(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return best
    }

    static func randoms(_ n: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit()) }
    }

    /// A requested row that `run` does not measure.
    public struct UnknownRow: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "eval benchmark '\(name)' does not exist; expected one of \(EvalBench.names.joined(separator: ", "))" }
    }

    /// Row names in the order `run` measures them (bench/eval_bench.py and
    /// bench/knn_reference.py emit the same names).
    public static let names = ["anomaly_map", "pixel_auroc", "evaluate", "patchcore_score", "inference_patchcore", "coreset", "bank_knn"]

    /// Sizes of the measured work.
    /// - images: test images for the map and metric timings (224×224 maps).
    /// - bankSize, dimension: PatchCore bank for the nearest-neighbour timing (784 queries).
    /// - coresetPatches: training patches for the coreset timing (10 %, 128-d projection).
    /// - knnQueries, knnBank: the larger exact search (`bank_knn`): four test images' patches
    ///   against a 100-image bank by default, about 0.75 TFLOP of distance products, so that
    ///   one run takes seconds and the comparison with faiss is not lost in call overheads.
    public struct Sizes: Sendable {
        public var images = 100
        public var bankSize = 16384
        public var dimension = 1536
        public var coresetPatches = 39200
        public var knnQueries = 3136
        public var knnBank = 78400
        public init() {}
    }

    /// Measures the rows in `only` (all of `names` when nil), in the order of `names`.
    /// Every row is the best of `repeats` runs except `evaluate`, `inference_patchcore`,
    /// `coreset` and `bank_knn`, which run once (each takes seconds; `bench/run-all`
    /// repeats whole runs instead).
    public static func run(sizes: Sizes = .init(), repeats: Int = 3, only: Set<String>? = nil) throws -> [Measurement] {
        if let only, let bad = only.first(where: { !names.contains($0) }) {
            throw UnknownRow(name: bad)
        }
        func wanted(_ name: String) -> Bool { only?.contains(name) ?? true }
        let images = sizes.images, bankSize = sizes.bankSize, dimension = sizes.dimension
        var out = [Measurement]()
        let side = 224, n = side * side

        // 1. Anomaly map: 28×28 → bilinear 224×224 → Gaussian σ = 4.
        if wanted("anomaly_map") {
            let maker = AnomalyMapMaker(gridHeight: 28, gridWidth: 28)
            let grid = randoms(784, seed: 1)
            var map = [Float](repeating: 0, count: n)
            let tMap = time(repeats: repeats) {
                grid.withUnsafeBufferPointer { g in
                    map.withUnsafeMutableBufferPointer { m in
                        for _ in 0..<10 { maker.makeMap(scores: g.baseAddress!, into: m.baseAddress!) }
                    }
                }
            } / 10
            out.append(Measurement(name: "anomaly_map", seconds: tMap, detail: "one 28×28 grid → 224×224 bilinear → Gaussian σ=4"))
        }

        // 2. Pixel AUROC over images × 224² pixels (30 % anomalous images, blob masks).
        var scores = [Float](), labels = [Bool]()
        if wanted("pixel_auroc") || wanted("evaluate") {
            var rng = SplitMix64(seed: 2)
            scores.reserveCapacity(images * n); labels.reserveCapacity(images * n)
            for i in 0..<images {
                let anomalous = i % 3 == 0
                for p in 0..<n {
                    let y = anomalous && (p / side) % 64 < 16 && (p % side) % 64 < 16
                    labels.append(y)
                    scores.append(Float(rng.nextUnit()) + (y ? 0.3 : 0))
                }
            }
        }
        if wanted("pixel_auroc") {
            var auc = 0.0
            let tAUC = time(repeats: repeats) {
                auc = BinaryMetrics.auroc(RankedScores(scores: scores, labels: labels)).value ?? .nan
            }
            out.append(Measurement(name: "pixel_auroc", seconds: tAUC, detail: "\(images * n) pixels, exact (AUROC \(String(format: "%.6f", auc)))"))
        }

        // 3. Full evaluate(): overall + 2 defect types, pixel AUROC, AUPRO, F1-max.
        if wanted("evaluate") {
            let samples = (0..<images).map { i -> EvaluationSample in
                let anomalous = i % 3 == 0
                let mask = anomalous ? ImagePlanes(width: side, height: side, channels: 1,
                                                   data: (0..<n).map { labels[i * n + $0] ? 1 : 0 }) : nil
                return EvaluationSample(name: "img\(i)", defectType: i % 2 == 0 ? "a" : "b", isAnomalous: anomalous, mask: mask)
            }
            let maps = InMemoryMaps(height: side, width: side, maps: (0..<images).map { Array(scores[($0 * n)..<(($0 + 1) * n)]) })
            let imageScores = randoms(images, seed: 3)
            let tEval = try time(repeats: 1) {
                _ = try Evaluation.evaluate(samples: samples, imageScores: imageScores, maps: maps)
            }
            out.append(Measurement(name: "evaluate", seconds: tEval, detail: "\(images) images of 224², overall + 2 types: AUROC, AUPRO, F1-max"))
        }

        // 4. PatchCore scoring: one image's 784 patches against the bank.
        if wanted("patchcore_score") || wanted("inference_patchcore") {
            let model = try PatchCore(bank: randoms(bankSize * dimension, seed: 4), dimension: dimension)
            if wanted("patchcore_score") {
                let queries = randoms(784 * dimension, seed: 5)
                var s = [Float](repeating: 0, count: 784)
                let tNN = try time(repeats: repeats) {
                    try queries.withUnsafeBufferPointer { q in
                        try s.withUnsafeMutableBufferPointer { try model.scorePatches(q.baseAddress!, count: 784, into: $0.baseAddress!) }
                    }
                }
                out.append(Measurement(name: "patchcore_score", seconds: tNN, detail: "784 × \(dimension) queries vs bank \(bankSize) × \(dimension), exact nearest distance"))
            }

            // 5. End-to-end inference with PatchCore: features → patch scores → image score +
            //    map written to a map file; images per second.
            if wanted("inference_patchcore") {
                let inferImages = 8
                let testFeatures = InMemoryPatchFeatures(imageCount: inferImages, gridHeight: 28, gridWidth: 28, dimension: dimension,
                                                         values: randoms(inferImages * 784 * dimension, seed: 8))
                let mapURL = FileManager.default.temporaryDirectory.appendingPathComponent("funad-evalbench-\(UUID().uuidString).maps")
                defer { try? FileManager.default.removeItem(at: mapURL) }
                let tInfer = try time(repeats: 1) {
                    _ = try Inference.run(scorer: model, features: testFeatures, writeMapsTo: mapURL)
                }
                out.append(Measurement(name: "inference_patchcore", seconds: tInfer / Double(inferImages),
                                       detail: "per image: 784 × \(dimension) features vs bank \(bankSize), max + 224² map to file (\(String(format: "%.1f", Double(inferImages) / tInfer)) images/s)"))
            }
        }

        // 6. Coreset selection: 10 % of the training patches, 128-d projection.
        if wanted("coreset") {
            let imagesForCoreset = max(1, sizes.coresetPatches / 784)
            let feats = InMemoryPatchFeatures(imageCount: imagesForCoreset, gridHeight: 28, gridWidth: 28, dimension: dimension,
                                              values: randoms(imagesForCoreset * 784 * dimension, seed: 6))
            let sampler = CoresetSampler(fraction: 0.1, seed: 7)
            let tCore = try time(repeats: 1) { _ = try sampler.select(from: feats) }
            out.append(Measurement(name: "coreset", seconds: tCore, detail: "10 % of \(imagesForCoreset * 784) patches × \(dimension), projected to 128"))
        }

        // 7. The larger exact search, through PatchCore's own (exact) bank search: what the
        //    faiss IndexFlatL2 reference does in bench/knn_reference.py. Building the bank
        //    (norms) is not timed, as adding to the faiss index is not.
        if wanted("bank_knn") {
            let model = try PatchCore(bank: randoms(sizes.knnBank * dimension, seed: 9), dimension: dimension)
            let queries = randoms(sizes.knnQueries * dimension, seed: 10)
            var s = [Float](repeating: 0, count: sizes.knnQueries)
            let t = try time(repeats: 1) {
                try queries.withUnsafeBufferPointer { q in
                    try s.withUnsafeMutableBufferPointer { try model.scorePatches(q.baseAddress!, count: sizes.knnQueries, into: $0.baseAddress!) }
                }
            }
            let tflop = 2 * Double(sizes.knnQueries) * Double(sizes.knnBank) * Double(dimension) / 1e12
            out.append(Measurement(name: "bank_knn", seconds: t,
                                   detail: "exact 1-NN of \(sizes.knnQueries) × \(dimension) queries in a \(sizes.knnBank)-row bank (\(String(format: "%.2f", tflop)) TFLOP of products, \(String(format: "%.0f", tflop * 1e3 / t)) GFLOP/s)"))
        }
        return out
    }
}
