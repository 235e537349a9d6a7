import Foundation
import Testing
@testable import FunAD

/// AUROC and F1-max against scikit-learn (roc_auc_score; precision_recall_curve → F1,
/// as anomalib's F1Max) on random and tie-heavy data. Tolerance 1e-9 (the issue's): the
/// Swift values are computed exactly in integers, sklearn's in float64.
@Suite struct MetricsTests {
    @Test func aurocAndF1MaxMatchScikitLearn() throws {
        let cases = try EvalFixtures.json("metrics.json")["cases"] as! [String: Any]
        #expect(cases.count == 4)
        for (name, any) in cases {
            let c = any as! [String: Any]
            let labels = EvalFixtures.ints(c["labels"]).map { $0 == 1 }
            let r = RankedScores(scores: EvalFixtures.floats(c["scores"]), labels: labels)
            let auc = try #require(BinaryMetrics.auroc(r).value)
            let f1 = BinaryMetrics.f1Max(r)
            print("\(name): AUROC \(auc) (sklearn \(EvalFixtures.double(c["auroc"]))), F1-max \(f1.metric.value!)")
            #expect(abs(auc - EvalFixtures.double(c["auroc"])) < 1e-9, "\(name)")
            #expect(abs(f1.metric.value! - EvalFixtures.double(c["f1_max"])) < 1e-9, "\(name)")
            #expect(f1.threshold == Float(EvalFixtures.double(c["f1_threshold"])), "\(name)")
            // ROC curve points as sklearn's roc_curve(drop_intermediate=True).
            let curve = BinaryMetrics.rocCurve(r, maxPoints: .max)
            let fpr = EvalFixtures.doubles(c["roc_fpr"]), tpr = EvalFixtures.doubles(c["roc_tpr"])
            #expect(curve.count == fpr.count, "\(name)")
            if curve.count == fpr.count {
                #expect(zip(curve, zip(fpr, tpr)).allSatisfy { abs($0.fpr - $1.0) < 1e-12 && abs($0.tpr - $1.1) < 1e-12 }, "\(name)")
            }
        }
    }

    /// Independent expectation on a million tie-heavy samples: AUROC = Mann–Whitney U/(P·N)
    /// with mid-ranks for ties, computed here from a comparison sort.
    @Test func aurocEqualsMannWhitneyOnAMillionTiedSamples() throws {
        var rng = SplitMix64(seed: 99)
        let n = 1_000_000
        var labels = [Bool](), scores = [Float]()
        for _ in 0..<n {
            let y = rng.nextUnit() < 0.1
            labels.append(y)
            scores.append(Float(Int(rng.nextUnit() * 1000 + (y ? 150 : 0))) / 1000)
        }
        let auc = try #require(BinaryMetrics.auroc(RankedScores(scores: scores, labels: labels)).value)
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var rankSumPos = 0.0, i = 0
        while i < n {
            var j = i
            while j + 1 < n && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let mid = Double(i + j) / 2 + 1
            for k in i...j where labels[order[k]] { rankSumPos += mid }
            i = j + 1
        }
        let p = Double(labels.filter { $0 }.count), q = Double(n) - p
        let u = (rankSumPos - p * (p + 1) / 2) / (p * q)
        #expect(abs(auc - u) < 1e-9)
    }

