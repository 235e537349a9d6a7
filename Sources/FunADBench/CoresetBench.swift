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
    }

    /// Runs the pruned search and, when `reference` is set, the exhaustive one first.
    public static func run(features: some PatchFeatureSource, fraction: Double, seed: UInt64,
                           reference: Bool) throws -> Result {
        var exhaustivePicks: [Int]?, exhaustiveSeconds: Double?
        if reference {
            let t = try seconds { exhaustivePicks = try CoresetSampler(fraction: fraction, seed: seed, search: .exhaustive).select(from: features) }
            exhaustiveSeconds = t
        }
        let stats = CoresetStatistics()
        var picks = [Int]()
        let t = try seconds { picks = try CoresetSampler(fraction: fraction, seed: seed, search: .pruned).select(from: features, statistics: stats) }
        return Result(points: stats.points, dimension: features.dimension, picks: picks.count, groups: stats.groups,
                      exhaustiveSeconds: exhaustiveSeconds, prunedSeconds: t, groupingSeconds: stats.groupingSeconds,
                      prunedShare: stats.prunedShare, headVarianceShare: stats.headVarianceShare, identical: exhaustivePicks.map { $0 == picks })
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
