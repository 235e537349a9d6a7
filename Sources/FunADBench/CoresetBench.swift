import Foundation
import FunAD

/// PatchCore's greedy coreset, the exhaustive and the pruned search on the same features in
/// one run, for `funad bench coreset`: their times, the share of distances the pruned search
/// skipped, and whether the picks are identical. Not a test: nothing here asserts.
public enum CoresetBench {
    public struct Result: Sendable {
        public var points: Int
        public var dimension: Int
        public var picks: Int
        public var groups: Int
        /// Wall seconds of `CoresetSampler.select` (projection included) per search; nil when not run.
        public var exhaustiveSeconds: Double?
        public var prunedSeconds: Double
        /// Seconds of the pruned search spent grouping the points (inside `prunedSeconds`).
        public var groupingSeconds: Double
        /// Share of the exhaustive search's n · (picks − 1) distances the pruned search skipped.
        public var prunedShare: Double
        /// Share of the projected points' variance in the pruned search's head directions.
        public var headVarianceShare: Double
        /// Picks equal, in order (nil without the exhaustive run).
        public var identical: Bool?
        /// The partitioned greedy per `--block`: its wall seconds, blocks and coverage.
        public var blocked: [Blocked] = []
        /// Coverage of the pruned (= reference) picks.
        public var coverage: Coverage?
    }

    public struct Blocked: Sendable {
        public var blockPatches: Int
        /// The second round's oversampling (`coreset_oversample`), nil for one round.
        public var oversample: Int?
        public var summary: String
        public var seconds: Double
        public var coverage: Coverage
    }

    /// How far sampled training patches lie from their nearest coreset patch (full
    /// dimension, Euclidean): the covering radius the greedy minimises, on a sample.
    public struct Coverage: Sendable {
        public var sampledPatches: Int
        public var mean: Double
        public var maximum: Double
    }

    /// Runs the pruned search and, when `reference` is set, the exhaustive one first.
    public static func run(features: some PatchFeatureSource, fraction: Double, seed: UInt64,
                           reference: Bool, blockPatches: [(patches: Int, oversample: Int?)] = []) throws -> Result {
        var exhaustivePicks: [Int]?, exhaustiveSeconds: Double?
        if reference {
            let t = try seconds { exhaustivePicks = try CoresetSampler(fraction: fraction, seed: seed, search: .exhaustive).select(from: features) }
            exhaustiveSeconds = t
        }
        let stats = CoresetStatistics()
        var picks = [Int]()
        let t = try seconds { picks = try CoresetSampler(fraction: fraction, seed: seed, search: .pruned).select(from: features, statistics: stats) }
        var result = Result(points: stats.points, dimension: features.dimension, picks: picks.count, groups: stats.groups,
                            exhaustiveSeconds: exhaustiveSeconds, prunedSeconds: t, groupingSeconds: stats.groupingSeconds,
                            prunedShare: stats.prunedShare, headVarianceShare: stats.headVarianceShare,
                            identical: exhaustivePicks.map { $0 == picks })
        if !blockPatches.isEmpty { result.coverage = try coverage(of: picks, in: features) }
        for (blockPatches, oversample) in blockPatches {
            let sampler = CoresetSampler(fraction: fraction, seed: seed, blockPatches: blockPatches, blockOversample: oversample)
            var blockedPicks = [Int]()
            let tb = try seconds { blockedPicks = try sampler.select(from: features) }
            result.blocked.append(Blocked(blockPatches: blockPatches, oversample: oversample,
                                     summary: sampler.summary(patchesPerImage: features.patchesPerImage, imageCount: features.imageCount),
                                     seconds: tb, coverage: try coverage(of: blockedPicks, in: features)))
        }
        return result
    }

    /// Images sampled for `coverage`: eight, evenly spaced (all when fewer).
    static let coverageImages = 8

