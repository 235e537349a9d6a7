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
    }

    init(parameters: LocalNetParameters, optimizer: RMSProp, rng: Xoshiro256StarStar, epochsCompleted: Int,
         iterations: Int, bank: MemoryBank?, bankRecords: [BankRefreshRecord], epochStatistics: [EpochStatistics]) {
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
}

/// The outcome of `FunADTrainer.train`.
public struct TrainingResult: Sendable {
    public var model: LocalNet
    public var state: TrainerState
    public var departuresFromPaper: [String]
}
