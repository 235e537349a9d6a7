/// Where training stands when a policy is asked: user policies (Lua hooks, bound in
/// `Stages`) anneal thresholds over epochs or reseed their own randomness from it.
public struct TrainingMoment: Sendable, Equatable {
    /// Epoch being run (0-based) and the configured number of epochs.
    public var epoch: Int
    public var epochs: Int
    /// Iterations done before this call over the whole run (0-based index of the
    /// iteration being run).
    public var globalIteration: Int
    /// Training images in the feature set.
    public var imageCount: Int

    public init(epoch: Int, epochs: Int, globalIteration: Int, imageCount: Int) {
        self.epoch = epoch
        self.epochs = epochs
        self.globalIteration = globalIteration
        self.imageCount = imageCount
    }
}

/// Decides which training images enter the memory bank from their image scores
/// (METHOD.md step 1). A protocol so that user policies (Lua hooks, bound in `Stages`)
/// plug into the trainer without touching the loop; the paper's rule is
/// `PaperBankSelection`. A policy may throw (a user script failed); training stops with
/// that error.
public protocol BankSelectionPolicy: Sendable {
    /// Indices of the bank images, given every training image's score
    /// (max patch score under the current φ). Draws only from `rng`.
    func selectBankImages(imageScores: [Float], moment: TrainingMoment, rng: inout Xoshiro256StarStar) throws -> [Int]
    /// One line for the run record, with the policy's parameters.
    var summary: String { get }
    /// True only for the paper's own rule with the paper's parameters.
    var isPaperDefault: Bool { get }
}

/// Maps the batch's nearest-bank distances to pseudo-labels and the ambiguous set
/// (METHOD.md steps 2–3). The paper's rule is `PaperPseudoLabelPolicy`.
public protocol PseudoLabelPolicy: Sendable {
    /// `distances`: one nearest-bank distance per batch patch (squared L2, after the
    /// official zero rule). Returns labels (1 = pseudo-anomaly) and which patches are
    /// ambiguous (to be perturbed).
    func assign(distances: [Float], moment: TrainingMoment) throws -> PseudoLabelAssignment
    var summary: String { get }
    var isPaperDefault: Bool { get }
}

/// Asked after every epoch whether training should stop early (a label-free criterion:
/// it sees the training statistics only). Returns the reason for stopping, or nil to go on.
/// `history` holds every finished epoch, the current one last; it is part of the trainer
/// state, so a resumed run asks with the same history and decides the same way.
public protocol EpochEndPolicy: Sendable {
    func stopReason(history: [EpochStatistics], moment: TrainingMoment) throws -> String?
    var summary: String { get }
}

/// Result of a pseudo-label policy for B×P patches.
public struct PseudoLabelAssignment: Sendable, Equatable {
    /// Normalised scores s_ij (paper Eq. 28), kept for logging.
    public var scores: [Float]
    /// y_ij ∈ {0, 1}.
    public var labels: [UInt8]
    /// Indices of ambiguous pseudo-anomalies, τ_n < s_ij < τ_c, ascending.
    public var ambiguous: [Int]

    public init(scores: [Float], labels: [UInt8], ambiguous: [Int]) {
        self.scores = scores
        self.labels = labels
        self.ambiguous = ambiguous
    }
}

/// Min-max normalisation over all values; all-equal input maps to all zeros (the
/// official code's choice for the batch distances; for image scores it keeps every
/// image, which is the only sensible reading of "no image stands out").
public func minMaxNormalised(_ v: [Float]) -> [Float] {
    guard let lo = v.min(), let hi = v.max(), hi > lo else { return [Float](repeating: 0, count: v.count) }
    let scale = 1 / (hi - lo)
    return v.map { ($0 - lo) * scale }
}

/// The paper's bank rule (Eq. 26 + random subset P′): min-max normalise the image
/// scores over the whole training set, keep images with normalised score < τ_b, then
/// draw ⌊fraction · |P|⌋ of them without replacement.
/// Edge the paper leaves open (the official code crashes on an empty bank): when the
/// draw would be empty but P is not, one image is kept.
public struct PaperBankSelection: BankSelectionPolicy {
    public var threshold: Float
    public var fraction: Float

