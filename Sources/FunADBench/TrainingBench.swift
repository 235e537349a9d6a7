import Foundation
import FunAD

/// Timings of the training hot paths, for `funad bench train` (wired by the lead) and
/// side by side with `bench/training_reference.py` (same shapes, same thread count).
/// Inputs are seeded random data; data generation is not timed. Each function returns
/// the fastest of `repeats` runs, in seconds.
public enum TrainingBench {
    /// The paper-scale shapes: batch 32 images × 784 patches, D = 1536, bank of 100
    /// images × 784 patches, scoring pass over 209 images (MVTec bottle's train set).
    public struct Shapes: Sendable {
        public var batchImages = 32
        public var patches = 784
        public var dimension = 1536
        public var bankImages = 100
        public var scoredImages = 209
        public var hidden1 = 1024
        public var hidden2 = 128
        public init() {}
    }

    /// Names accepted by `run`, in the order `bench/training_reference.py` prints them.
    public static let names = ["step", "bank_search", "mutual", "scoring"]
    /// `names` plus "iteration" (one real trainer iteration; Swift only).
    public static let allNames = names + ["iteration"]

    /// Runs the named benchmarks (all by default) with each one's default repeat count
    /// (step 3, scoring 2, searches 1, as the Python reference).
    public static func run(_ selected: [String] = names, shapes: Shapes = .init(), threads: Int = 2) throws -> [(name: String, seconds: Double)] {
        var out: [(name: String, seconds: Double)] = []
        for name in selected {
            switch name {
            case "step": out.append((name, step(shapes: shapes, threads: threads, repeats: 3)))
            case "bank_search": out.append((name, bankSearch(shapes: shapes, threads: threads)))
            case "mutual": out.append((name, mutualPairs(shapes: shapes, threads: threads)))
            case "scoring": out.append((name, try scoring(shapes: shapes, threads: threads, repeats: 2)))
            case "iteration": out.append((name, try iteration(shapes: shapes, threads: threads).seconds))
            default: throw TrainingError("training benchmark '\(name)' does not exist; expected one of \(allNames.joined(separator: ", "))")
            }
        }
        return out
    }

