/// Everything needed to continue a training run bit for bit: weights, optimiser
/// buffers, generator state, counters, the current bank and the log so far.
public struct TrainerState: Sendable, Equatable {
    public var parameters: LocalNetParameters
    public var optimizer: RMSProp
    public var rng: Xoshiro256StarStar
    /// Epochs fully done; the next epoch to run has this index.
    public var epochsCompleted: Int
    /// Iterations done over the whole run.
    public var iterations: Int
    /// The bank in use (nil before the first refresh).
    public var bank: MemoryBank?
    public var bankRecords: [BankRefreshRecord]
    public var epochStatistics: [EpochStatistics]
    /// Total loss L of every optimiser step so far, in order: the curve the convergence
    /// check (`ConvergenceCheck`) reads, kept in the checkpoint so that a resumed run
    /// judges the whole run, not only its resumed part.
    public var stepLosses: [Float]
    /// Set when an epoch-end policy stopped training early: its reason.
    public var stopReason: String?
    /// With `WeightAveraging`: the running mean of the weights after each averaged step so
    /// far (nil before the first), and how many steps it holds.
    public var averagedWeights: [Float]?
    public var averagedSteps: Int = 0

    /// A fresh state: PyTorch-default initialisation from `seed` (the same generator
    /// then drives shuffles, bank draws and perturbations).
    public init(shape: LocalNetShape, seed: UInt64, optimizer: RMSPropConfiguration = .init()) {
        var rng = Xoshiro256StarStar(seed: seed)
        parameters = LocalNetParameters(pytorchDefault: shape, rng: &rng)
        self.optimizer = RMSProp(parameterCount: parameters.values.count, configuration: optimizer)
        self.rng = rng
        epochsCompleted = 0
        iterations = 0
        bank = nil
        bankRecords = []
        epochStatistics = []
        stepLosses = []
        stopReason = nil
    }

    init(parameters: LocalNetParameters, optimizer: RMSProp, rng: Xoshiro256StarStar, epochsCompleted: Int,
         iterations: Int, bank: MemoryBank?, bankRecords: [BankRefreshRecord], epochStatistics: [EpochStatistics],
         stepLosses: [Float] = [], stopReason: String? = nil, averagedWeights: [Float]? = nil, averagedSteps: Int = 0) {
        self.averagedWeights = averagedWeights
        self.averagedSteps = averagedSteps
        self.stepLosses = stepLosses
        self.stopReason = stopReason
        self.parameters = parameters
        self.optimizer = optimizer
        self.rng = rng
        self.epochsCompleted = epochsCompleted
        self.iterations = iterations
        self.bank = bank
        self.bankRecords = bankRecords
        self.epochStatistics = epochStatistics
    }
}

/// Per-epoch means for the run record.
public struct EpochStatistics: Sendable, Equatable, Codable {
    public var epoch: Int
    public var loss: Float
    public var bce: Float
    public var mutualSmoothness: Float
    public var bankImages: Float
    public var pseudoAnomalyShare: Float
    public var mutualPairs: Float
    /// Jaccard overlap of the bank's image set at the end of this epoch with the one at the
    /// end of the previous epoch (0 for the first): a label-free sign that training settled.
    public var bankJaccard: Float?

    public init(epoch: Int, loss: Float, bce: Float, mutualSmoothness: Float, bankImages: Float,
                pseudoAnomalyShare: Float, mutualPairs: Float, bankJaccard: Float? = nil) {
        self.epoch = epoch
        self.loss = loss
        self.bce = bce
        self.mutualSmoothness = mutualSmoothness
        self.bankImages = bankImages
        self.pseudoAnomalyShare = pseudoAnomalyShare
        self.mutualPairs = mutualPairs
        self.bankJaccard = bankJaccard
    }
}

extension TrainerState {
    /// Jaccard overlap of the last bank of `epoch` with the last bank of an earlier epoch
    /// (0 when there is none), from the refresh records (which a checkpoint keeps).
    func bankJaccard(endOfEpoch epoch: Int) -> Float {
        guard let current = bankRecords.last(where: { $0.epoch <= epoch }),
              let previous = bankRecords.last(where: { $0.epoch < epoch }) else { return 0 }
        let a = Set(current.imageIndices), b = Set(previous.imageIndices)
        let union = a.union(b).count
        return union == 0 ? 0 : Float(a.intersection(b).count) / Float(union)
    }
}

extension TrainerState {
    /// Adds the current weights to the running mean (Welford's update, w̄ += (w − w̄) / k).
    mutating func accumulateAverage() {
        averagedSteps += 1
        guard var mean = averagedWeights else {
            averagedWeights = parameters.values
            return
        }
        averagedWeights = nil  // keep `mean` uniquely referenced while it is updated in place
        let k = Float(averagedSteps)
        parameters.values.withUnsafeBufferPointer { w in
            mean.withUnsafeMutableBufferPointer { m in
                for i in 0..<m.count { m[i] += (w[i] - m[i]) / k }
            }
        }
        averagedWeights = mean
    }

    /// The weights to save: the running mean when one was kept, else the live weights.
    var outputParameters: LocalNetParameters {
        guard let mean = averagedWeights, averagedSteps > 0 else { return parameters }
        var out = parameters
        out.values = mean
        return out
    }
}

/// What the trainer reports after every iteration (for progress display and logs).
public struct TrainingProgress: Sendable, Equatable {
    public var epoch: Int
    public var epochs: Int
    /// Iteration within the epoch (0-based) and iterations per epoch.
    public var iteration: Int
    public var iterationsPerEpoch: Int
    /// Iteration over the whole run (0-based) and total iterations of the run.
    public var globalIteration: Int
    public var totalIterations: Int
    public var loss: LossValues
    public var bankImages: Int
    public var bankPatches: Int
    /// Share of the batch's patches pseudo-labelled anomalous, and how many were perturbed.
    public var pseudoAnomalyShare: Float
    public var perturbedPatches: Int
    public var mutualPairs: Int
    /// Set when the bank was rebuilt before this iteration.
    public var bankRefreshed: Bool
    /// With `BankSearch.projected`: batch patches whose nearest bank features the
    /// projection bound certified (the rest were searched in full); nil with `.exact`.
    public var certifiedQueries: Int? = nil
    /// Patch features in the batch (the queries of the bank search).
    public var batchPatches: Int = 0
}

/// The outcome of `FunADTrainer.train`.
public struct TrainingResult: Sendable {
    public var model: LocalNet
    public var state: TrainerState
    public var departuresFromPaper: [String]
}
