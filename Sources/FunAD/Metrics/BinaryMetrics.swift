/// Threshold-free binary metrics over ranked scores (score ≥ t ⇒ anomalous), exact and
/// tie-aware: every distinct score is one threshold, so tied samples move together,
/// as in scikit-learn's `roc_curve` / `precision_recall_curve`.
package enum BinaryMetrics {
    /// Walks thresholds from the highest score down, giving cumulative (tp, fp, weight)
    /// after each distinct score and that score.
    static func descending(_ r: RankedScores, _ body: (_ tp: Int, _ fp: Int, _ weight: Double, _ score: Float) -> Bool) {
        var tp = 0, fp = 0, w = 0.0
        var i = r.keys.count - 1
        while i >= 0 {
            tp += r.positives[i]; fp += r.negatives[i]; w += r.positiveWeight[i]
            if !body(tp, fp, w, ScoreKeys.score(r.keys[i])) { return }
            i -= 1
        }
    }

    static func classCheck(_ r: RankedScores, what: String) -> String? {
        if r.positiveTotal == 0 && r.negativeTotal == 0 { return "no \(what) to score" }
        if r.positiveTotal == 0 { return "only normal \(what) (no anomalous ones): AUROC is undefined" }
        if r.negativeTotal == 0 { return "only anomalous \(what) (no normal ones): AUROC is undefined" }
        return nil
    }

    /// Area under the ROC curve by the trapezoid rule over all distinct thresholds,
    /// equal to scikit-learn's `roc_auc_score`. Computed exactly in integers:
    /// AUC = Σ Δfp·(tp_prev + tp) / (2·P·N), one rounding at the end.
    package static func auroc(_ r: RankedScores, what: String = "samples") -> MetricValue {
        if let reason = classCheck(r, what: what) { return .undefined(reason) }
        var area = 0, prevTP = 0, prevFP = 0
        descending(r) { tp, fp, _, _ in
            area += (fp - prevFP) * (tp + prevTP)
            prevTP = tp; prevFP = fp
            return true
        }
        return .defined(Double(area) / (2 * Double(r.positiveTotal) * Double(r.negativeTotal)))
    }

    /// Max over thresholds of F1 = 2·precision·recall / (precision + recall)
    /// = 2·tp / (tp + fp + P), as anomalib's F1Max on scikit-learn's precision–recall curve.
    static func f1Max(_ r: RankedScores, what: String = "samples") -> ThresholdedMetric {
        guard r.positiveTotal > 0 else {
            return ThresholdedMetric(metric: .undefined("no anomalous \(what): F1 is undefined"), threshold: nil)
        }
        var best = -1.0, bestT: Float = 0
        let p = r.positiveTotal
        descending(r) { tp, fp, _, score in
            let f1 = Double(2 * tp) / Double(tp + fp + p)
            if f1 > best { best = f1; bestT = score }
            return true
        }
        return ThresholdedMetric(metric: .defined(best), threshold: bestT)
    }

    /// ROC curve like scikit-learn's `roc_curve(drop_intermediate=True)`: starts at
    /// (0, 0) with threshold +∞, drops points collinear with both neighbours, then keeps at
    /// most `maxPoints` by even spacing in rank (first and last kept) so CSVs stay small.
    static func rocCurve(_ r: RankedScores, maxPoints: Int = 1000) -> [ROCPoint] {
        guard r.positiveTotal > 0, r.negativeTotal > 0 else { return [] }
        let P = Double(r.positiveTotal), N = Double(r.negativeTotal)
        var tps = [0], fps = [0], ths = [Float.infinity]
        descending(r) { tp, fp, _, s in tps.append(tp); fps.append(fp); ths.append(s); return true }
        // Drop points where both the fp and tp second differences are zero (sklearn's rule,
        // applied like sklearn before the (0, 0) start point is added, so index 1 is kept).
        var keep = [Int]()
        for i in tps.indices {
            if i <= 1 || i == tps.count - 1 { keep.append(i); continue }
            let d2fp = fps[i + 1] - 2 * fps[i] + fps[i - 1], d2tp = tps[i + 1] - 2 * tps[i] + tps[i - 1]
            if d2fp != 0 || d2tp != 0 { keep.append(i) }
        }
        if keep.count > maxPoints, maxPoints >= 2 {
            let step = Double(keep.count - 1) / Double(maxPoints - 1)
            keep = (0..<maxPoints).map { keep[Int((Double($0) * step).rounded())] }
        }
        return keep.map { ROCPoint(fpr: Double(fps[$0]) / N, tpr: Double(tps[$0]) / P, threshold: ths[$0]) }
    }

    /// Area under the per-region-overlap curve up to `fprLimit`, divided by `fprLimit`.
    /// Positive weights must be Σ over a region's pixels of 1/|region| and `regionCount`
    /// the number of regions, so that weight/regionCount is the mean per-region overlap.
    /// The definition followed is `EvaluationReport.auproDefinition`: the exact PRO curve
    /// (every distinct score a threshold) of MVTec AD's evaluation code, which anomalib's
    /// own AUPRO tests compare against. anomalib 1.x's `AUPRO.compute_pro` resamples each
    /// region's ROC curve onto a common index grid; on tie-free maps it agrees with this
    /// within ~2e-5 (fixture "smooth"), on heavily tied maps it drifts (0.743 vs the
    /// exact 0.763 on fixture "ties"), so the exact curve is the one implemented.
    static func aupro(_ r: RankedScores, fprLimit: Double) -> MetricValue {
        guard fprLimit > 0, fprLimit <= 1 else { return .undefined("fpr limit \(fprLimit) outside (0, 1]") }
        guard r.regionCount > 0 else { return .undefined("no anomalous regions in the ground truth: AUPRO is undefined") }
        guard r.negativeTotal > 0 else { return .undefined("no normal pixels: the FPR axis of AUPRO is undefined") }
        let N = Double(r.negativeTotal), R = Double(r.regionCount)
        var area = 0.0, x0 = 0.0, y0 = 0.0
        descending(r) { _, fp, w, _ in
            let x1 = min(1, Double(fp) / N), y1 = w / R
            if x1 <= fprLimit {
                area += 0.5 * (y0 + y1) * (x1 - x0)
                x0 = x1; y0 = y1
                return true
            }
            let yl = y0 + (y1 - y0) * (fprLimit - x0) / (x1 - x0)
            area += 0.5 * (y0 + yl) * (fprLimit - x0)
            x0 = fprLimit
            return false
        }
        return .defined(area / fprLimit)
    }
}
