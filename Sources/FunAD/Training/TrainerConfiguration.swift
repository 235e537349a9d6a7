/// When the IRMB memory bank is rebuilt from a full scoring pass (METHOD.md step 1).
/// The paper and official code rebuild it every iteration; the others are cheaper
/// schedules that the run record must name as departures.
///
/// Cost on this machine kind (2 cores, ~140 GFLOP/s sgemm), paper shapes (D = 1536,
/// B = 32, P = 784): a refresh is one forward GEMM chain over all N·P patches
/// (≈ 7.9 GFLOP per image, ≈ 12 s for N = 209) which yields the image scores and φ_a
/// at once; every iteration then also pays the exact bank search (2·B·P·|M|·D FLOP,
/// ≈ 6 TFLOP ≈ 45 s for a 100-image bank), the mutual-pair search (≈ 1.9 TFLOP) and
/// the step (≈ 0.5 TFLOP). The search, not the refresh, dominates: 1500 paper epochs are
/// days here whatever the schedule; `PatchSubsampling` is the knob that shrinks it.
/// How each iteration finds the nearest bank features of the batch (METHOD.md step 2).
/// Both give the exact two nearest neighbours; they differ in work and in float rounding.
public enum BankSearch: Sendable, Equatable {
    /// sgemm over the full D-dimensional rows (`NearestNeighbours.topTwo`).
    case exact
    /// A prefilter in the bank's top-`rank` principal subspace, `candidates` rows per query
    /// re-ranked exactly, each answer certified by the projection bound or searched in full
    /// (`ProjectedBankSearch`).
    case projected(rank: Int, candidates: Int)

    public var summary: String {
        switch self {
        case .exact: return "exact, full rows"
        case .projected(let r, let c): return "exact, certified: \(r)-d principal-subspace prefilter, \(c) candidates re-ranked per query, uncertified queries searched in full"
        }
    }
}

public enum BankRefreshSchedule: Sendable, Equatable, Codable {
    case everyIteration
    case everyEpoch
    case everyIterations(Int)

    func isDue(globalIteration: Int, iterationInEpoch: Int) -> Bool {
        switch self {
        case .everyIteration: return true
        case .everyEpoch: return iterationInEpoch == 0
        case .everyIterations(let n): return globalIteration % max(1, n) == 0
        }
    }

    var summary: String {
        switch self {
        case .everyIteration: return "every iteration"
        case .everyEpoch: return "once per epoch"
        case .everyIterations(let n): return "every \(n) iterations"
        }
    }
}

/// Optional patch subsampling for huge sets (not in the paper): each iteration uses
/// `batchPatches` random patch positions (the same positions for every image of the
/// batch, so that the per-position std of the perturbation stays defined), and each
/// bank image contributes `bankPatches` random patches. nil = all patches.
public struct PatchSubsampling: Sendable, Equatable, Codable {
    public var batchPatches: Int?
    public var bankPatches: Int?
    public init(batchPatches: Int? = nil, bankPatches: Int? = nil) {
        self.batchPatches = batchPatches
        self.bankPatches = bankPatches
    }
}

/// Tail averaging of the weights (Polyak–Ruppert averaging; SWA with a constant learning
/// rate), not in the paper: the saved model is the uniform mean of the weights after each
/// of the run's last `⌈tail · steps⌉` optimiser steps instead of the last step's weights.
/// Training itself (banks, pseudo-labels, gradients) still uses the live weights, so the
/// trajectory is unchanged; only the output is smoothed. Why: FUN-AD's trajectory is
/// chaotic (a 1e-3 relative change of the features at step 2 ends in other weights), and
/// a mean over many steps moves less with that noise than one step's weights do.
public struct WeightAveraging: Sendable, Equatable {
    /// Share of the run, counted from its end, whose steps enter the mean (0 < tail ≤ 1).
    public var tail: Double
    public init(tail: Double) { self.tail = tail }

    /// The global index of the first averaged step in a run of `totalSteps` steps.
    public func firstStep(totalSteps: Int) -> Int {
        let averaged = Int((tail * Double(totalSteps)).rounded(.up))
        return max(0, totalSteps - max(1, averaged))
    }
}