    public init(threshold: Float = 0.5, fraction: Float = 0.5) {
        self.threshold = threshold
        self.fraction = fraction
    }

    public func selectBankImages(imageScores: [Float], moment: TrainingMoment, rng: inout Xoshiro256StarStar) -> [Int] {
        let s = minMaxNormalised(imageScores)
        let candidates = s.indices.filter { s[$0] < threshold }
        return Self.drawFraction(fraction, of: candidates, rng: &rng)
    }

    /// The random subset P′ of the paper's bank rule: ⌊fraction · |P|⌋ candidates drawn
    /// without replacement, at least one when there is any (all of them at fraction ≥ 1).
    /// Shared with user bank rules, which replace only the choice of candidates.
    public static func drawFraction(_ fraction: Float, of candidates: [Int], rng: inout Xoshiro256StarStar) -> [Int] {
        guard !candidates.isEmpty else { return [] }
        let k = fraction >= 1 ? candidates.count : max(1, Int(Float(candidates.count) * fraction))
        return rng.sample(candidates, count: k)
    }

    public var summary: String { "paper: min-max normalised image score < \(threshold), random fraction \(fraction)" }
    public var isPaperDefault: Bool { threshold == 0.5 && fraction == 0.5 }
}

/// A robust alternative to min-max (METHOD.md "What to watch": one image scored far
/// below the rest collapses the min-max bank to one image). Ranks the raw image scores
/// and keeps the lowest ⌈quantile · N⌉ images, never fewer than `minimumImages`, then
/// draws a fraction of them, again never fewer than `minimumImages` (capped at N).
public struct QuantileBankSelection: BankSelectionPolicy {
    public var quantile: Float
    public var fraction: Float
    public var minimumImages: Int

    public init(quantile: Float = 0.5, fraction: Float = 0.5, minimumImages: Int = 8) {
        self.quantile = quantile
        self.fraction = fraction
        self.minimumImages = minimumImages
    }

    public func selectBankImages(imageScores: [Float], moment: TrainingMoment, rng: inout Xoshiro256StarStar) -> [Int] {
        let n = imageScores.count
        guard n > 0 else { return [] }
        // Stable order: by score, then by index, so ties do not depend on sort internals.
        let order = imageScores.indices.sorted { (imageScores[$0], $0) < (imageScores[$1], $1) }
        let keep = min(n, max(minimumImages, Int((quantile * Float(n)).rounded(.up))))
        let candidates = Array(order[0..<keep])
        let k = min(keep, max(minimumImages, Int(Float(keep) * fraction)))
        return rng.sample(candidates, count: max(1, k))
    }

    public var summary: String { "quantile: lowest \(quantile) of raw image scores (≥ \(minimumImages) images), random fraction \(fraction) (≥ \(minimumImages))" }
    public var isPaperDefault: Bool { false }
}

/// The paper's pseudo-label rule: s = min-max normalised distance over the batch
/// (Eq. 28; all-equal → all 0, as the official code), y = 1 iff s > τ_n, ambiguous
/// iff τ_n < s < τ_c (Sec. 4.3).
public struct PaperPseudoLabelPolicy: PseudoLabelPolicy {
    public var normalThreshold: Float
    public var confidentThreshold: Float

    public init(normalThreshold: Float = 0.5, confidentThreshold: Float = 0.9) {
        self.normalThreshold = normalThreshold
        self.confidentThreshold = confidentThreshold
    }

    public func assign(distances: [Float], moment: TrainingMoment) -> PseudoLabelAssignment {
        let s = minMaxNormalised(distances)
        var labels = [UInt8](repeating: 0, count: s.count)
        var ambiguous: [Int] = []
        for i in s.indices where s[i] > normalThreshold {
            labels[i] = 1
            if s[i] < confidentThreshold { ambiguous.append(i) }
        }
        return PseudoLabelAssignment(scores: s, labels: labels, ambiguous: ambiguous)
    }

    public var summary: String { "paper: min-max normalised distance > \(normalThreshold) is anomalous, ambiguous below \(confidentThreshold)" }
    public var isPaperDefault: Bool { normalThreshold == 0.5 && confidentThreshold == 0.9 }
}
