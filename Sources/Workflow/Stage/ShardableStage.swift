import Foundation

/// One part of a data-parallel stage's work: shard `index` (0-based) of `count`.
/// Written `I/N` with I from 1 on the command line (`--shard 2/4` is index 1 of 4).
public struct Shard: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, count: Int) throws {
        guard count >= 1, index >= 0, index < count else {
            throw Diagnostic("shard \(index + 1)/\(count): expected I/N with 1 ≤ I ≤ N")
        }
        self.index = index
        self.count = count
    }

    /// Parses `I/N` (1-based I), e.g. `2/4`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, i >= 1, i <= n else {
            throw Diagnostic("--shard '\(text)': expected I/N with 1 ≤ I ≤ N, e.g. 2/4")
        }
        try self.init(index: i - 1, count: n)
    }

    public var description: String { "\(index + 1)/\(count)" }

    /// The half-open range of `total` work items (images, batches) this shard takes:
    /// contiguous, in order, sizes differing by at most one, so that the shards'
    /// results concatenated in shard order are the whole stage's result in its order.
    public func range(of total: Int) -> Range<Int> {
        (index * total / count)..<((index + 1) * total / count)
    }

    /// For work laid out as consecutive parts (e.g. training then test images), each
    /// processed in groups of `groupSize` items (a backbone batch, a scorer call), this
    /// shard's contiguous run of groups across all parts (`groups` of `totalGroups`) and
    /// the item range it takes in each part. Every group of a shard is then exactly a
    /// group of the whole stage, so the work sees the same inputs in the same shapes.
    public func groupedItems(partSizes: [Int], groupSize: Int) -> (groups: Range<Int>, totalGroups: Int, items: [Range<Int>]) {
        let g = max(1, groupSize)
        let groupCounts = partSizes.map { ($0 + g - 1) / g }
        let total = groupCounts.reduce(0, +)
        let mine = range(of: total)
        var first = 0
        var items: [Range<Int>] = []
        for (size, groups) in zip(partSizes, groupCounts) {
            let lo = min(max(mine.lowerBound - first, 0), groups), hi = min(max(mine.upperBound - first, 0), groups)
            items.append(min(lo * g, size)..<min(hi * g, size))
            first += groups
        }
        return (mine, total, items)
    }
}

/// A stage whose work splits by data item into shards computed independently (on
/// different machines sharing the cache) and merged into exactly the result the stage
/// computes whole, byte for byte, stored under the stage's own cache key.
///
/// The engine stores each shard as a cache entry of its own (`CacheStore.shardKey`) and
/// hands the merge the shards' folders in shard order. A stage type opts in by
/// conforming; the engine knows nothing of what its items are.
public protocol ShardableStage: StageType {
    /// Computes `shard`'s part of the work into `context.outputDirectory`.
    func runShard(_ shard: Shard, context: StageContext) async throws
    /// Writes into `context.outputDirectory` the result `run(_:)` would write, from the
    /// shards' folders (`shards[i]` holds shard i), recording the same summary fields.
    func mergeShards(_ shards: [URL], context: StageContext) async throws
}
