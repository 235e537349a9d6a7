import Foundation

/// Counts from one pruned greedy coreset run: how much of the exhaustive search's work it
/// did. A class so that `CoresetSampler.select` can fill it through an optional parameter.
public final class CoresetStatistics {
    /// Projected points (n) and groups they were split into.
    public internal(set) var points = 0
    public internal(set) var groups = 0
    /// Picks made; the exhaustive search computes n distances for every pick but the last.
    public internal(set) var picks = 0
    /// Distances to a newcomer the pruned search computed.
    public internal(set) var distancesComputed = 0
    /// Wall seconds of the grouping (k-means, sort, reorder) inside the selection.
    public internal(set) var groupingSeconds = 0.0
    /// True when the exhaustive search ran instead: the input held values the bounds cannot
    /// trust (non-finite or beyond ±1e15), or too little of its variance lies in the head
    /// directions for the bound to pay (`headVarianceShare` below 0.8).
    public internal(set) var fellBack = false
    /// Share of the projected points' variance in the head directions the bound uses.
    public internal(set) var headVarianceShare = 0.0

    public init() {}

    /// Distances the exhaustive search computes for the same picks: n · (picks − 1).
    public var exhaustiveDistances: Int { points * max(0, picks - 1) }
    /// Share of the exhaustive search's distances that were skipped.
    public var prunedShare: Double {
        exhaustiveDistances == 0 ? 0 : 1 - Double(distancesComputed) / Double(exhaustiveDistances)
    }
}

/// The pruned greedy coreset search: the picks of `CoresetSampler.greedy`, bit for bit,
/// computing far fewer full distances.
///
/// The greedy spends its time on ‖p − c‖ for every point p and newcomer c, only to find
/// that almost no point comes closer (late in a run, about one in a thousand). The pruned
/// search rules points out with lower bounds that are much cheaper than the distance:
/// - per point, a partial distance over the leading principal directions (`CoresetHead`),
///   eight at a time, stopping as soon as it reaches the point's current distance (on
///   MTD's features 8 directions rule out about half the points, 64 all but 0.2 %);
/// - per group of points (`CoresetGrouping`, stored contiguously: `GroupedPoints`), the
///   same bound through the group's ball in head space, which skips whole groups;
/// - per group, lazily: a group's largest distance only falls, so a newcomer is applied
///   to a group only once the group could hold the next pick (`HeadSearch.next()`).
/// Only the points no bound rules out get the full distance, through
/// `CoresetSampler.distance` on the same floats as the reference, so every updated value
/// equals the reference's bit for bit. The next pick is the largest of the per-group
/// maxima, ties to the lowest original index, as in the reference.
///
/// Each bound is shrunk by a relative margin (`margin(dimension:)`, far above the float
/// rounding of the distances involved) and by the head coordinates' rounding radius, so no
/// ruled-out point could have changed. Inputs with non-finite values or values beyond
/// ±1e15 (where squares could overflow) run the reference instead.
enum PrunedGreedy {
    /// Relative slack in every bound: (k + 16) · 8 · ulp(1). A float distance over k
    /// terms is within about (k/8 + 10) · 2⁻²⁴ (SIMD path) or (k + 3) · 2⁻²⁴ (serial path)
    /// of the true one; a bound combines a few of them.
    static func margin(dimension k: Int) -> Float { Float(k + 16) * 8 * Float.ulpOfOne }

    /// Below this share of the variance in the head directions the exhaustive search runs:
    /// MTD's features hold 0.95 in 64 of 128, uniform noise about 0.6.
    static let minimumVarianceShare = 0.8

    /// Points per group when the caller does not choose.
    static let defaultGroupSize = 128

    /// Greedy selection on projected points (n × k), the same picks as
    /// `CoresetSampler.greedy(points, …)`. Reorders `points` in place (group order) to
    /// avoid a second copy of the n × k floats; the caller must not rely on their order.
    static func select(_ points: inout [Float], count n: Int, dimension k: Int, anchors: [Int], select target: Int,
                       groups requested: Int? = nil, threads: Int = 2, statistics: CoresetStatistics? = nil,
                       progress: (Int) throws -> Void = { _ in }) rethrows -> [Int] {
        statistics?.points = n
        guard points.allSatisfy({ $0.isFinite && abs($0) < 1e15 }) else {
            statistics?.fellBack = true
            let picks = try CoresetSampler.greedy(points, count: n, dimension: k, anchors: anchors, select: target, threads: threads,
                                                  progress: progress)
            statistics?.picks = picks.count
            statistics?.distancesComputed = n * max(0, picks.count - 1)
            return picks
        }
        let start = CoresetSampler.anchorMeanDistances(points, count: n, dimension: k, anchors: anchors)
        var first = 0, bestD = -Float.infinity
        for i in 0..<n where start[i] > bestD { bestD = start[i]; first = i }
        statistics?.picks = target
        if target <= 1 { return [first] }

        let clock = ContinuousClock.now
        let head = points.withUnsafeBufferPointer { CoresetHead(points: $0.baseAddress!, count: n, dimension: k) }
        statistics?.headVarianceShare = head.varianceShare
        // Nearly isotropic points (e.g. uniform noise): the head bound rules out too little
        // to pay for itself, so the reference runs (same picks either way).
        if head.varianceShare < minimumVarianceShare {
            statistics?.fellBack = true
            let picks = try CoresetSampler.greedy(points, count: n, dimension: k, anchors: anchors, select: target, threads: threads,
                                                  progress: progress)
            statistics?.distancesComputed = n * max(0, picks.count - 1)
            return picks
        }
        // The layout's arrays are copied into the search and freed before the steps.
        var position = [Int32](), order = [Int32]()
        let search: HeadSearch = points.withUnsafeMutableBufferPointer { buf in
            let layout = GroupedPoints(points: buf.baseAddress!, count: n, dimension: k,
                                       groups: requested ?? max(1, n / defaultGroupSize), start: start, head: head)
            layout.reorder(buf)
            position = layout.position; order = layout.order
            statistics?.groups = layout.groupCount
            return HeadSearch(layout: layout, points: buf.baseAddress!, margin: margin(dimension: k),
                              workers: n >= 16_384 ? max(1, threads) : 1)
        }
        let elapsed = ContinuousClock.now - clock
        statistics?.groupingSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18

        var picks = [first]; picks.reserveCapacity(target)
        var next = first
        for _ in 1..<target {
            search.add(centre: Int(position[next]))
            next = Int(order[search.next()])
            picks.append(next)
            if picks.count % CoresetSampler.progressInterval == 0 { try progress(picks.count) }
        }
        let computed = search.distancesComputed
        statistics?.distancesComputed = computed
        return picks
    }
}

