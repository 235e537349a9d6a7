import Foundation

/// A label-free image decision threshold from the training set's own scores. The
/// training set is unlabelled and contaminated, so the rule must not be moved by the
/// defective minority: median + k · 1.4826 · MAD (1.4826 makes the MAD a consistent
/// estimate of σ for a normal distribution; with k = 3 about 0.13 % of normal scores
/// would exceed it if they were Gaussian). The same rule ships as
/// `plugins/threshold-mad.lua`.
///
/// FUN-AD's scores are probabilities (Local-Net ends in a sigmoid) and crowd against 1:
/// on MTD half the training images score above 0.9 and many at 1 in float, so the spread
/// measured on them says little and median + 3·MAD lands above 1 (nothing is ever
/// flagged). On the logit scale, log(p / (1 − p)), those scores spread out again; the rule
/// is then applied there and the threshold mapped back (`Scale.logit`).
public enum RobustThreshold {
    public static let defaultK = 3.0

    /// The scale the rule is applied on.
    public enum Scale: String, Sendable {
        /// The scores as they are (distances, e.g. PatchCore's).
        case raw
        /// logit(p), p clamped to [10⁻⁷, 1 − 10⁻⁷]: for probabilities.
        case logit
    }

    /// median + k · 1.4826 · MAD of `scores` (on `scale`, mapped back to scores). When the
    /// MAD is 0 (over half the scores are equal) the threshold is the median nudged up by
    /// one part in 10⁶ of its magnitude (or 10⁻¹² at 0), so that the tied majority is not
    /// flagged.
    public static func medianMAD(_ scores: [Float], k: Double = defaultK, scale: Scale = .raw) throws -> Double {
        guard !scores.isEmpty else { throw EvaluationError("threshold: no training scores to derive a threshold from") }
        var values = scores.map(Double.init)
        guard values.allSatisfy(\.isFinite) else { throw EvaluationError("threshold: the training scores contain NaN or infinite values") }
        if scale == .logit {
            guard values.allSatisfy({ $0 >= 0 && $0 <= 1 }) else {
                throw EvaluationError("threshold: the logit scale needs scores in [0, 1] (probabilities); these range over \(values.min()!)...\(values.max()!)")
            }
            values = values.map(logit)
        }
        let m = median(values)
        let mad = median(values.map { abs($0 - m) })
        let t = mad == 0 ? m + max(abs(m) * 1e-6, 1e-12) : m + k * 1.4826 * mad
        return scale == .logit ? 1 / (1 + exp(-t)) : t
    }

    static func logit(_ p: Double) -> Double {
        let q = min(max(p, 1e-7), 1 - 1e-7)
        return log(q / (1 - q))
    }

    /// The median (mean of the two middle values for an even count).
    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }
}

/// What flagging every image with score > threshold does on a labelled test set: the
/// confusion counts and the rates an inspector asks about.
public struct ThresholdDecisions: Sendable, Equatable, Codable {
    public var threshold: Double
    public var truePositives: Int
    public var falsePositives: Int
    public var trueNegatives: Int
    public var falseNegatives: Int

    /// Of the flagged images, the share that are defective (nil when none is flagged).
    public var precision: Double? {
        let flagged = truePositives + falsePositives
        return flagged == 0 ? nil : Double(truePositives) / Double(flagged)
    }
    /// Of the defective images, the share flagged (nil without defective images).
    public var recall: Double? {
        let positives = truePositives + falseNegatives
        return positives == 0 ? nil : Double(truePositives) / Double(positives)
    }
    /// Harmonic mean of precision and recall; 0 when nothing defective is flagged.
    public var f1: Double? {
        guard let r = recall else { return nil }
        guard let p = precision, p + r > 0 else { return 0 }
        return 2 * p * r / (p + r)
    }
    /// Of the normal images, the share flagged (nil without normal images).
    public var falseAlarmRate: Double? {
        let negatives = falsePositives + trueNegatives
        return negatives == 0 ? nil : Double(falsePositives) / Double(negatives)
    }

    /// Counts for `scores[i] > threshold` against `isAnomalous[i]`.
    public init(threshold: Double, scores: [Float], isAnomalous: [Bool]) throws {
        guard scores.count == isAnomalous.count else {
            throw EvaluationError("decisions: \(scores.count) scores for \(isAnomalous.count) labels; expected one score per image")
        }
        self.threshold = threshold
        var tp = 0, fp = 0, tn = 0, fn = 0
        for (s, a) in zip(scores, isAnomalous) {
            let flagged = Double(s) > threshold
            switch (flagged, a) {
            case (true, true): tp += 1
            case (true, false): fp += 1
            case (false, false): tn += 1
            case (false, true): fn += 1
            }
        }
        truePositives = tp; falsePositives = fp; trueNegatives = tn; falseNegatives = fn
    }

    /// One Markdown table for `metrics.md`, with how the threshold was chosen.
    public func markdown(rule: String) -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f", 100 * $0) } ?? "n/a" }
        return """
        ## Decisions at the deployment threshold

        Threshold \(String(format: "%.6g", threshold)) (\(rule)); an image is flagged when its score is above it.

        | precision % | recall % | F1 % | false-alarm rate % | flagged defective | missed defective | false alarms | correct normal |
        | --- | --- | --- | --- | --- | --- | --- | --- |
        | \(pct(precision)) | \(pct(recall)) | \(pct(f1)) | \(pct(falseAlarmRate)) | \(truePositives) | \(falseNegatives) | \(falsePositives) | \(trueNegatives) |

        """
    }
}