/// Every knob of FUN-AD training (METHOD.md "One training iteration"); defaults are
/// the paper's (and, where the paper is silent, the official code's).
public struct TrainerConfiguration: Sendable {
    /// Passes over the training set (paper: 1500). Used only when `steps` is nil.
    public var epochs = 1500
    /// Total optimiser steps, or nil to run `epochs` full epochs. Counting in steps makes
    /// a schedule mean the same on any set size: with epochs, 55 images in batches of 32
    /// give one step per epoch, so "80 epochs" is 80 steps there and 2000 on 800 images.
    /// Epochs become a derived figure, ⌈steps / iterations per epoch⌉, the last one
    /// possibly partial (see `schedule(imageCount:)`).
    public var steps: Int? = nil
    /// Images per mini-batch; shuffled each epoch, last partial batch dropped.
    public var batchSize = 32
    public var optimizer = RMSPropConfiguration()
    /// λ of L = L_BCE + λ·L_MS.
    public var lambda: Float = 2.5
    /// Ablation switch: L_MS off.
    public var mutualSmoothness = true
    public var mutualSmoothnessReduction: MutualSmoothnessReduction = .halfMean
    /// Ablation switch: no Gaussian perturbation ε.
    public var perturbation = true
    /// Squared nearest-bank distances below this count as 0 (official 1e-2).
    public var zeroDistanceBelow: Float = 1e-2
    public var bankRefresh: BankRefreshSchedule = .everyIteration
    public var bankSearch: BankSearch = .exact
    public var bankSelection: any BankSelectionPolicy = PaperBankSelection()
    public var pseudoLabels: any PseudoLabelPolicy = PaperPseudoLabelPolicy()
    /// Optional label-free early stop, asked after every epoch (not in the paper).
    public var epochEnd: (any EpochEndPolicy)? = nil
    public var patchSubsampling = PatchSubsampling()
    /// Head sizes (paper: 1024, 128).
    public var hidden1 = 1024
    public var hidden2 = 128
    /// Seeds the initialisation, shuffles, bank draws and perturbations.
    public var seed: UInt64 = 0
    /// Calls the checkpoint handler after every this many epochs (0 = never).
    public var checkpointEveryEpochs = 0
    /// Keep φ_a of every training patch from the scoring pass (N·P·D floats: 1 GB for
    /// 209 images of 784×1536) so the bank is a gather; false forwards the bank images
    /// again instead (same bank up to float rounding, for sets too large for memory).
    public var keepAdaptedFeatures = true
    /// Patch labels that replace the pseudo-labels of some training images: image index →
    /// one label per patch position (1 = anomalous). The y_syn ablation of the paper's
    /// supplement (Table 5): synthetic anomalies supervised by their own Perlin masks.
    /// Empty (the default, METHOD.md step 3): every image is pseudo-labelled.
    public var fixedPatchLabels: [Int: [UInt8]] = [:]
    /// Save the mean of the last steps' weights instead of the last step's (not in the
    /// paper); nil = the last step's weights.
    public var weightAveraging: WeightAveraging? = nil

    public init() {}

    /// Every setting that departs from the paper (and from the official code where the
    /// paper is silent), in words for the run record. The default configuration lists
    /// one: the official code's ½ in L_MS.
    public var departuresFromPaper: [String] {
        var out: [String] = []
        if let steps { out.append("\(steps) optimiser steps (paper: 1500 epochs)") }
        else if epochs != 1500 { out.append("epochs \(epochs) (paper: 1500)") }
        if batchSize != 32 { out.append("batch size \(batchSize) images (paper: 32)") }
        let o = optimizer, p = RMSPropConfiguration()
        if o != p {
            out.append("RMSProp lr \(o.learningRate) momentum \(o.momentum) alpha \(o.alpha) eps \(o.epsilon) (paper: lr 2e-05, momentum 0.2, alpha 0.99, eps 1e-08)")
        }
        if lambda != 2.5 { out.append("lambda \(lambda) (paper: 2.5)") }
        if !mutualSmoothness { out.append("mutual-smoothness loss disabled (ablation)") }
        else if mutualSmoothnessReduction == .halfMean {
            out.append("L_MS = half the mean |phi(a) - phi(b)| over mutual pairs (official code; paper Eq. 29 has the mean)")
        }
        if !perturbation { out.append("Gaussian perturbation of ambiguous features disabled (ablation)") }
        if zeroDistanceBelow != 1e-2 { out.append("distances below \(zeroDistanceBelow) count as 0 (official: 1e-2)") }
        if bankRefresh != .everyIteration { out.append("memory bank rebuilt \(bankRefresh.summary) (paper: every iteration)") }
        if !bankSelection.isPaperDefault { out.append("bank selection: \(bankSelection.summary)") }
        if !pseudoLabels.isPaperDefault { out.append("pseudo-labels: \(pseudoLabels.summary)") }
        if let n = patchSubsampling.batchPatches { out.append("batch uses \(n) random patch positions per iteration (paper: all)") }
        if let n = patchSubsampling.bankPatches { out.append("bank keeps \(n) random patches per image (paper: all)") }
        if hidden1 != 1024 || hidden2 != 128 { out.append("head \(hidden1)-\(hidden2)-1 (paper: 1024-128-1)") }
        if let a = weightAveraging {
            out.append("the saved weights are the mean over the last \(Self.percent(a.tail)) of the steps (Polyak-Ruppert tail average; paper: the last step's weights)")
        }
        if !fixedPatchLabels.isEmpty {
            out.append("\(fixedPatchLabels.count) images labelled by their masks instead of pseudo-labels (synthetic anomalies; paper supplement Table 5 ablation)")
        }
        return out
    }

    static func percent(_ share: Double) -> String {
        let p = share * 100
        return p == p.rounded() ? "\(Int(p)) %" : "\(p) %"
    }

