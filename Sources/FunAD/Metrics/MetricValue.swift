/// A metric that may be undefined on the given data (e.g. AUROC on a test set with a
/// single class): then `value` is nil and `reason` says why. Reports print null / n/a
/// and the reason; nothing crashes.
public struct MetricValue: Sendable, Equatable {
    public var value: Double?
    public var reason: String?

    public static func defined(_ v: Double) -> MetricValue { MetricValue(value: v, reason: nil) }
    public static func undefined(_ reason: String) -> MetricValue { MetricValue(value: nil, reason: reason) }
}

/// One point of a ROC curve: scores ≥ threshold are called anomalous.
public struct ROCPoint: Sendable, Equatable {
    public var fpr: Double
    public var tpr: Double
    public var threshold: Float
}

public struct ThresholdedMetric: Sendable, Equatable {
    public var metric: MetricValue
    /// The score threshold (score ≥ threshold ⇒ anomalous) where the metric is reached.
    public var threshold: Float?
}
