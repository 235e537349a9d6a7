import Foundation

/// PatchCore's approximate greedy coreset (Roth et al. 2022, §3.2; the reference
/// `ApproximateGreedyCoresetSampler`): project features to a low dimension with a random
/// linear map, start from the mean distance to a few random anchor points, then repeatedly
/// take the point farthest from the selected set and update every point's distance to
/// the set with its distance to the newcomer. Distances are Euclidean (not squared), as
/// in the reference, because the anchor initialisation averages them.
///
/// All draws come from one `SplitMix64(seed)`, in this order: the projection matrix
/// (row-major, uniform in ±1/√D, PyTorch's default Linear init range) only when
/// D > projectionDimension, then the anchors (`nextIndex(below: N)`, redrawing repeats).
///
/// Two searches give the same picks, bit for bit (`CoresetSearch`): the exhaustive one
/// streams every projected point at each step, the pruned one (the default,
/// `PrunedGreedy`) skips the points the newcomer provably cannot bring closer.
public struct CoresetSampler: Sendable {
    public var fraction: Double
    public var projectionDimension: Int = 128
    public var startPoints: Int = 10
    public var seed: UInt64
    /// How each greedy step finds the points the newcomer moves; never changes the picks.
    public var search: CoresetSearch = .pruned
    /// At most this many patches per block of the partitioned greedy (`PartitionedGreedy`);
    /// nil, or a set no larger than one block, runs the reference's one greedy over all
    /// patches. Unlike `search`, blocks change the picks: an approximation, for speed.
    public var blockPatches: Int?
    /// With blocks: each block picks this many times its share and a second greedy over
    /// the union of their picks chooses the coreset (the two-round composable coreset,
    /// closer to the one greedy's farthest-first order). nil: one round, the union itself.
    public var blockOversample: Int?

    public init(fraction: Double, projectionDimension: Int = 128, startPoints: Int = 10, seed: UInt64,
                search: CoresetSearch = .pruned, blockPatches: Int? = nil, blockOversample: Int? = nil) {
        self.fraction = fraction; self.projectionDimension = projectionDimension
        self.startPoints = startPoints; self.seed = seed; self.search = search
        self.blockPatches = blockPatches; self.blockOversample = blockOversample
    }

    /// How the coreset was chosen, for run records: the search, and the blocks if any.
    public func summary(patchesPerImage p: Int, imageCount: Int) -> String {
        let n = p * imageCount, target = targetCount(of: n)
        let head = "greedy, \(target) of \(n) patches, \(search.rawValue) search"
        guard let blockPatches, n > blockPatches else { return head + ", one block (the reference's picks)" }
        let plan = PartitionedGreedy(imageCount: imageCount, patchesPerImage: p, blockPatches: blockPatches,
                                     target: firstRoundTarget(target, of: n))
        let blocks = ", \(plan.blocks.count) blocks of ≤ \(max(1, blockPatches / p)) images (≤ \(blockPatches) patches)"
        guard let m = blockOversample else { return head + blocks + ", union of their picks" }
        return head + blocks + " picking \(m)× their share (\(plan.targets.reduce(0, +))), then the greedy over that union"
    }

    /// Picks of the blocks' round: the target, or `blockOversample` times it (at most n).
    func firstRoundTarget(_ target: Int, of n: Int) -> Int {
        guard let m = blockOversample else { return target }
        return min(n, target.multipliedReportingOverflow(by: m).overflow ? n : target * m)
    }

    /// Number of points kept out of n: Int(n · fraction), at least 1.
    public func targetCount(of n: Int) -> Int { max(1, min(n, Int(Double(n) * fraction))) }

    /// The projection matrix (projectionDimension × D), or nil when D is small enough.
    func projection(dimension d: Int, rng: inout SplitMix64) -> [Float]? {
        guard d > projectionDimension else { return nil }
        let bound = 1 / Double(d).squareRoot()
        return (0..<(projectionDimension * d)).map { _ in Float((rng.nextUnit() * 2 - 1) * bound) }
    }

    /// The greedy's starting distances (n): each point's mean Euclidean distance to the
    /// anchors, summed in anchor order and then scaled, as the reference does. Both searches
    /// start from these exact values.
    static func anchorMeanDistances(_ points: [Float], count n: Int, dimension k: Int, anchors: [Int]) -> [Float] {
        var minDist = [Float](repeating: 0, count: n)
        var scratch = [Float](repeating: 0, count: n)
        points.withUnsafeBufferPointer { p in
            for a in anchors {
                distances(p.baseAddress!, n: n, k: k, to: a, into: &scratch)
                for i in 0..<n { minDist[i] += scratch[i] }
            }
        }
        let inv = 1 / Float(anchors.count)
        for i in 0..<n { minDist[i] *= inv }
        return minDist
    }