    static func time(_ repeats: Int, _ body: () throws -> Void) rethrows -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }
        return best
    }

    static func randomFeatures(_ count: Int, seed: UInt64) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed)
        var v = [Float](repeating: 0, count: count)
        for i in 0..<count { v[i] = 2 * rng.nextUnitFloat() - 1 }
        return v
    }

    /// Random features with the real layout f_ij = [global ‖ local_j]: the first half of
    /// each row (the class token) is the same for all patches of an image.
    static func randomPatchFeatures(images: Int, patches: Int, dimension d: Int, seed: UInt64) -> [Float] {
        var v = randomFeatures(images * patches * d, seed: seed)
        let g = d / 2
        for i in 0..<images {
            for j in 1..<max(1, patches) {
                for k in 0..<g { v[(i * patches + j) * d + k] = v[i * patches * d + k] }
            }
        }
        return v
    }

    /// One optimisation step on a batch (features laid out as [global ‖ local_j], as real
    /// backbone features are): forward of B·P patches through φ, balanced BCE
    /// (5 % pseudo-anomalies, every 1000th patch perturbed) + λ·L_MS over B·P/4 given pairs,
    /// backward, RMSProp. (Bank search and mutual-pair search are timed separately.)
    public static func step(shapes s: Shapes = .init(), threads: Int = 2, repeats: Int = 1) -> Double {
        BLAS.threads = threads
        let rows = s.batchImages * s.patches, d = s.dimension
        let shape = LocalNetShape(dimension: d, hidden1: s.hidden1, hidden2: s.hidden2)
        var params = LocalNetParameters(pytorchDefault: shape, seed: 1)
        var optimizer = RMSProp(parameterCount: params.values.count)
        let step = TrainingStep(shape: shape, rows: rows)
        let x = randomPatchFeatures(images: s.batchImages, patches: s.patches, dimension: d, seed: 2)
        step.inputs.update(from: x, count: x.count)
        var labels = [UInt8](repeating: 0, count: rows)
        for i in stride(from: 0, to: rows, by: 20) { labels[i] = 1 }
        let perturbed = Array(stride(from: 0, to: rows, by: 1000))
        for (k, r) in perturbed.enumerated() { (step.inputs + (rows + k) * d).update(from: step.inputs + r * d, count: d) }
        let pairs = MutualPairs(first: stride(from: 0, to: rows - 1, by: 4).map { Int32($0) },
                                second: stride(from: 1, to: rows, by: 4).map { Int32($0) })
        let count = params.values.count
        return time(repeats) {
            step.forwardClean(parameters: params, rows: rows, imageRows: s.patches)
            _ = step.lossAndGradients(parameters: params, rows: rows, labels: labels, perturbedRows: perturbed,
                                      pairs: pairs, lambda: 2.5, reduction: .halfMean)
            params.values.withUnsafeMutableBufferPointer { w in
                step.gradients.withUnsafeBufferPointer { g in optimizer.step(parameters: w.baseAddress!, gradients: g.baseAddress!, count: count) }
            }
        }
    }

    /// Exact 2-NN of the batch's B·P adapted features in a bank of bankImages·P features,
    /// with self-exclusion (the batch's first image is in the bank).
    public static func bankSearch(shapes s: Shapes = .init(), threads: Int = 2, repeats: Int = 1) -> Double {
        BLAS.threads = threads
        let q = s.batchImages * s.patches, m = s.bankImages * s.patches, d = s.dimension
        let queries = randomFeatures(q * d, seed: 3)
        var bank = randomFeatures(m * d, seed: 4)
        bank.replaceSubrange(0..<(s.patches * d), with: queries[0..<(s.patches * d)])
        var excluded = [Int32](repeating: -1, count: q)
        for j in 0..<s.patches { excluded[j] = Int32(j) }
        return time(repeats) {
            _ = NearestNeighbours.topTwo(queries: queries, queryCount: q, bank: bank, bankCount: m, dimension: d, excluded: excluded)
        }
    }

    /// Mutual nearest pairs among the batch's B·P adapted features.
    public static func mutualPairs(shapes s: Shapes = .init(), threads: Int = 2, repeats: Int = 1) -> Double {
        BLAS.threads = threads
        let q = s.batchImages * s.patches, d = s.dimension
        let x = randomFeatures(q * d, seed: 5)
        return time(repeats) { _ = NearestNeighbours.mutualPairs(x, count: q, dimension: d) }
    }

    /// One real trainer iteration on the paper's schedule (bank rebuilt every iteration):
    /// scoring pass over scoredImages·P patches, bank selection and gather, bank search,
    /// pseudo-labels, mutual pairs, perturbation, step. The bank is whatever the paper
    /// policy picks from a random network (about a quarter of the images). Returns the
    /// seconds and the bank size in images. No Python counterpart: compare the parts.
    public static func iteration(shapes s: Shapes = .init(), threads: Int = 2) throws -> (seconds: Double, bankImages: Int) {
        BLAS.threads = threads
        let x = randomPatchFeatures(images: s.scoredImages, patches: s.patches, dimension: s.dimension, seed: 8)
        let grid = Int(Double(s.patches).squareRoot())
        let source = grid * grid == s.patches
            ? InMemoryPatchFeatures(imageCount: s.scoredImages, gridHeight: grid, gridWidth: grid, dimension: s.dimension, values: x)
            : InMemoryPatchFeatures(imageCount: s.scoredImages, gridHeight: 1, gridWidth: s.patches, dimension: s.dimension, values: x)
        var c = TrainerConfiguration()
        c.epochs = 1
        c.batchSize = s.batchImages
        c.hidden1 = s.hidden1
        c.hidden2 = s.hidden2
        var bankImages = 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            _ = try FunADTrainer(configuration: c).train(source: source, progress: { p in
                bankImages = p.bankImages
            }, shouldStop: { _ in true })
        } catch is TrainingCancelled {}
        return (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, bankImages)
    }

    /// The IRMB scoring pass: every one of scoredImages·P patches through φ, keeping the
    /// scores and adapted features (what the bank is built from).
    public static func scoring(shapes s: Shapes = .init(), threads: Int = 2, repeats: Int = 1) throws -> Double {
        BLAS.threads = threads
        let n = s.scoredImages * s.patches, d = s.dimension
        let net = LocalNet(parameters: LocalNetParameters(pytorchDefault: LocalNetShape(dimension: d, hidden1: s.hidden1, hidden2: s.hidden2), seed: 6))
        let x = randomPatchFeatures(images: s.scoredImages, patches: s.patches, dimension: d, seed: 7)
        var scores = [Float](repeating: 0, count: n)
        var adapted = [Float](repeating: 0, count: n * d)
        return try time(repeats) {
            try net.scoreImages(x, images: s.scoredImages, patchesPerImage: s.patches, scores: &scores, adapted: &adapted)
        }
    }
}
