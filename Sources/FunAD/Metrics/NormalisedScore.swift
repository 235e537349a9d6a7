import Foundation

/// A raw image score mapped to [0, 1] with 0.5 at the decision threshold, so an inspector
/// reads "0.93" instead of "13.6 against a threshold of 11.2". Built from the unlabelled
/// training images' scores only, on the same scale as the label-free threshold rule
/// (`RobustThreshold`):
///
///     normalised(s) = 1 / (1 + exp(−(g(s) − g(t)) / w)),   w = 1.4826 · MAD(g(training scores))
///
/// g is the identity (`raw`) or the logit (`logit`, for FUN-AD's probabilities), t the
/// decision threshold. One robust standard deviation above the threshold reads 0.73, two
/// read 0.88; a score exactly at the threshold reads 0.5, so `normalised > 0.5` is the
/// decision `s > t`. The MAD is not moved by the defective minority of a contaminated
/// training set. When it is 0 (over half the training scores tie) the standard deviation
/// is used, and when that is 0 too, w = 1.
public struct NormalisedScore: Sendable, Equatable, Codable {
    /// "raw" or "logit" (`RobustThreshold.Scale`).
    public var scale: String
    /// The decision threshold t, on the scores' own scale.
    public var threshold: Double
    /// w: the spread the distance to the threshold is divided by, on the g scale.
    public var spread: Double
    /// How `spread` was obtained ("1.4826·MAD", or a fallback).
    public var spreadRule: String
    /// Median of g(training scores), for reference.
    public var trainingMedian: Double
    public var trainingImages: Int

    /// The formula in words, for summaries and reports.
    public var formula: String {
        let g = scale == RobustThreshold.Scale.logit.rawValue ? "logit(s)" : "s"
        return "1 / (1 + exp(-(g(s) - g(t)) / w)) with g(s) = \(g), t = \(threshold), w = \(spreadRule) of g(training image scores) = \(spread); 0.5 is the threshold"
    }

    public init(threshold: Double, trainingScores: [Float], scale: RobustThreshold.Scale) throws {
        guard !trainingScores.isEmpty else { throw EvaluationError("normalised score: no training scores to measure the spread on") }
        let g = trainingScores.map { Self.transform(Double($0), scale) }
        guard g.allSatisfy(\.isFinite) else { throw EvaluationError("normalised score: the training scores contain NaN or infinite values") }
        let m = RobustThreshold.median(g)
        let mad = RobustThreshold.median(g.map { abs($0 - m) })
        if mad > 0 {
            spread = 1.4826 * mad
            spreadRule = "1.4826·MAD"
        } else {
            let mean = g.reduce(0, +) / Double(g.count)
            let sd = (g.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(g.count)).squareRoot()
            (spread, spreadRule) = sd > 0 ? (sd, "standard deviation (the MAD is 0)") : (1, "1 (the training scores are all equal)")
        }
        self.scale = scale.rawValue
        self.threshold = threshold
        trainingMedian = m
        trainingImages = g.count
    }

    /// The same spread around another threshold (e.g. one given on the command line).
    public func centred(at threshold: Double) -> NormalisedScore {
        var copy = self
        copy.threshold = threshold
        return copy
    }

    public func callAsFunction(_ score: Float) -> Double {
        let s = RobustThreshold.Scale(rawValue: scale) ?? .raw
        let z = (Self.transform(Double(score), s) - Self.transform(threshold, s)) / spread
        return 1 / (1 + exp(-z))
    }

    static func transform(_ v: Double, _ scale: RobustThreshold.Scale) -> Double {
        scale == .logit ? RobustThreshold.logit(v) : v
    }
}
