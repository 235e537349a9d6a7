import Foundation

/// A label-free check, after training, of whether the loss had settled (not in the paper).
/// A user on a small set who trains for 8 steps gets a model near chance and, until now,
/// no sign of it; this reads the per-step loss curve and says when it was still falling
/// steeply at the end.
///
/// Measure, on the per-step total loss L_0 … L_{T−1}, with m = max(3, ⌈tail · T⌉) ≤ T:
///  - the tail's trend: a least-squares line ŷ(t) = a + b·t through the last m losses
///    (the line smooths the batch-to-batch noise of the pseudo-labelled loss); its fall
///    across the tail is D = −b·(m − 1);
///  - the run's fall: F = (mean of the first m losses) − (mean of the last m losses);
///  - the tail's share of the fall: S = D / max(F, D) when D > 0, else 0, in [0, 1].
/// Training is flagged when S > `maximumShare` *and* D exceeds twice its standard error
/// (from the residuals of the line): the last `tail` of the steps still made more than
/// `maximumShare` of the run's progress, and that is a trend, not noise. A loss that keeps
/// falling at the same pace gives S ≈ (m − 1)/(T − m) (0.24 at tail 0.2), an exponential
/// decay e^(−t/τ) gives S ≈ 0.13 at T = τ, 0.08 at T = 2τ, 0.04 at T = 3τ; the default
/// 0.1 thus flags runs shorter than about 1.5 time constants of their own loss curve.
/// The share, not the fall relative to the loss level, is measured because a
/// discriminator's BCE on separable pseudo-labels can decay slowly for ever (like 1/t)
/// after the ranking has settled; a level-relative rule would flag every such run.
public struct ConvergenceCheck: Sendable, Equatable {
    /// Share of the run, counted from its end, over which the trend is measured.
    public var tailFraction: Double
    /// Share of the run's loss fall made in the tail above which training is flagged.
    public var maximumShare: Double
    /// A line through fewer points has no residual to judge noise by.
    public static let minimumTailSteps = 3
    /// The tail's fall must exceed this many standard errors to count as a trend.
    public static let significance = 2.0

    public init(tailFraction: Double = 0.2, maximumShare: Double = 0.1) {
        self.tailFraction = tailFraction
        self.maximumShare = maximumShare
    }

    /// Judges a loss curve (one total loss per optimiser step, in order).
    public func assess(stepLosses losses: [Float]) -> ConvergenceAssessment {
        let t = losses.count
        guard t > 0 else { return ConvergenceAssessment(steps: 0, tailSteps: 0) }
        guard t >= Self.minimumTailSteps else {
            var a = ConvergenceAssessment(steps: t, tailSteps: t)
            a.warning = "training ran only \(t) optimiser step\(t == 1 ? "" : "s"), too few to tell whether the loss settled (at least \(Self.minimumTailSteps) are needed to fit its trend); train for more steps"
            return a
        }
        let m = min(t, max(Self.minimumTailSteps, Int((tailFraction * Double(t)).rounded(.up))))
        let tail = losses[(t - m)...].map(Double.init)
        let head = losses[..<m].map(Double.init)
        let xMean = Double(m - 1) / 2
        let tailMean = tail.reduce(0, +) / Double(m)
        var sxy = 0.0, sxx = 0.0
        for (x, y) in tail.enumerated() {
            let dx = Double(x) - xMean
            sxy += dx * (y - tailMean)
            sxx += dx * dx
        }
        let slope = sxy / sxx
        var residuals = 0.0
        for (x, y) in tail.enumerated() {
            let r = y - (tailMean + slope * (Double(x) - xMean))
            residuals += r * r
        }
        let slopeError = (residuals / Double(m - 2) / sxx).squareRoot()
        let tailFall = -slope * Double(m - 1)
        let tailFallError = slopeError * Double(m - 1)
        let runFall = head.reduce(0, +) / Double(m) - tailMean
        let share = tailFall > 0 ? tailFall / max(runFall, tailFall) : 0
        var a = ConvergenceAssessment(steps: t, tailSteps: m, tailFall: tailFall, tailFallError: tailFallError,
                                      runFall: runFall, share: share)
        if share > maximumShare && tailFall > Self.significance * tailFallError {
            a.warning = String(
                format: "the loss was still falling when training ended: over the last %d of %d optimiser steps (%.0f %%) its least-squares line fell by %.4g (± %.2g), %.0f %% of the run's fall %.4g (warning above %.0f %%); the model may be undertrained, train for more steps (e.g. steps: %d)",
                m, t, 100 * Double(m) / Double(t), tailFall, tailFallError, 100 * share, max(runFall, tailFall), 100 * maximumShare, 2 * t)
        }
        return a
    }
}

/// What `ConvergenceCheck.assess` measured (nil figures: too few steps to fit a line).
public struct ConvergenceAssessment: Sendable, Equatable {
    /// Steps in the curve and in the measured tail.
    public var steps: Int
    public var tailSteps: Int
    /// D, the fall of the tail's least-squares line, and its standard error.
    public var tailFall: Double?
    public var tailFallError: Double?
    /// F, mean of the first m losses minus mean of the last m.
    public var runFall: Double?
    /// S = D / max(F, D) (0 when D ≤ 0).
    public var share: Double?
    /// The text for the log and the run record, or nil when the loss had settled.
    public var warning: String?

    public init(steps: Int, tailSteps: Int, tailFall: Double? = nil, tailFallError: Double? = nil,
                runFall: Double? = nil, share: Double? = nil, warning: String? = nil) {
        self.steps = steps
        self.tailSteps = tailSteps
        self.tailFall = tailFall
        self.tailFallError = tailFallError
        self.runFall = runFall
        self.share = share
        self.warning = warning
    }
}