    /// Checks the configuration against the feature set; messages name the field.
    func validate(imageCount: Int, patchesPerImage: Int, dimension: Int) throws {
        func fail(_ s: String) -> TrainingError { TrainingError("training configuration: \(s)") }
        guard epochs >= 0 else { throw fail("epochs must be ≥ 0, got \(epochs)") }
        if let steps, steps < 0 { throw fail("steps must be ≥ 0, got \(steps)") }
        guard batchSize >= 1 else { throw fail("batchSize must be ≥ 1, got \(batchSize)") }
        guard imageCount >= batchSize else {
            throw fail("the feature set has \(imageCount) images, fewer than batchSize \(batchSize) (the last partial batch is dropped, so no iteration would run); lower batchSize")
        }
        guard patchesPerImage >= 1, dimension >= 1 else {
            throw fail("the feature set has \(patchesPerImage) patches per image of dimension \(dimension); expected both ≥ 1")
        }
        guard lambda >= 0, lambda.isFinite else { throw fail("lambda must be a finite number ≥ 0, got \(lambda)") }
        guard hidden1 >= 1, hidden2 >= 1 else { throw fail("hidden sizes must be ≥ 1, got \(hidden1), \(hidden2)") }
        guard checkpointEveryEpochs >= 0 else { throw fail("checkpointEveryEpochs must be ≥ 0, got \(checkpointEveryEpochs)") }
        if let a = weightAveraging, !(a.tail > 0 && a.tail <= 1) {
            throw fail("weightAveraging.tail = \(a.tail); expected a share of the run in (0, 1]")
        }
        if case .everyIterations(let n) = bankRefresh, n < 1 {
            throw fail("bank refresh every \(n) iterations; expected ≥ 1")
        }
        for (image, labels) in fixedPatchLabels.sorted(by: { $0.key < $1.key }) {
            guard (0..<imageCount).contains(image) else {
                throw fail("fixedPatchLabels names image \(image); the feature set has images 0..<\(imageCount)")
            }
            guard labels.count == patchesPerImage, labels.allSatisfy({ $0 <= 1 }) else {
                throw fail("fixedPatchLabels of image \(image): \(labels.count) labels; expected \(patchesPerImage) values of 0 or 1")
            }
        }
        for (name, v) in [("patchSubsampling.batchPatches", patchSubsampling.batchPatches),
                          ("patchSubsampling.bankPatches", patchSubsampling.bankPatches)] {
            if let v, !(1...patchesPerImage).contains(v) {
                throw fail("\(name) = \(v); expected 1...\(patchesPerImage) (patches per image)")
            }
        }
    }
}

/// How many optimiser steps a configuration runs on a set, and how they fall into epochs.
/// An epoch is one shuffled pass in ⌊N / B⌋ full batches (the last partial batch is
/// dropped); with `steps` the last epoch stops after the remaining steps.
public struct TrainingSchedule: Sendable, Equatable {
    /// Full batches in one pass over the set, ⌊N / B⌋.
    public var iterationsPerEpoch: Int
    /// Optimiser steps of the whole run.
    public var totalIterations: Int
    /// Epochs the run starts: `epochs`, or ⌈steps / iterationsPerEpoch⌉.
    public var epochs: Int
    /// True when the schedule was given in steps.
    public var countedInSteps: Bool

    /// Steps run in epoch `epoch` (0-based): all of them, except in the last epoch of a
    /// step-counted run, which runs what is left.
    public func iterations(inEpoch epoch: Int) -> Int {
        max(0, min(iterationsPerEpoch, totalIterations - epoch * iterationsPerEpoch))
    }

    /// e.g. "500 steps = 16 epochs of 31 iterations (the last one 4)", or "8 epochs of 1 iterations (8 steps)".
    public var summary: String {
        if countedInSteps {
            let last = iterations(inEpoch: epochs - 1)
            let tail = epochs > 0 && last < iterationsPerEpoch ? " (the last one \(last))" : ""
            return "\(totalIterations) steps = \(epochs) epochs of \(iterationsPerEpoch) iterations\(tail)"
        }
        return "\(epochs) epochs of \(iterationsPerEpoch) iterations (\(totalIterations) steps)"
    }
}

extension TrainerConfiguration {
    /// The schedule on a set of `imageCount` images (no validation: `imageCount` < batch
    /// size gives 0 iterations per epoch, which `validate` refuses before training).
    public func schedule(imageCount: Int) -> TrainingSchedule {
        let perEpoch = imageCount / max(1, batchSize)
        if let steps {
            let epochs = perEpoch > 0 ? (steps + perEpoch - 1) / perEpoch : 0
            return TrainingSchedule(iterationsPerEpoch: perEpoch, totalIterations: steps, epochs: epochs, countedInSteps: true)
        }
        return TrainingSchedule(iterationsPerEpoch: perEpoch, totalIterations: epochs * perEpoch, epochs: epochs, countedInSteps: false)
    }
}

/// A training failure with a message naming the field or file and what was expected.
public struct TrainingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Thrown when the caller's `shouldStop` asked training to end.
public struct TrainingCancelled: Error, CustomStringConvertible, Sendable {
    public let afterIteration: Int
    public var description: String { "training cancelled after iteration \(afterIteration)" }
}
