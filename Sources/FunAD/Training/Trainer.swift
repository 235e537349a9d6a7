/// FUN-AD training of Local-Net φ (METHOD.md "One training iteration", paper Alg. 1).
/// Sees only a `PatchFeatureSource` (never labels). One iteration:
///  1. rebuild the IRMB bank if the schedule says so (full scoring pass, policy, gather);
///  2. clean forward of the B×P batch; exact 2-NN of the adapted features in the bank
///     with the query's own bank copy excluded; official zero rule → distances;
///  3. pseudo-label policy → labels and ambiguous set;
///  4. mutual nearest pairs among the batch's adapted features;
///  5. Gaussian perturbation of the ambiguous raw features, forward of those copies;
///  6. L = balanced BCE + λ·L_MS, one backward over clean + perturbed rows, RMSProp.
/// Image-level mode (semantic anomalies) is a source with one patch per image (P = 1),
/// e.g. `ImageLevelFeatures` over a patch source.
/// Determinism: one generator, fixed draw order, fixed BLAS threads → same weights.
public struct FunADTrainer: Sendable {
    public let configuration: TrainerConfiguration

    public init(configuration: TrainerConfiguration) { self.configuration = configuration }

    /// The network shape this configuration trains on `source`.
    public func shape(for source: any PatchFeatureSource) -> LocalNetShape {
        LocalNetShape(dimension: source.dimension, hidden1: configuration.hidden1, hidden2: configuration.hidden2)
    }

    /// A fresh state (PyTorch-default init from the configured seed).
    public func initialState(for source: any PatchFeatureSource) -> TrainerState {
        TrainerState(shape: shape(for: source), seed: configuration.seed, optimizer: configuration.optimizer)
    }