/// The grouped layout of the points: the order (position → original index), per position
/// the head coordinates, their rounding radius and the starting distance; per group its
/// position range and its ball in head space (centre, radius, largest rounding radius).
struct GroupedPoints {
    let n: Int, k: Int
    let groupCount: Int
    /// Head dimensions and row stride of `head`.
    let headDimension: Int, headStride: Int
    /// Original index of the point stored at each position, and the reverse.
    let order: [Int32]
    let position: [Int32]
    /// groupStart[g]..<groupStart[g + 1] are group g's positions (original order inside).
    let groupStart: [Int]
    /// Per position: head coordinates (n × headStride), rounding radius, starting distance.
    let head: [Float]
    let errorRadius: [Float]
    let start: [Float]
    /// Per group: head-space centre (groupCount × headStride), radius, largest rounding radius.
    let ballCentre: [Float]
    let ballRadius: [Float]
    let ballError: [Float]

    init(points p: UnsafePointer<Float>, count n: Int, dimension k: Int, groups: Int, start: [Float],
         head: CoresetHead? = nil) {
        self.n = n; self.k = k
        let projection = head ?? CoresetHead(points: p, count: n, dimension: k)
        let hs = projection.stride
        headDimension = projection.dimension; headStride = hs
        let grouping = projection.coordinates.withUnsafeBufferPointer {
            CoresetGrouping.make($0.baseAddress!, count: n, dimension: hs, groups: groups)
        }
        let g = grouping.count
        groupCount = g
        var groupStart = [Int](repeating: 0, count: g + 1)
        for i in 0..<n { groupStart[Int(grouping.assignment[i]) + 1] += 1 }
        for c in 0..<g { groupStart[c + 1] += groupStart[c] }
        var order = [Int32](repeating: 0, count: n)
        var fill = Array(groupStart.dropLast())
        for i in 0..<n {
            let c = Int(grouping.assignment[i])
            order[fill[c]] = Int32(i); fill[c] += 1
        }
        var position = [Int32](repeating: 0, count: n)
        for pos in 0..<n { position[Int(order[pos])] = Int32(pos) }
        var head = [Float](repeating: 0, count: n * hs)
        for pos in 0..<n {
            let i = Int(order[pos])
            for t in 0..<hs { head[pos * hs + t] = projection.coordinates[i * hs + t] }
        }
        let errorRadius = order.map { projection.errorRadius[Int($0)] }
        // Balls: the mean of the members' head coordinates, the largest float distance to it.
        var ballCentre = [Float](repeating: 0, count: g * hs)
        var ballRadius = [Float](repeating: 0, count: g)
        var ballError = [Float](repeating: 0, count: g)
        head.withUnsafeBufferPointer { hb in
            for c in 0..<g {
                let lo = groupStart[c], hi = groupStart[c + 1]
                var sums = [Double](repeating: 0, count: hs)
                for pos in lo..<hi { for t in 0..<hs { sums[t] += Double(hb[pos * hs + t]) } }
                for t in 0..<hs { ballCentre[c * hs + t] = Float(sums[t] / Double(hi - lo)) }
                ballCentre.withUnsafeBufferPointer { cb in
                    for pos in lo..<hi {
                        ballRadius[c] = max(ballRadius[c], CoresetSampler.distance(hb.baseAddress! + pos * hs, cb.baseAddress! + c * hs, k: hs))
                        ballError[c] = max(ballError[c], errorRadius[pos])
                    }
                }
            }
        }
        self.order = order; self.position = position; self.groupStart = groupStart
        self.head = head; self.errorRadius = errorRadius
        self.start = order.map { start[Int($0)] }
        self.ballCentre = ballCentre; self.ballRadius = ballRadius; self.ballError = ballError
    }

    /// Moves the rows of `points` (n × k) into position order, following the permutation's
    /// cycles with one spare row (no second n × k buffer).
    func reorder(_ points: UnsafeMutableBufferPointer<Float>) {
        var done = [Bool](repeating: false, count: n)
        var spare = [Float](repeating: 0, count: k)
        do {
            let p = points.baseAddress!
            spare.withUnsafeMutableBufferPointer { sp in
                let tmp = sp.baseAddress!
                for s in 0..<n where !done[s] {
                    done[s] = true
                    if Int(order[s]) == s { continue }
                    tmp.update(from: p + s * k, count: k)
                    var dst = s
                    while true {
                        let src = Int(order[dst])
                        done[dst] = true
                        if src == s { (p + dst * k).update(from: tmp, count: k); break }
                        (p + dst * k).update(from: p + src * k, count: k)
                        dst = src
                    }
                }
            }
        }
    }
}
