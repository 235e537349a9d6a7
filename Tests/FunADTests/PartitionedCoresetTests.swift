import Foundation
import Testing
@testable import FunAD

/// The greedy coreset by blocks (`PartitionedGreedy`, the patchcore stage's
/// `coreset_block`): how images are dealt and picks shared, checked by hand; the first
/// block's picks against the reference greedy run on that block's images alone; the
/// one-block case against the reference; and coverage of every cluster.
@Suite struct PartitionedCoresetTests {
    /// Seeded points around `clusters` well-separated centres; image i's patches all lie
    /// around centre (i + patch) mod clusters, so every block sees every cluster.
    func features(images: Int, p: Int, d: Int, clusters: Int, seed: UInt64) -> InMemoryPatchFeatures {
        var rng = SplitMix64(seed: seed)
        let centres = (0..<(clusters * d)).map { _ in Float(rng.nextUnit() * 200 - 100) }
        var x = [Float](repeating: 0, count: images * p * d)
        for i in 0..<images {
            for j in 0..<p {
                let c = (i + j) % clusters
                for t in 0..<d { x[(i * p + j) * d + t] = centres[c * d + t] + Float(rng.nextGaussian()) }
            }
        }
        return InMemoryPatchFeatures(imageCount: images, gridHeight: 1, gridWidth: p, dimension: d, values: x)
    }

    /// 10 images of 4 patches, blocks of ≤ 12 patches: 3 images per block, so 4 blocks
    /// dealt in turn. 13 picks of 40: shares 12·13/40 = 3.9, 3.9, 8·13/40 = 2.6, 2.6;
    /// floors 3, 3, 2, 2 (10), and the 3 left go to the largest fractions, blocks 0, 1, 2.
    @Test func dealsImagesAndSharesPicksByHand() {
        let plan = PartitionedGreedy(imageCount: 10, patchesPerImage: 4, blockPatches: 12, target: 13)
        #expect(plan.blocks == [[0, 4, 8], [1, 5, 9], [2, 6], [3, 7]])
        #expect(plan.targets == [4, 4, 3, 2])
        // Block 1's local point 5 is its second image's (5) second patch: 5 · 4 + 1.
        #expect(plan.globalIndex(5, block: 1) == 21)
        // A block smaller than one image still holds one whole image.
        let tiny = PartitionedGreedy(imageCount: 3, patchesPerImage: 4, blockPatches: 2, target: 3)
        #expect(tiny.blocks == [[0], [1], [2]] && tiny.targets == [1, 1, 1])
        // Fewer picks than blocks: some blocks take none, the total is still exact.
        let sparse = PartitionedGreedy(imageCount: 10, patchesPerImage: 4, blockPatches: 4, target: 3)
        #expect(sparse.targets.reduce(0, +) == 3 && sparse.targets == [1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func gatherTakesTheBlocksImagesInOrder() {
        let plan = PartitionedGreedy(imageCount: 5, patchesPerImage: 2, blockPatches: 4, target: 2)
        // 2 images per block → 3 blocks: [0, 3], [1, 4], [2]; k = 1, value = flat index.
        let projected = (0..<10).map(Float.init)
        #expect(plan.gather(block: 0, from: projected, dimension: 1) == [0, 1, 6, 7])
        #expect(plan.gather(block: 2, from: projected, dimension: 1) == [4, 5])
    }

    /// The random draws are the projection, then each block's anchors in block order; so
    /// block 0's picks are the reference greedy's picks on block 0's images alone.
    @Test func firstBlockIsTheReferenceGreedyOnItsImages() throws {
        let images = 24, p = 20, d = 48
        let all = features(images: images, p: p, d: d, clusters: 7, seed: 3)
        let sampler = CoresetSampler(fraction: 0.2, projectionDimension: 16, seed: 5, blockPatches: 6 * p)
        let picks = try sampler.select(from: all)
        #expect(picks.count == images * p / 5)
        #expect(Set(picks).count == picks.count)
        // 6 images per block → 4 blocks; block 0 holds images 0, 4, 8, 12, 16, 20.
        let blockImages = [0, 4, 8, 12, 16, 20]
        let plan = PartitionedGreedy(imageCount: images, patchesPerImage: p, blockPatches: 6 * p, target: picks.count)
        #expect(plan.blocks[0] == blockImages)
        var values = [Float]()
        for i in blockImages { values += all.values[(i * p * d)..<((i + 1) * p * d)] }
        let block0 = InMemoryPatchFeatures(imageCount: blockImages.count, gridHeight: 1, gridWidth: p, dimension: d, values: values)
        let alone = try CoresetSampler(fraction: Double(plan.targets[0]) / Double(blockImages.count * p) + 1e-9,
                                       projectionDimension: 16, seed: 5, search: .exhaustive).select(from: block0)
        #expect(alone.count == plan.targets[0])
        let mapped = alone.map { blockImages[$0 / p] * p + $0 % p }
        #expect(Array(picks.prefix(plan.targets[0])) == mapped)
        // Each block contributes its share, and only its own images' patches.
        var start = 0
        for b in plan.blocks.indices {
            let slice = picks[start..<(start + plan.targets[b])]
            #expect(slice.allSatisfy { plan.blocks[b].contains($0 / p) }, "block \(b)")
            start += plan.targets[b]
        }
    }

