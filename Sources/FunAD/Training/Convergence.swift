/// A label-free check, after training, of whether the loss had settled (not in the paper).
/// A user on a small set who trains for 8 steps gets a model near chance and, until now,
/// no sign of it; this measures the end of the per-step loss curve and says when it was
/// still falling steeply.
///
/// Measure: over the last `tailFraction` of the steps (at least `minimumTailSteps`), fit a
/// least-squares line ŷ(t) = a + b·t to the per-step total loss L_t (the line smooths the
/// batch-to-batch noise of the pseudo-labelled loss). The relative drop is the fall of
/// that line across the tail divided by the tail's mean loss,
///     r = −b · (m − 1) / ȳ,   m = tail steps, ȳ = mean loss over the tail,
/// so r = 0.10 means "the smoothed loss fell by 10 % of its level over the last 20 % of
/// training". Training is flagged when r > `maximumDrop`. A rising or flat tail (r ≤ 0)
/// is never flagged: this check is about stopping too early, not about divergence.
public struct ConvergenceCheck: Sendable, Equatable {
    /// Share of the run, counted from its end, over which the slope is measured.
    public var tailFraction: Double
    /// Relative drop of the fitted line above which training is flagged.
    public var maximumDrop: Double
    /// A line through fewer points is no measure of a trend.
    public static let minimumTailSteps = 3

    public init(tailFraction: Double = 0.2, maximumDrop: Double = 0.05) {
        self.tailFraction = tailFraction
        self.maximumDrop = maximumDrop
    }

    /// Judges a loss curve (one total loss per optimiser step, in order).
    public func assess(stepLosses losses: [Float]) -> ConvergenceAssessment {
        let t = losses.count
        guard t > 0 else { return ConvergenceAssessment(steps: 0, tailSteps: 0, relativeDrop: nil, warning: nil) }
        guard t >= Self.minimumTailSteps else {
            return ConvergenceAssessment(
                steps: t, tailSteps: t, relativeDrop: nil,
                warning: "training ran only \(t) optimiser step\(t == 1 ? "" : "s"), too few to tell whether the loss settled (at least \(Self.minimumTailSteps) are needed to fit its trend); train for more steps")
        }
        let m = min(t, max(Self.minimumTailSteps, Int((tailFraction * Double(t)).rounded(.up))))
        let tail = losses[(t - m)...].map(Double.init)
        let xMean = Double(m - 1) / 2
        let yMean = tail.reduce(0, +) / Double(m)
        var sxy = 0.0, sxx = 0.0
        for (x, y) in tail.enumerated() {
            let dx = Double(x) - xMean
            sxy += dx * (y - yMean)
            sxx += dx * dx
        }
        let slope = sxy / sxx
        let drop = yMean > 0 ? -slope * Double(m - 1) / yMean : 0
        var warning: String?
        if drop > maximumDrop {
            warning = String(format: "the loss was still falling when training ended: a least-squares line over the last %d of %d optimiser steps (last %.0f %%) fell by %.1f %% of the mean loss %.4g (warning above %.1f %%); the model may be undertrained, train for more steps (e.g. steps: %d)",
                             m, t, 100 * Double(m) / Double(t), 100 * drop, yMean, 100 * maximumDrop, 2 * t)
        }
        return ConvergenceAssessment(steps: t, tailSteps: m, relativeDrop: drop, warning: warning)
    }
}

/// What `ConvergenceCheck.assess` measured.
public struct ConvergenceAssessment: Sendable, Equatable {
    /// Steps in the curve and steps in the measured tail.
    public var steps: Int
    public var tailSteps: Int
    /// r = −b·(m − 1)/ȳ of the tail's least-squares line; nil when too few steps to fit.
    public var relativeDrop: Double?
    /// The text for the log and the run record, or nil when the loss had settled.
    public var warning: String?
}
