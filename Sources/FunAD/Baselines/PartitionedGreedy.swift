import Foundation

/// The greedy coreset by blocks: the training images are dealt into blocks of at most
/// `blockPatches` patches (image i to block i mod B, so every block samples the whole set
/// rather than one stretch of it), each block gets its share of the picks in proportion to
/// its patches, and the greedy runs on each block alone; the coreset is the union.
///
/// This is the one-round form of the partition-and-union k-centre coresets (Indyk et al.,
/// "Composable core-sets for diversity and coverage maximization", PODS 2014; Malkomes et
/// al., NeurIPS 2015): every patch is within its block's covering radius of a pick, so the
/// union covers the whole set at most as coarsely as the worst block. It is not the
/// reference's pick sequence: the cost falls from n · target distances to
/// n · target / B, and a block's projected points fit in the cache. The pick counts are
/// exact (Σ targets = target), so the bank has the size the fraction asks for.
struct PartitionedGreedy {
    let patchesPerImage: Int
    /// Image indices of each block, ascending.
    let blocks: [[Int]]
    /// Picks per block (Σ = the whole target).
    let targets: [Int]

    init(imageCount: Int, patchesPerImage p: Int, blockPatches: Int, target: Int) {
        patchesPerImage = p
        let imagesPerBlock = max(1, blockPatches / p)
        let count = (imageCount + imagesPerBlock - 1) / imagesPerBlock
        var blocks = [[Int]](repeating: [], count: count)
        for i in 0..<imageCount { blocks[i % count].append(i) }
        self.blocks = blocks
        // Shares in proportion to the blocks' sizes; the remainder goes one each to the
        // largest fractional parts, ties to the lower block.
        let n = imageCount * p
        var targets = blocks.map { $0.count * p * target / n }
        let remainders = blocks.indices.map { b in (b, (blocks[b].count * p * target) % n) }
            .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        for (b, _) in remainders.prefix(target - targets.reduce(0, +)) { targets[b] += 1 }
        self.targets = targets
    }

    /// Block b's projected points (its images' rows, in image order), n_b × k.
    func gather(block b: Int, from projected: [Float], dimension k: Int) -> [Float] {
        let rows = patchesPerImage * k
        var out = [Float](); out.reserveCapacity(blocks[b].count * rows)
        for image in blocks[b] { out += projected[(image * rows)..<((image + 1) * rows)] }
        return out
    }

    /// The flat patch index (image · P + patch) of block b's local point l.
    func globalIndex(_ l: Int, block b: Int) -> Int {
        blocks[b][l / patchesPerImage] * patchesPerImage + l % patchesPerImage
    }
}