    /// Greedy selection on already projected points (n × k): the indices in pick order.
    /// The exhaustive reference: each step is one fused pass over the points — distance to
    /// the newcomer, min update, argmax for the next pick — split across `threads`
    /// contiguous chunks. The pass is memory-bound (n·k floats per step). Ties go to the
    /// lowest index, as np.argmax.
    static func greedy(_ points: [Float], count n: Int, dimension k: Int, anchors: [Int], select target: Int,
                       threads: Int = 2, progress: (Int) throws -> Void = { _ in }) rethrows -> [Int] {
        var minDist = anchorMeanDistances(points, count: n, dimension: k, anchors: anchors)
        var next = 0, bestD = -Float.infinity
        for i in 0..<n where minDist[i] > bestD { bestD = minDist[i]; next = i }
        let chunks = max(1, min(threads, n / 4096 + 1))
        var chunkBest = [(index: Int, value: Float)](repeating: (0, -.infinity), count: chunks)
        var picks = [Int](); picks.reserveCapacity(target)
        try points.withUnsafeBufferPointer { p in
            try minDist.withUnsafeMutableBufferPointer { md in
                try chunkBest.withUnsafeMutableBufferPointer { cb in
                    let shared = GreedyPass(points: p.baseAddress!, minDist: md.baseAddress!, best: cb.baseAddress!,
                                            n: n, k: k, chunks: chunks)
                    for step in 0..<target {
                        picks.append(next)
                        if step == target - 1 { break }
                        if picks.count % CoresetSampler.progressInterval == 0 { try progress(picks.count) }
                        shared.run(center: next)
                        var b = cb[0]
                        for c in 1..<chunks where cb[c].value > b.value { b = cb[c] }
                        next = b.index
                    }
                }
            }
        }
        return picks
    }

