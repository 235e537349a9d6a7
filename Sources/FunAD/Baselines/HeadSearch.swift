import Foundation

/// The mutable state of `PrunedGreedy`: current distances per position and per group the
/// largest one with its holder (the position with the lowest original index among equals).
/// Owns copies of the layout's per-position and per-group values in flat buffers, so that
/// the workers of a catch-up share plain pointers.
///
/// Applying newcomer c to group g (`CatchUp.apply`; a worker only writes its own groups'
/// positions, maxima and holders):
/// 1. skip the group when its head-space ball is out of reach:
///    ((‖c_h − μ_g‖(1 − m) − r_g(1 + m)) − e_g − e_c)(1 − m) ≥ the group's largest distance;
/// 2. otherwise, eight points at a time, a partial head distance eight coordinates at a
///    time, a point ruled out once (partial(1 − m) − e_p − e_c)(1 − m) ≥ its distance;
/// 3. the full distance `CoresetSampler.distance` for the points no bound rules out, and
///    the reference's min update. e_x is the head coordinates' rounding radius.
final class HeadSearch {
    let n: Int, k: Int, groupCount: Int, hs: Int
    let points: UnsafePointer<Float>
    let up: Float, down: Float
    let workers: Int
    let order: UnsafeMutableBufferPointer<Int32>
    let groupStart: UnsafeMutableBufferPointer<Int>
    /// Head coordinates, per group chunk-major and eight points to a block:
    /// blocked[blockStart[g] · 8 · hs + ((chunk · blocks_g + block) · 8 + coordinate) · 8 + lane],
    /// so a pass over a group's first eight coordinates reads 32 bytes per point, and eight
    /// points are bounded at once in SIMD lanes. Padding lanes are zero.
    let blocked: UnsafeMutableBufferPointer<Float>
    let blockStart: UnsafeMutableBufferPointer<Int>
    /// The newcomers' head coordinates (row per newcomer, hs floats), in pick order.
    var newcomerHead = [Float]()
    let errorRadius: UnsafeMutableBufferPointer<Float>
    let minDist: UnsafeMutableBufferPointer<Float>
    let ballCentre: UnsafeMutableBufferPointer<Float>
    let ballRadius: UnsafeMutableBufferPointer<Float>
    let ballError: UnsafeMutableBufferPointer<Float>
    let groupMax: UnsafeMutableBufferPointer<Float>
    let holder: UnsafeMutableBufferPointer<Int>
    /// Full distances computed per worker (summed on request).
    let computed: UnsafeMutableBufferPointer<Int>

    var distancesComputed: Int { computed.reduce(0, +) }