    /// Distances from the patches of evenly spaced training images to the nearest of the
    /// picked patches (PatchCore's own exact search over the picked bank).
    static func coverage(of picks: [Int], in features: some PatchFeatureSource) throws -> Coverage {
        let p = features.patchesPerImage, d = features.dimension
        var buf = [Float](repeating: 0, count: p * d)
        var byImage = [Int: [Int]]()
        for flat in picks { byImage[flat / p, default: []].append(flat % p) }
        var bank = [Float](); bank.reserveCapacity(picks.count * d)
        for image in byImage.keys.sorted() {
            try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: image, into: $0.baseAddress!) }
            for patch in byImage[image]! { bank += buf[(patch * d)..<((patch + 1) * d)] }
        }
        let model = try PatchCore(bank: bank, dimension: d)
        let count = min(coverageImages, features.imageCount)
        var sum = 0.0, maximum = 0.0
        var scores = [Float](repeating: 0, count: p)
        for s in 0..<count {
            let image = s * features.imageCount / count
            try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: image, into: $0.baseAddress!) }
            try buf.withUnsafeBufferPointer { b in
                try scores.withUnsafeMutableBufferPointer { try model.scorePatches(b.baseAddress!, count: p, into: $0.baseAddress!) }
            }
            for v in scores { sum += Double(v); maximum = max(maximum, Double(v)) }
        }
        return Coverage(sampledPatches: count * p, mean: sum / Double(count * p), maximum: maximum)
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }
}

/// Seeded features with the structure of a backbone's patch features on one product:
/// a few dozen textures (cluster centres in a low-dimensional latent space, each with its
/// own spread), each image mostly one texture with patches of two others, mapped linearly
/// to `dimension` with a little isotropic noise, and a ReLU as after a CNN stage. Made one
/// image at a time from a per-image generator, so a full-size set needs no memory.
public struct ClusteredPatchFeatures: PatchFeatureSource {
    public let imageCount: Int
    public let gridHeight: Int
    public let gridWidth: Int
    public let dimension: Int
    public let latent: Int
    public let textures: Int
    public let seed: UInt64
    /// dimension × latent, then textures × latent centres and per-texture spreads.
    let map: [Float]
    let centres: [Float]
    let spreads: [Float]

    public var patchesPerImage: Int { gridHeight * gridWidth }

    public init(imageCount: Int, gridHeight: Int = 28, gridWidth: Int = 28, dimension: Int = 1432,
                latent: Int = 24, textures: Int = 40, seed: UInt64 = 14) {
        self.imageCount = imageCount; self.gridHeight = gridHeight; self.gridWidth = gridWidth
        self.dimension = dimension; self.latent = latent; self.textures = textures; self.seed = seed
        var rng = SplitMix64(seed: seed)
        let scale = 1 / Double(latent).squareRoot()
        map = (0..<(dimension * latent)).map { _ in Float(rng.nextGaussian() * scale) }
        centres = (0..<(textures * latent)).map { _ in Float(rng.nextGaussian() * 3) }
        spreads = (0..<textures).map { _ in Float(0.2 + rng.nextUnit()) }
    }

    public func patchFeatures(ofImage index: Int, into buffer: UnsafeMutablePointer<Float>) throws {
        var rng = SplitMix64.derived(seed: seed, stream: UInt64(index))
        let main = rng.nextIndex(below: textures)
        let others = [rng.nextIndex(below: textures), rng.nextIndex(below: textures)]
        let p = patchesPerImage
        var z = [Float](repeating: 0, count: p * latent)
        for j in 0..<p {
            let u = rng.nextUnit()
            let t = u < 0.8 ? main : others[u < 0.9 ? 0 : 1]
            for l in 0..<latent { z[j * latent + l] = centres[t * latent + l] + spreads[t] * Float(rng.nextGaussian()) }
        }
        // buffer (p × dimension) = z (p × latent) · mapᵀ (latent × dimension), then noise and ReLU.
        z.withUnsafeBufferPointer { zb in
            map.withUnsafeBufferPointer { mb in
                BLAS.gemm(zb.baseAddress!, mb.baseAddress!, buffer, m: p, n: dimension, k: latent, transB: true)
            }
        }
        for i in 0..<(p * dimension) { buffer[i] = max(0, buffer[i] + 0.05 * Float(rng.nextGaussian())) }
    }
}