    /// ‖a − b‖ over k floats. The one distance both searches use: the pruned search's
    /// picks equal the exhaustive ones bit for bit only because every distance is summed
    /// in this same order (8 SIMD lanes, then the lanes' sum; serially when k % 8 ≠ 0).
    @inline(__always)
    static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, k: Int) -> Float {
        if k % 8 == 0 {
            let a8 = UnsafeRawPointer(a), b8 = UnsafeRawPointer(b)
            var acc = SIMD8<Float>()
            for t in stride(from: 0, to: k, by: 8) {
                let diff = a8.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self)
                    - b8.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self)
                acc += diff * diff
            }
            return acc.sum().squareRoot()
        }
        var s: Float = 0
        for t in 0..<k { let v = a[t] - b[t]; s += v * v }
        return s.squareRoot()
    }

    /// One fused greedy step over chunked rows; the pointers are only touched by the
    /// chunk that owns the rows, so sharing them across the concurrent workers is safe.
    struct GreedyPass: @unchecked Sendable {
        let points: UnsafePointer<Float>
        let minDist: UnsafeMutablePointer<Float>
        let best: UnsafeMutablePointer<(index: Int, value: Float)>
        let n: Int, k: Int, chunks: Int

        func run(center: Int) {
            if chunks == 1 { pass(chunk: 0, center: center); return }
            DispatchQueue.concurrentPerform(iterations: chunks) { pass(chunk: $0, center: center) }
        }

        func pass(chunk: Int, center: Int) {
            let lo = n * chunk / chunks, hi = n * (chunk + 1) / chunks
            let c = points + center * k
            var bi = lo, bv = -Float.infinity
            for i in lo..<hi {
                let m = min(minDist[i], CoresetSampler.distance(points + i * k, c, k: k))
                minDist[i] = m
                if m > bv { bv = m; bi = i }
            }
            best[chunk] = (bi, bv)
        }
    }

    /// out[i] = ‖p_i − p_j‖ over k dims.
    static func distances(_ p: UnsafePointer<Float>, n: Int, k: Int, to j: Int, into out: inout [Float]) {
        let c = p + j * k
        out.withUnsafeMutableBufferPointer { o in
            for i in 0..<n { o[i] = distance(p + i * k, c, k: k) }
        }
    }

    /// How many picks between two calls of a selection's `progress` (about 60 calls for
    /// MTD's 59,662-patch coreset): it reports them and may throw to stop (cancellation).
    static let progressInterval = 1024

    /// Selects coreset members among all patches of `features`, as flat patch indices
    /// (image · P + patch) in pick order. Only the projected features (N × 128) are held.
    /// `statistics`, when given, receives the pruned search's counts (bench and tests).
    public func select(from features: some PatchFeatureSource, statistics: CoresetStatistics? = nil,
                       progress: (_ picked: Int, _ target: Int) throws -> Void = { _, _ in }) throws -> [Int] {
        guard fraction > 0, fraction <= 1 else {
            throw InferenceError("patchcore: coreset fraction \(fraction) must be in (0, 1]")
        }
        guard startPoints > 0, projectionDimension > 0 else {
            throw InferenceError("patchcore: start points and projection dimension must be positive")
        }
        if let blockPatches, blockPatches < 1 {
            throw InferenceError("patchcore: coreset blocks of \(blockPatches) patches: expected at least 1")
        }
        if let blockOversample, blockOversample < 2 {
            throw InferenceError("patchcore: coreset oversampling \(blockOversample): expected at least 2 (unset for one round)")
        }
        let p = features.patchesPerImage, d = features.dimension
        let n = features.imageCount * p
        guard n > 0 else { throw InferenceError("patchcore: no training patches") }
        var rng = SplitMix64(seed: seed)
        let proj = projection(dimension: d, rng: &rng)
        let k = proj == nil ? d : projectionDimension
        var projected = [Float](repeating: 0, count: n * k)
        var buf = [Float](repeating: 0, count: p * d)
        for img in 0..<features.imageCount {
            try buf.withUnsafeMutableBufferPointer { try features.patchFeatures(ofImage: img, into: $0.baseAddress!) }
            if let proj {
                // projected[img] (p × k) = buf (p × d) · projᵀ (d × k)
                buf.withUnsafeBufferPointer { b in
                    proj.withUnsafeBufferPointer { w in
                        projected.withUnsafeMutableBufferPointer { out in
                            BLAS.gemm(b.baseAddress!, w.baseAddress!, out.baseAddress! + img * p * k, m: p, n: k, k: d, transB: true)
                        }
                    }
                }
            } else {
                projected.replaceSubrange((img * p * k)..<((img + 1) * p * k), with: buf)
            }
        }
        let target = targetCount(of: n)
        if let blockPatches, n > blockPatches {
            let first = firstRoundTarget(target, of: n)
            let plan = PartitionedGreedy(imageCount: features.imageCount, patchesPerImage: p, blockPatches: blockPatches,
                                         target: first)
            // Progress counts both rounds' picks: the blocks' `first`, then the final `target`.
            let total = blockOversample == nil ? target : first + target
            var picks = [Int](); picks.reserveCapacity(first)
            for b in plan.blocks.indices where plan.targets[b] > 0 {
                var block = plan.gather(block: b, from: projected, dimension: k)
                let done = picks.count
                let local = try greedy(&block, count: plan.blocks[b].count * p, dimension: k, rng: &rng,
                                       select: plan.targets[b], statistics: nil, progress: { try progress(done + $0, total) })
                picks += local.map { plan.globalIndex($0, block: b) }
                try progress(picks.count, total)
            }
            guard blockOversample != nil else { return picks }
            // Second round: the greedy over the union's projected points, in patch order.
            let union = picks.sorted()
            var merged = [Float](repeating: 0, count: union.count * k)
            for (row, flat) in union.enumerated() {
                merged.replaceSubrange((row * k)..<((row + 1) * k), with: projected[(flat * k)..<((flat + 1) * k)])
            }
            projected = []
            let local = try greedy(&merged, count: union.count, dimension: k, rng: &rng, select: target, statistics: nil,
                                   progress: { try progress(first + $0, total) })
            return local.map { union[$0] }
        }
        return try greedy(&projected, count: n, dimension: k, rng: &rng, select: target, statistics: statistics,
                          progress: { try progress($0, target) })
    }

    /// The greedy over n projected points with this sampler's search: the anchors come
    /// from `rng` (distinct, `startPoints` of them at most), then `target` picks.
    func greedy(_ projected: inout [Float], count n: Int, dimension k: Int, rng: inout SplitMix64, select target: Int,
                statistics: CoresetStatistics?, progress: (Int) throws -> Void) throws -> [Int] {
        var anchors = [Int]()
        let anchorCount = min(startPoints, n)
        while anchors.count < anchorCount {
            let a = rng.nextIndex(below: n)
            if !anchors.contains(a) { anchors.append(a) }
        }
        switch search {
        case .exhaustive:
            return try Self.greedy(projected, count: n, dimension: k, anchors: anchors, select: target, progress: progress)
        case .pruned:
            return try PrunedGreedy.select(&projected, count: n, dimension: k, anchors: anchors, select: target,
                                           statistics: statistics, progress: progress)
        }
    }
}

/// How the greedy coreset finds, at each step, the points whose distance to the selected
/// set the newcomer lowers. Both give the same picks bit for bit; only the time differs.
public enum CoresetSearch: String, Sendable, CaseIterable {
    /// Every point's distance to every newcomer (the reference; n·k floats read per step).
    case exhaustive
    /// Points grouped around centres; groups and points that the triangle inequality shows
    /// cannot come closer are skipped (`PrunedGreedy`).
    case pruned
}