    init(layout: GroupedPoints, points: UnsafePointer<Float>, margin m: Float, workers: Int) {
        n = layout.n; k = layout.k; groupCount = layout.groupCount; hs = layout.headStride
        self.points = points
        up = 1 + m; down = 1 - m
        self.workers = max(1, min(workers, groupCount))
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(1, a.count))
            _ = b.initialize(from: a)
            return b
        }
        order = copy(layout.order); groupStart = copy(layout.groupStart)
        var blockStart = [Int](repeating: 0, count: groupCount + 1)
        for g in 0..<groupCount { blockStart[g + 1] = blockStart[g] + (layout.groupStart[g + 1] - layout.groupStart[g] + 7) / 8 }
        let chunks = hs / 8
        // Filled in place: no second n × hs array beside the layout's.
        let blocked = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, blockStart[groupCount] * 8 * hs))
        blocked.initialize(repeating: 0)
        for g in 0..<groupCount {
            let lo = layout.groupStart[g], blocks = blockStart[g + 1] - blockStart[g], base = blockStart[g] * 8 * hs
            for j in lo..<layout.groupStart[g + 1] {
                let b = (j - lo) / 8, lane = (j - lo) % 8
                for c in 0..<chunks {
                    for t in 0..<8 { blocked[base + ((c * blocks + b) * 8 + t) * 8 + lane] = layout.head[j * hs + c * 8 + t] }
                }
            }
        }
        self.blocked = blocked; self.blockStart = copy(blockStart)
        errorRadius = copy(layout.errorRadius); minDist = copy(layout.start)
        ballCentre = copy(layout.ballCentre); ballRadius = copy(layout.ballRadius); ballError = copy(layout.ballError)
        groupMax = copy([Float](repeating: 0, count: groupCount))
        holder = copy([Int](repeating: 0, count: groupCount))
        computed = copy([Int](repeating: 0, count: self.workers))
        for g in 0..<groupCount { Self.rescan(group: g, groupStart: groupStart, minDist: minDist, order: order, groupMax: groupMax, holder: holder) }
    }

    deinit {
        order.deallocate(); groupStart.deallocate(); blocked.deallocate(); blockStart.deallocate(); errorRadius.deallocate(); minDist.deallocate()
        ballCentre.deallocate(); ballRadius.deallocate(); ballError.deallocate(); groupMax.deallocate()
        holder.deallocate(); computed.deallocate()
    }

    /// Newcomers so far (positions), and per group the first one not yet applied to it.
    private(set) var newcomers = [Int]()
    lazy var appliedUpTo = [Int](repeating: 0, count: groupCount)

    /// One greedy step: the point at position `c` joins the selected set. Applying it to
    /// the groups waits until a group could hold the next pick (`next()`).
    func add(centre c: Int) {
        newcomers.append(c)
        // Gather its head row from the blocked layout.
        var g = 0
        while groupStart[g + 1] <= c { g += 1 }
        let lo = groupStart[g], blocks = blockStart[g + 1] - blockStart[g], base = blockStart[g] * 8 * hs
        let b = (c - lo) / 8, lane = (c - lo) % 8
        for c8 in 0..<(hs / 8) {
            for t in 0..<8 { newcomerHead.append(blocked[base + ((c8 * blocks + b) * 8 + t) * 8 + lane]) }
        }
    }

    /// Position of the next pick: the largest current distance, ties to the lowest original
    /// index. A group's maximum only falls, so a group whose last exact maximum is below an
    /// exact one elsewhere cannot hold the pick and keeps its newcomers pending (a later
    /// catch-up applies them in one pass over the group, and the last ones are never applied
    /// at all). The minimum over newcomers does not depend on their order, so catching up
    /// late gives every value the exhaustive search has at this step.
    func next() -> Int {
        let t = newcomers.count
        let best = argmax()
        if appliedUpTo[best] == t { return holder[best] }
        catchUp([best])
        // Every group whose (stale) maximum reaches that exact one may hold the pick.
        let v = groupMax[best]
        let behind = (0..<groupCount).filter { appliedUpTo[$0] < t && groupMax[$0] >= v }
        catchUp(behind)
        return holder[argmax()]
    }

    /// Applies the pending newcomers to the groups, split over the workers by group.
    func catchUp(_ groups: [Int]) {
        guard !groups.isEmpty else { return }
        let t = newcomers.count
        newcomers.withUnsafeBufferPointer { nb in
          newcomerHead.withUnsafeBufferPointer { hb in
            appliedUpTo.withUnsafeMutableBufferPointer { ab in
                groups.withUnsafeBufferPointer { gb in
                    let step = CatchUp(search: self, newcomers: nb.baseAddress!, newcomerHead: hb.baseAddress!,
                                       appliedUpTo: ab.baseAddress!, groups: gb.baseAddress!, groupCount: gb.count, upTo: t)
                    let w = gb.count >= 4 ? workers : 1
                    if w == 1 { step.run(worker: 0, of: 1); return }
                    DispatchQueue.concurrentPerform(iterations: w) { step.run(worker: $0, of: w) }
                }
            }
          }
        }
    }

    /// Position of the largest group maximum, ties to the lowest original index.
    func argmax() -> Int {
        var best = 0
        for g in 1..<max(1, groupCount) {
            let v = groupMax[g], b = groupMax[best]
            if v > b || (v == b && order[holder[g]] < order[holder[best]]) { best = g }
        }
        return best
    }
    /// Recomputes a group's largest distance and its holder (lowest original index among equals).
    static func rescan(group g: Int, groupStart: UnsafeMutableBufferPointer<Int>, minDist: UnsafeMutableBufferPointer<Float>,
                       order: UnsafeMutableBufferPointer<Int32>, groupMax: UnsafeMutableBufferPointer<Float>,
                       holder: UnsafeMutableBufferPointer<Int>) {
        let lo = groupStart[g], hi = groupStart[g + 1]
        var best = lo, value = minDist[lo]
        for j in (lo + 1)..<max(lo + 1, hi) {
            let v = minDist[j]
            if v > value || (v == value && order[j] < order[best]) { value = v; best = j }
        }
        groupMax[g] = value; holder[g] = best
    }

    /// The pointers one catch-up's workers share; each worker writes only its own groups.
    struct CatchUp: @unchecked Sendable {
        let search: HeadSearch
        let newcomers: UnsafePointer<Int>
        let newcomerHead: UnsafePointer<Float>
        let appliedUpTo: UnsafeMutablePointer<Int>
        let groups: UnsafePointer<Int>
        let groupCount: Int
        let upTo: Int

        func run(worker w: Int, of count: Int) {
            let s = search
            var computed = 0
            for i in (groupCount * w / count)..<(groupCount * (w + 1) / count) {
                let g = groups[i]
                let limit = s.groupMax[g]
                if limit > 0 {
                    for idx in appliedUpTo[g]..<upTo {
                        computed += apply(newcomers[idx], head: newcomerHead + idx * s.hs, to: g, limit: limit)
                    }
                }
                appliedUpTo[g] = upTo
                HeadSearch.rescan(group: g, groupStart: s.groupStart, minDist: s.minDist, order: s.order,
                                  groupMax: s.groupMax, holder: s.holder)
            }
            s.computed[w] += computed
        }

        /// One newcomer (position `centre`, head coordinates `ch`) against group g whose
        /// values are ≤ `limit`; returns the full distances computed.
        func apply(_ centre: Int, head ch: UnsafePointer<Float>, to g: Int, limit: Float) -> Int {
            let s = search
            let (k, hs, up, down) = (s.k, s.hs, s.up, s.down)
            let invDown = 1 / down
            let c = s.points + centre * k
            let ce = s.errorRadius[centre]
            // 1. The group's ball in head space.
            let gap = CoresetSampler.distance(ch, s.ballCentre.baseAddress! + g * hs, k: hs)
            if ((gap * down - s.ballRadius[g] * up) - s.ballError[g] - ce) * down >= limit { return 0 }
            var computed = 0
            let lo = s.groupStart[g], hi = s.groupStart[g + 1]
            let blocks = s.blockStart[g + 1] - s.blockStart[g], chunks = hs / 8
            let base = s.blocked.baseAddress! + s.blockStart[g] * 8 * hs
            for b in 0..<blocks {
                // 2. Eight points at once: a lane is ruled out once its partial head distance
                // reaches (current / (1 − m) + e_p + e_c) / (1 − m); zero or padding lanes at once.
                let first = lo + b * 8, lanes = min(8, hi - first)
                var current = SIMD8<Float>(), error = SIMD8<Float>()
                if lanes == 8 {
                    current = UnsafeRawPointer(s.minDist.baseAddress! + first).loadUnaligned(as: SIMD8<Float>.self)
                    error = UnsafeRawPointer(s.errorRadius.baseAddress! + first).loadUnaligned(as: SIMD8<Float>.self)
                } else {
                    for lane in 0..<lanes { current[lane] = s.minDist[first + lane]; error[lane] = s.errorRadius[first + lane] }
                }
                let threshold = (current * invDown + error + ce) * invDown
                let need = (threshold * threshold * up).replacing(with: 0, where: current .<= 0)
                var acc = SIMD8<Float>()
                var open = acc .< need
                var chunk = 0
                while chunk < chunks && any(open) {
                    let block = UnsafeRawPointer(base + ((chunk * blocks + b) * 8) * 8)
                    for t in 0..<8 {
                        let diff = block.loadUnaligned(fromByteOffset: 32 * t, as: SIMD8<Float>.self) - SIMD8(repeating: ch[chunk * 8 + t])
                        acc += diff * diff
                    }
                    open = acc .< need
                    chunk += 1
                }
                guard any(open) else { continue }
                // 3. The full distance, as the reference computes it, and its min update.
                for lane in 0..<lanes where open[lane] {
                    let j = first + lane, current = s.minDist[j]
                    let dist = CoresetSampler.distance(s.points + j * k, c, k: k)
                    computed += 1
                    if dist < current { s.minDist[j] = dist }
                }
            }
            return computed
        }
    }
}