    @Test func oneBlockIsTheReference() throws {
        let all = features(images: 10, p: 16, d: 40, clusters: 5, seed: 9)
        let reference = try CoresetSampler(fraction: 0.1, projectionDimension: 16, seed: 2).select(from: all)
        let blocked = try CoresetSampler(fraction: 0.1, projectionDimension: 16, seed: 2, blockPatches: 160).select(from: all)
        #expect(blocked == reference)
        // The search inside each block never changes the picks either.
        let pruned = try CoresetSampler(fraction: 0.1, projectionDimension: 16, seed: 2, blockPatches: 48).select(from: all)
        let exhaustive = try CoresetSampler(fraction: 0.1, projectionDimension: 16, seed: 2, search: .exhaustive,
                                            blockPatches: 48).select(from: all)
        #expect(pruned == exhaustive && pruned != reference)
    }

    /// Well-separated clusters, as many picks as clusters per block at least: the union
    /// holds a patch of every cluster, as the one greedy does.
    @Test func everyClusterIsCovered() throws {
        let images = 30, p = 10, d = 24, clusters = 10
        let all = features(images: images, p: p, d: d, clusters: clusters, seed: 21)
        let picks = try CoresetSampler(fraction: 0.2, projectionDimension: 16, seed: 4, blockPatches: 50).select(from: all)
        // 5 images per block → 6 blocks of 10 picks each.
        #expect(picks.count == 60)
        let clustersHit = Set(picks.map { ($0 / p + $0 % p) % clusters })
        #expect(clustersHit.count == clusters)
    }

    /// Two rounds (`blockOversample`): the blocks pick m times their share with the same
    /// draws as one round asking for m times the target, so the final picks lie in that
    /// union; and the second round is a farthest-first greedy over the union, whose picks
    /// are pairwise at least as far apart as any union point lies from its nearest pick
    /// (the selection value never rises). Without projection (k = d) this is checked in
    /// the raw features.
    @Test func secondRoundIsAGreedyOverTheBlocksUnion() throws {
        let images = 40, p = 10, d = 12
        let all = features(images: images, p: p, d: d, clusters: 6, seed: 17)
        let twoRounds = CoresetSampler(fraction: 0.1, projectionDimension: d, seed: 8, blockPatches: 100, blockOversample: 3)
        let picks = try twoRounds.select(from: all)
        #expect(picks.count == 40 && Set(picks).count == 40)
        let union = try CoresetSampler(fraction: 0.3, projectionDimension: d, seed: 8, blockPatches: 100).select(from: all)
        #expect(union.count == 120)
        #expect(Set(picks).isSubset(of: Set(union)))
        func distance(_ a: Int, _ b: Int) -> Float {
            var s: Float = 0
            for t in 0..<d { let x = all.values[a * d + t] - all.values[b * d + t]; s += x * x }
            return s.squareRoot()
        }
        var closestPair = Float.infinity
        for i in picks.indices { for j in picks.indices where j > i { closestPair = min(closestPair, distance(picks[i], picks[j])) } }
        let farthest = union.map { u in picks.map { distance(u, $0) }.min()! }.max()!
        #expect(farthest > 0 && closestPair >= farthest * (1 - 1e-4), "picks \(closestPair) apart, a union point \(farthest) from them")
        // Every cluster is still hit; the summary names both rounds.
        #expect(Set(picks.map { ($0 / p + $0 % p) % 6 }).count == 6)
        #expect(twoRounds.summary(patchesPerImage: p, imageCount: images).hasSuffix(
            "4 blocks of ≤ 10 images (≤ 100 patches) picking 3× their share (120), then the greedy over that union"))
        #expect(throws: InferenceError.self) {
            try CoresetSampler(fraction: 0.1, seed: 0, blockPatches: 100, blockOversample: 1).select(from: all)
        }
    }

    @Test func rejectsEmptyBlocks() {
        let all = features(images: 4, p: 4, d: 8, clusters: 2, seed: 1)
        #expect(throws: InferenceError.self) { try CoresetSampler(fraction: 0.5, seed: 0, blockPatches: 0).select(from: all) }
    }
}