    @Test func singleClassIsUndefinedWithAReason() {
        let onlyNormal = RankedScores(scores: [0.1, 0.2], labels: [false, false])
        #expect(BinaryMetrics.auroc(onlyNormal, what: "images") ==
                .undefined("only normal images (no anomalous ones): AUROC is undefined"))
        #expect(BinaryMetrics.f1Max(onlyNormal, what: "images").metric.value == nil)
        let onlyAnomalous = RankedScores(scores: [0.1], labels: [true])
        #expect(BinaryMetrics.auroc(onlyAnomalous).reason == "only anomalous samples (no normal ones): AUROC is undefined")
        #expect(BinaryMetrics.f1Max(onlyAnomalous).metric == .defined(1))
        #expect(BinaryMetrics.rocCurve(onlyAnomalous).isEmpty)
    }

    @Test func scoreKeysPreserveOrderAndTieSignedZeros() {
        let values: [Float] = [-.infinity, -3e38, -1, -1e-30, -0.0, 0, 1e-30, 0.5, 1, 3e38, .infinity]
        let keys = values.map(ScoreKeys.key)
        #expect(keys[4] == keys[5])
        for i in 1..<keys.count where i != 5 { #expect(keys[i - 1] < keys[i]) }
        #expect(keys.map(ScoreKeys.score) == values.map { $0 == 0 ? 0 : $0 })
        var shuffled = keys.reversed().map { $0 }
        var payload: [UInt32]? = (0..<UInt32(keys.count)).map { $0 }
        ScoreKeys.sort(&shuffled, payload: &payload)
        #expect(shuffled == keys.sorted())
        #expect(payload!.map { keys.reversed()[Int($0)] } == shuffled)
    }

    /// sklearn's roc_curve(drop_intermediate=True) on [0.1, 0.4, 0.35, 0.8], y=[0, 0, 1, 1]
    /// (its documentation example): fpr [0, 0, 0.5, 0.5, 1], tpr [0, 0.5, 0.5, 1, 1].
    @Test func rocCurveMatchesScikitLearnDocExample() {
        let r = RankedScores(scores: [0.1, 0.4, 0.35, 0.8], labels: [false, false, true, true])
        let c = BinaryMetrics.rocCurve(r)
        #expect(c.map(\.fpr) == [0, 0, 0.5, 0.5, 1])
        #expect(c.map(\.tpr) == [0, 0.5, 0.5, 1, 1])
        #expect(c.map(\.threshold) == [.infinity, 0.8, 0.4, 0.35, 0.1])
        // Downsampling keeps the ends.
        let d = BinaryMetrics.rocCurve(r, maxPoints: 3)
        #expect(d.count == 3 && d.first == c.first && d.last == c.last)
    }

    @Test func mergingSubsetsEqualsRankingTheUnion() {
        var rng = SplitMix64(seed: 5)
        let s = (0..<400).map { _ in Float(Int(rng.nextUnit() * 30)) }
        let y = (0..<400).map { _ in rng.nextUnit() < 0.3 }
        let whole = RankedScores(scores: s, labels: y)
        let merged = RankedScores.merge(RankedScores(scores: Array(s[..<150]), labels: Array(y[..<150])),
                                        RankedScores(scores: Array(s[150...]), labels: Array(y[150...])))
        #expect(merged.keys == whole.keys && merged.positives == whole.positives && merged.negatives == whole.negatives)
    }
}

@Suite struct DecisionTests {
    /// median + 3·1.4826·MAD by hand: scores 1…9 and an outlier 100 → median 5.5,
    /// |s − 5.5| = 4.5 3.5 2.5 1.5 .5 .5 1.5 2.5 3.5 94.5 → MAD 2.5 → 5.5 + 3·1.4826·2.5.
    @Test func robustThresholdByHand() throws {
        let t = try RobustThreshold.medianMAD([1, 2, 3, 4, 5, 6, 7, 8, 9, 100])
        #expect(abs(t - (5.5 + 3 * 1.4826 * 2.5)) < 1e-12)
        // A tied majority: MAD 0 → just above the median, so the ties are not flagged.
        let tied = try RobustThreshold.medianMAD([2, 2, 2, 9])
        #expect(tied > 2 && tied < 2.00001)
        #expect(throws: EvaluationError.self) { try RobustThreshold.medianMAD([]) }
        // Logit scale: probabilities sigmoid(1…9) and a saturated 1 (logit clamped at
        // log((1 − 1e−7)/1e−7) ≈ 16.1) → logits 1…9, 16.1: median 5.5, MAD 2.5, as above.
        let sigmoid = { (x: Double) in 1 / (1 + exp(-x)) }
        let probabilities = (1...9).map { Float(sigmoid(Double($0))) } + [1]
        let onLogits = try RobustThreshold.medianMAD(probabilities, scale: .logit)
        let logitOf = { (p: Double) in log(p / (1 - p)) }
        #expect(abs(logitOf(onLogits) - (5.5 + 3 * 1.4826 * 2.5)) < 1e-4)
        #expect(try RobustThreshold.medianMAD(probabilities) > 1) // raw scale: above every possible score
        #expect(throws: EvaluationError.self) { try RobustThreshold.medianMAD([0.5, 2], scale: .logit) }
        #expect(throws: EvaluationError.self) { try RobustThreshold.medianMAD([1, .nan]) }
    }

    /// Confusion counts and rates at a threshold, by hand: flagged = {0.9, 0.8, 0.6};
    /// defective = {0.9, 0.6, 0.2} → TP 2, FP 1, FN 1, TN 2.
    @Test func decisionsByHand() throws {
        let d = try ThresholdDecisions(threshold: 0.5, scores: [0.9, 0.8, 0.6, 0.2, 0.1, 0.3],
                                       isAnomalous: [true, false, true, true, false, false])
        #expect((d.truePositives, d.falsePositives, d.falseNegatives, d.trueNegatives) == (2, 1, 1, 2))
        #expect(d.precision == 2.0 / 3 && d.recall == 2.0 / 3 && abs(d.f1! - 2.0 / 3) < 1e-15 && d.falseAlarmRate == 1.0 / 3)
        // A score equal to the threshold is not flagged; nothing flagged → F1 0, precision n/a.
        let none = try ThresholdDecisions(threshold: 0.9, scores: [0.9, 0.1], isAnomalous: [true, false])
        #expect(none.truePositives == 0 && none.precision == nil && none.f1 == 0 && none.falseAlarmRate == 0)
        #expect(throws: EvaluationError.self) { try ThresholdDecisions(threshold: 0, scores: [1], isAnomalous: []) }
    }
}