    /// Trains from `state` (nil = fresh) to the end of `configuration.schedule(imageCount:)`
    /// (`steps` optimiser steps, or `epochs` full epochs). After every
    /// `checkpointEveryEpochs` epochs `checkpoint` receives the full state (write it with
    /// `TrainerCheckpoint.write`); an error it throws stops training and is rethrown.
    /// `progress` is called after every iteration, `epochFinished` after every epoch.
    /// `shouldStop` is asked after every iteration; `true` ends training by throwing
    /// `TrainingCancelled` (resume from the last checkpoint).
    public func train(
        source: any PatchFeatureSource,
        from state: TrainerState? = nil,
        checkpoint: ((TrainerState) throws -> Void)? = nil,
        epochFinished: ((EpochStatistics) -> Void)? = nil,
        progress: ((TrainingProgress) -> Void)? = nil,
        shouldStop: ((TrainingProgress) -> Bool)? = nil
    ) throws -> TrainingResult {
        let c = configuration
        let n = source.imageCount, p = source.patchesPerImage, d = source.dimension
        try c.validate(imageCount: n, patchesPerImage: p, dimension: d)
        var st = state ?? initialState(for: source)
        guard st.parameters.shape == shape(for: source) else {
            throw TrainingError("training state: network shape \(st.parameters.shape) does not match the feature set (dimension \(d)) and configured head \(c.hidden1)-\(c.hidden2)")
        }
        let b = c.batchSize
        let schedule = c.schedule(imageCount: n)
        let itersPerEpoch = schedule.iterationsPerEpoch
        let pb = c.patchSubsampling.batchPatches ?? p
        let rows = b * pb
        let step = TrainingStep(shape: st.parameters.shape, rows: rows)
        let builder = MemoryBankBuilder(source: source, policy: c.bankSelection, bankPatches: c.patchSubsampling.bankPatches)
        let adaptedStore: UnsafeMutablePointer<Float>? = c.keepAdaptedFeatures ? .allocate(capacity: n * p * d) : nil
        defer { adaptedStore?.deallocate() }
        let imageBuffer = UnsafeMutablePointer<Float>.allocate(capacity: p * d)
        defer { imageBuffer.deallocate() }
        var bankLookup = st.bank?.rowLookup(patchesPerImage: p) ?? [:]
        // The projected index of the current bank (rebuilt with it; after a resume, from
        // the checkpointed bank, so a resumed run searches the same way).
        var bankIndex: ProjectedBankSearch? = nil
        var excluded = [Int32](repeating: -1, count: rows)
        let firstAveraged = c.weightAveraging?.firstStep(totalSteps: schedule.totalIterations)

        // Epochs are the resumable unit (a checkpoint is written only between epochs, so the
        // shuffle of a resumed epoch is drawn again from the saved generator). A step-counted
        // run draws the full permutation for its partial last epoch too, so that its first
        // batches equal those of an epoch-counted run with the same seed.
        while st.epochsCompleted < schedule.epochs && st.stopReason == nil {
            let epoch = st.epochsCompleted
            let order = st.rng.permutation(n)
            let itersThisEpoch = schedule.iterations(inEpoch: epoch)
            var sums = (loss: 0.0, bce: 0.0, ms: 0.0, bank: 0.0, share: 0.0, pairs: 0.0)
            for it in 0..<itersThisEpoch {
                // 1. IRMB.
                var refreshed = false
                let moment = TrainingMoment(epoch: epoch, epochs: schedule.epochs, globalIteration: st.iterations, imageCount: n)
                if st.bank == nil || c.bankRefresh.isDue(globalIteration: st.iterations, iterationInEpoch: it) {
                    let bank = try builder.build(parameters: st.parameters, adaptedStore: adaptedStore, moment: moment, rng: &st.rng)
                    st.bank = bank
                    bankLookup = bank.rowLookup(patchesPerImage: p)
                    bankIndex = nil
                    st.bankRecords.append(BankRefreshRecord(iteration: st.iterations, epoch: epoch, imageCount: bank.imageIndices.count,
                                                            patchCount: bank.rowCount, imageIndices: bank.imageIndices))
                    refreshed = true
                }
                let bank = st.bank!
                // Batch: images order[it·B ..< (it+1)·B], patch positions (all, or a shared random subset).
                let images = Array(order[(it * b)..<((it + 1) * b)])
                let positions = pb < p ? st.rng.sample(Array(0..<p), count: pb).sorted() : Array(0..<p)
                for (k, image) in images.enumerated() {
                    if pb == p {
                        try source.patchFeatures(ofImage: image, into: step.inputs + k * p * d)
                    } else {
                        try source.patchFeatures(ofImage: image, into: imageBuffer)
                        for (jj, j) in positions.enumerated() {
                            (step.inputs + (k * pb + jj) * d).update(from: imageBuffer + j * d, count: d)
                        }
                    }
                    for (jj, j) in positions.enumerated() { excluded[k * pb + jj] = bankLookup[image * p + j] ?? -1 }
                }
                // 2. Clean forward and nearest-bank distances.
                step.forwardClean(parameters: st.parameters, rows: rows, imageRows: pb)
                var certified: Int? = nil
                let nn = bank.features.withUnsafeBufferPointer { m in
                    excluded.withUnsafeBufferPointer { ex in
                        switch c.bankSearch {
                        case .exact:
                            return NearestNeighbours.topTwo(queries: step.workspace.adapted, queryCount: rows, bank: m.baseAddress!,
                                                            bankCount: bank.rowCount, dimension: d, excluded: ex.baseAddress)
                        case .projected(let rank, let candidates):
                            if bankIndex == nil {
                                bankIndex = ProjectedBankSearch(bank: m.baseAddress!, count: bank.rowCount, dimension: d,
                                                                rank: rank, candidates: candidates, seed: c.seed)
                            }
                            let outcome = bankIndex!.topTwo(queries: step.workspace.adapted, queryCount: rows, bank: m.baseAddress!,
                                                            excluded: ex.baseAddress)
                            certified = outcome.certified
                            return outcome.result
                        }
                    }
                }
                let distances = NearestBankDistance.distances(nn, zeroBelow: c.zeroDistanceBelow)
                // 3. Pseudo-labels.
                var assignment = try c.pseudoLabels.assign(distances: distances, moment: moment)
                guard assignment.labels.count == rows else {
                    throw TrainingError("pseudo-label policy '\(c.pseudoLabels.summary)' returned \(assignment.labels.count) labels for \(rows) patches")
                }
                // Images with fixed labels (Table 5's y_syn: synthetic anomalies and their
                // masks) take them instead, and are never ambiguous, so never perturbed.
                if !c.fixedPatchLabels.isEmpty {
                    var fixedRows = Set<Int>()
                    for (k, image) in images.enumerated() {
                        guard let fixed = c.fixedPatchLabels[image] else { continue }
                        for (jj, j) in positions.enumerated() {
                            assignment.labels[k * pb + jj] = fixed[j]
                            fixedRows.insert(k * pb + jj)
                        }
                    }
                    if !fixedRows.isEmpty { assignment.ambiguous.removeAll { fixedRows.contains($0) } }
                }
                // 4. Mutual pairs among the clean adapted features.
                let pairs = c.mutualSmoothness
                    ? NearestNeighbours.mutualPairs(step.workspace.adapted, count: rows, dimension: d)
                    : MutualPairs(first: [], second: [])
                // 5. Perturbation of ambiguous raw features.
                var perturbed: [Int] = []
                if c.perturbation && !assignment.ambiguous.isEmpty {
                    perturbed = assignment.ambiguous
                    for r in perturbed where !(0..<rows).contains(r) {
                        throw TrainingError("pseudo-label policy '\(c.pseudoLabels.summary)' marked patch \(r) ambiguous; expected 0..<\(rows)")
                    }
                    let sigma = GaussianPerturbation.sigma(step.inputs, images: b, patches: pb, dimension: d)
                    GaussianPerturbation.perturb(step.inputs, rows: perturbed, sigma: sigma, dimension: d,
                                                 into: step.inputs + rows * d, rng: &st.rng)
                }
                // 6. Loss, backward, RMSProp.
                let loss = step.lossAndGradients(parameters: st.parameters, rows: rows, labels: assignment.labels,
                                                 perturbedRows: perturbed, pairs: pairs, lambda: c.lambda,
                                                 reduction: c.mutualSmoothnessReduction)
                guard loss.total.isFinite else {
                    throw TrainingError("training diverged: loss \(loss.total) at epoch \(epoch), iteration \(it) (check the features for NaN or infinite values)")
                }
                let count = st.parameters.values.count
                st.parameters.values.withUnsafeMutableBufferPointer { w in
                    step.gradients.withUnsafeBufferPointer { g in
                        st.optimizer.step(parameters: w.baseAddress!, gradients: g.baseAddress!, count: count)
                    }
                }
                let anomalies = assignment.labels.reduce(0) { $0 + Int($1) }
                let share = Float(anomalies) / Float(rows)
                sums.loss += Double(loss.total); sums.bce += Double(loss.bce); sums.ms += Double(loss.mutualSmoothness)
                sums.bank += Double(bank.imageIndices.count); sums.share += Double(share); sums.pairs += Double(pairs.count)
                let report = TrainingProgress(
                    epoch: epoch, epochs: schedule.epochs, iteration: it, iterationsPerEpoch: itersPerEpoch,
                    globalIteration: st.iterations, totalIterations: schedule.totalIterations, loss: loss,
                    bankImages: bank.imageIndices.count, bankPatches: bank.rowCount, pseudoAnomalyShare: share,
                    perturbedPatches: perturbed.count, mutualPairs: pairs.count, bankRefreshed: refreshed,
                    certifiedQueries: certified, batchPatches: rows)
                progress?(report)
                st.stepLosses.append(loss.total)
                if let firstAveraged, st.iterations >= firstAveraged { st.accumulateAverage() }
                st.iterations += 1
                if let shouldStop, shouldStop(report) { throw TrainingCancelled(afterIteration: report.globalIteration) }
            }
            let m = Double(max(1, itersThisEpoch))
            let stats = EpochStatistics(epoch: epoch, loss: Float(sums.loss / m), bce: Float(sums.bce / m),
                                        mutualSmoothness: Float(sums.ms / m), bankImages: Float(sums.bank / m),
                                        pseudoAnomalyShare: Float(sums.share / m), mutualPairs: Float(sums.pairs / m),
                                        bankJaccard: st.bankJaccard(endOfEpoch: epoch))
            st.epochStatistics.append(stats)
            st.epochsCompleted += 1
            epochFinished?(stats)
            // Label-free early stop: asked after the statistics are final, before the
            // checkpoint, so that a resumed run replays the same question with the same history.
            if let policy = c.epochEnd, st.epochsCompleted < schedule.epochs,
               let reason = try policy.stopReason(history: st.epochStatistics,
                                                  moment: TrainingMoment(epoch: epoch, epochs: schedule.epochs, globalIteration: st.iterations, imageCount: n)) {
                st.stopReason = reason
                try checkpoint?(st)
                break
            }
            if c.checkpointEveryEpochs > 0, st.epochsCompleted % c.checkpointEveryEpochs == 0, let checkpoint {
                try checkpoint(st)
            }
        }
        var departures = c.departuresFromPaper
        if let reason = st.stopReason {
            departures.append("training stopped early after epoch \(st.epochsCompleted) of \(schedule.epochs) by \(c.epochEnd?.summary ?? "an epoch-end rule"): \(reason)")
        }
        if c.weightAveraging != nil && st.averagedSteps == 0 {
            departures.append("no step was averaged (training ended before the averaged tail began): the saved weights are the last step's")
        }
        return TrainingResult(model: LocalNet(parameters: st.outputParameters), state: st, departuresFromPaper: departures)
    }
}
