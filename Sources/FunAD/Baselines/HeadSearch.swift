import Foundation

/// The mutable state and the step of `PrunedGreedy`: current distances per position and
/// per group the largest one with its holder (the position with the lowest original index
/// among equals). Owns copies of the layout's per-position and per-group values in flat
/// buffers, so that the step's workers share plain pointers.
///
/// A step for newcomer c, per group (split over `workers` contiguous group ranges; a
/// worker only writes its own groups' positions, maxima and holders):
/// 1. skip the group when its head-space ball is out of reach:
///    ((‖c_h − μ_g‖(1 − m) − r_g(1 + m)) − e_g − e_c)(1 − m) ≥ the group's largest distance;
/// 2. otherwise, per point p, a partial head distance eight coordinates at a time, stopping
///    once (partial(1 − m) − e_p − e_c)(1 − m) ≥ the point's distance (ruled out);
/// 3. the full distance `CoresetSampler.distance` for the points no bound rules out, and
///    the reference's min update. e_x is the head coordinates' rounding radius.
final class HeadSearch {
    let n: Int, k: Int, groupCount: Int, hs: Int
    let points: UnsafePointer<Float>
    let up: Float, down: Float
    let workers: Int
    let order: UnsafeMutableBufferPointer<Int32>
    let groupStart: UnsafeMutableBufferPointer<Int>
    let head: UnsafeMutableBufferPointer<Float>
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
        head = copy(layout.head); errorRadius = copy(layout.errorRadius); minDist = copy(layout.start)
        ballCentre = copy(layout.ballCentre); ballRadius = copy(layout.ballRadius); ballError = copy(layout.ballError)
        groupMax = copy([Float](repeating: 0, count: groupCount))
        holder = copy([Int](repeating: 0, count: groupCount))
        computed = copy([Int](repeating: 0, count: self.workers))
        for g in 0..<groupCount { Self.rescan(group: g, groupStart: groupStart, minDist: minDist, order: order, groupMax: groupMax, holder: holder) }
    }

    deinit {
        order.deallocate(); groupStart.deallocate(); head.deallocate(); errorRadius.deallocate(); minDist.deallocate()
        ballCentre.deallocate(); ballRadius.deallocate(); ballError.deallocate(); groupMax.deallocate()
        holder.deallocate(); computed.deallocate()
    }

    /// One greedy step: the point at position `c` joins the selected set.
    func add(centre c: Int) {
        let step = Step(search: self, centre: c)
        if workers == 1 { step.run(worker: 0, of: 1); return }
        DispatchQueue.concurrentPerform(iterations: workers) { step.run(worker: $0, of: step.workers) }
    }

    /// Position of the next pick: the largest group maximum, ties to the lowest original index.
    func argmax() -> Int {
        var best = 0
        for g in 1..<max(1, groupCount) {
            let v = groupMax[g], b = groupMax[best]
            if v > b || (v == b && order[holder[g]] < order[holder[best]]) { best = g }
        }
        return holder[best]
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

    /// The pointers one step's workers share; each worker writes only its own groups.
    struct Step: @unchecked Sendable {
        let search: HeadSearch
        let centre: Int
        var workers: Int { search.workers }

        func run(worker w: Int, of count: Int) {
            let s = search
            let (k, hs, up, down) = (s.k, s.hs, s.up, s.down)
            let invDown = 1 / down
            let c = s.points + centre * k
            let ch = UnsafePointer(s.head.baseAddress! + centre * hs)
            let ce = s.errorRadius[centre]
            var computed = 0
            for g in (s.groupCount * w / count)..<(s.groupCount * (w + 1) / count) {
                let limit = s.groupMax[g]
                guard limit > 0 else { continue }
                // 1. The group's ball in head space.
                let gap = CoresetSampler.distance(ch, s.ballCentre.baseAddress! + g * hs, k: hs)
                if ((gap * down - s.ballRadius[g] * up) - s.ballError[g] - ce) * down >= limit { continue }
                let lo = s.groupStart[g], hi = s.groupStart[g + 1]
                var holderMoved = false
                let h = s.holder[g]
                for j in lo..<hi {
                    let current = s.minDist[j]
                    guard current > 0 else { continue }
                    // 2. Partial head distance, eight coordinates at a time: ruled out once
                    // partial ≥ (current / (1 − m) + e_p + e_c) / (1 − m).
                    let threshold = (current * invDown + s.errorRadius[j] + ce) * invDown
                    let need = threshold * threshold * up
                    let row = UnsafeRawPointer(s.head.baseAddress! + j * hs), cr = UnsafeRawPointer(ch)
                    var acc: Float = 0, t = 0
                    while t < hs {
                        let diff = row.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self)
                            - cr.loadUnaligned(fromByteOffset: 4 * t, as: SIMD8<Float>.self)
                        acc += (diff * diff).sum()
                        if acc >= need { break }
                        t += 8
                    }
                    if acc >= need { continue }
                    // 3. The full distance, as the reference computes it.
                    let dist = CoresetSampler.distance(s.points + j * k, c, k: k)
                    computed += 1
                    if dist < current {
                        s.minDist[j] = dist
                        if j == h { holderMoved = true }
                    }
                }
                if holderMoved {
                    HeadSearch.rescan(group: g, groupStart: s.groupStart, minDist: s.minDist, order: s.order,
                                      groupMax: s.groupMax, holder: s.holder)
                }
            }
            s.computed[w] += computed
        }
    }
}
