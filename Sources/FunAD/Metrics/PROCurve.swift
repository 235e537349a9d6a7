/// One point of the per-region-overlap curve: at score threshold `threshold`, `fpr` of the
/// normal pixels and, on average over the ground-truth regions, `pro` of each region's
/// pixels are called anomalous.
public struct PROPoint: Sendable, Equatable {
    public var fpr: Double
    public var pro: Double
    public var threshold: Float
}

extension BinaryMetrics {
    /// The PRO curve that `aupro` integrates, for plotting: it starts at (0, 0) with
    /// threshold +∞, walks every distinct score downwards and ends exactly at
    /// `fprLimit`, where the last segment is cut by linear interpolation (as `aupro` cuts
    /// it; that point carries the score where the FPR first passes the limit). With
    /// `maxPoints` at least the number of points, the trapezoid area under the points
    /// divided by `fprLimit` is `aupro`; otherwise points are kept at even spacing in rank,
    /// first and last included, so the file stays small.
    static func proCurve(_ r: RankedScores, fprLimit: Double, maxPoints: Int = 1000) -> [PROPoint] {
        guard fprLimit > 0, fprLimit <= 1, r.regionCount > 0, r.negativeTotal > 0 else { return [] }
        let N = Double(r.negativeTotal), R = Double(r.regionCount)
        var points = [PROPoint(fpr: 0, pro: 0, threshold: .infinity)]
        descending(r) { _, fp, w, score in
            let x1 = min(1, Double(fp) / N), y1 = w / R
            if x1 <= fprLimit {
                points.append(PROPoint(fpr: x1, pro: y1, threshold: score))
                return true
            }
            let last = points[points.count - 1]
            let y = last.pro + (y1 - last.pro) * (fprLimit - last.fpr) / (x1 - last.fpr)
            points.append(PROPoint(fpr: fprLimit, pro: y, threshold: score))
            return false
        }
        if points.count > maxPoints, maxPoints >= 2 {
            let step = Double(points.count - 1) / Double(maxPoints - 1)
            points = (0..<maxPoints).map { points[Int((Double($0) * step).rounded())] }
        }
        return points
    }
}
