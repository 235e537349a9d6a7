import Foundation
import Testing
@testable import FunAD

@Suite struct TrainingTests {
    /// Paper pseudo-labels by hand: distances [1, 3, 5, 2, 4.6, 1.4] → min-max
    /// [0, .5, 1, .25, .9, .1]; anomalous iff > 0.5 → [0,0,1,0,1,0]; ambiguous iff in
    /// (0.5, 0.9): none of them (4.6 maps to exactly 0.9, which is not < 0.9).
    /// [0, 10, 6, 8]: s = [0, 1, .6, .8] → labels [0,1,1,1], ambiguous [2, 3].
    @Test func paperPseudoLabels() {
        let policy = PaperPseudoLabelPolicy()
        let a = policy.assign(distances: [1, 3, 5, 2, 4.6, 1.4], moment: .test)
        #expect(a.labels == [0, 0, 1, 0, 1, 0])
        let b = policy.assign(distances: [0, 10, 6, 8], moment: .test)
        #expect(b.labels == [0, 1, 1, 1] && b.ambiguous == [2, 3])
        #expect(policy.assign(distances: [2, 2, 2], moment: .test).labels == [0, 0, 0]) // all equal → all 0
    }

    /// Paper bank rule: scores [0.1, 0.9, 0.2, 0.5, 0.4] → min-max [0, 1, .125, .5, .375]
    /// → candidates {0, 2, 4} (< 0.5) → ⌊3·0.5⌋ = 1 image drawn from them.
    /// One outlier collapses it (METHOD.md): [0, 10, 10.1, 10.2, ...] keeps only image 0,
    /// while the quantile rule keeps its minimum.
    @Test func bankSelectionPolicies() {
        var rng = Xoshiro256StarStar(seed: 1)
        let paper = PaperBankSelection()
        let picked = paper.selectBankImages(imageScores: [0.1, 0.9, 0.2, 0.5, 0.4], moment: .test, rng: &rng)
        #expect(picked.count == 1 && [0, 2, 4].contains(picked[0]))
        var all = PaperBankSelection(); all.fraction = 1
        #expect(Set(all.selectBankImages(imageScores: [0.1, 0.9, 0.2, 0.5, 0.4], moment: .test, rng: &rng)) == [0, 2, 4])
        let collapsed = [Float(0)] + (1..<40).map { 10 + Float($0) * 0.01 }
        #expect(all.selectBankImages(imageScores: collapsed, moment: .test, rng: &rng) == [0])
        let quantile = QuantileBankSelection(quantile: 0.25, fraction: 0.5, minimumImages: 8)
        let q = quantile.selectBankImages(imageScores: collapsed, moment: .test, rng: &rng)
        #expect(q.count == 8 && Set(q).isSubset(of: Set(0..<10)))  // lowest ⌈0.25·40⌉ = 10, half → 5 < 8 → 8
        #expect(!quantile.isPaperDefault && paper.isPaperDefault)
    }

    /// σ by hand: B = 2 images, P = 2 positions, D = 1. Position 0 holds {0, 2}
    /// (unbiased std √2), position 1 holds {4, 0} (std √8) → σ = √8.
    @Test func perturbationScaleIsMaxOverPositionsOfBatchStd() {
        let x: [Float] = [0, 4, 2, 0] // image 0: patches 0, 1; image 1: patches 0, 1
        let s = GaussianPerturbation.sigma(x, images: 2, patches: 2, dimension: 1)
        #expect(abs(s[0] - Float(8).squareRoot()) < 1e-6)
        #expect(GaussianPerturbation.sigma(x, images: 1, patches: 4, dimension: 1) == [0])
    }

    /// Gaussian draws: mean ≈ 0 and variance ≈ 1 within 4 standard errors over 200 000
    /// draws; uniform indices cover their range; permutations are permutations.
    @Test func generatorStatistics() throws {
        var rng = Xoshiro256StarStar(seed: 99)
        let n = 200_000
        var sum = 0.0, sq = 0.0
        for _ in 0..<n { let g = rng.nextGaussian(); sum += g; sq += g * g }
        let mean = sum / Double(n), variance = sq / Double(n) - mean * mean
        #expect(abs(mean) < 4 / Double(n).squareRoot())
        #expect(abs(variance - 1) < 4 * (2 / Double(n)).squareRoot())
        #expect(rng.permutation(50).sorted() == Array(0..<50))
        var bulk = [Float](repeating: 0, count: n + 1) // odd count: last value from a cosine alone
        rng.fillStandardNormalPairs(&bulk, count: bulk.count)
        let bm = bulk.reduce(0.0) { $0 + Double($1) } / Double(bulk.count)
        let bv = bulk.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(bulk.count) - bm * bm
        #expect(abs(bm) < 4 / Double(n).squareRoot() && abs(bv - 1) < 4 * (2 / Double(n)).squareRoot())
        // Cosine and sine outputs of one pair are uncorrelated.
        let corr = stride(from: 0, to: n, by: 2).reduce(0.0) { $0 + Double(bulk[$1]) * Double(bulk[$1 + 1]) } / Double(n / 2)
        #expect(abs(corr) < 4 / Double(n / 2).squareRoot())
        // xoshiro256** reference value: state (1, 2, 3, 4) gives 11520 as its first output.
        var ref = try Xoshiro256StarStar(state: [1, 2, 3, 4])
        #expect(ref.next() == 11520)
        #expect(throws: RandomStateError.self) { try Xoshiro256StarStar(state: [0, 0, 0, 0]) }
    }

    @Test func departuresNameEveryNonPaperKnob() {
        var c = TrainerConfiguration()
        #expect(c.departuresFromPaper == ["L_MS = half the mean |phi(a) - phi(b)| over mutual pairs (official code; paper Eq. 29 has the mean)"])
        c.mutualSmoothnessReduction = .mean
        #expect(c.departuresFromPaper.isEmpty)
        c.bankRefresh = .everyEpoch
        c.perturbation = false
        c.patchSubsampling = PatchSubsampling(batchPatches: 100, bankPatches: nil)
        c.bankSelection = QuantileBankSelection()
        #expect(c.departuresFromPaper == [
            "Gaussian perturbation of ambiguous features disabled (ablation)",
            "memory bank rebuilt once per epoch (paper: every iteration)",
            "bank selection: quantile: lowest 0.5 of raw image scores (≥ 8 images), random fraction 0.5 (≥ 8)",
            "batch uses 100 random patch positions per iteration (paper: all)",
        ])
    }

    @Test func configurationErrorsNameTheField() {
        let (source, _) = TrainingTestSupport.patchSet(images: 10, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 1)
        var c = TrainerConfiguration()
        c.epochs = 1
        do { _ = try FunADTrainer(configuration: c).train(source: source); Issue.record("expected an error") } catch {
            #expect("\(error)" == "training configuration: the feature set has 10 images, fewer than batchSize 32 (the last partial batch is dropped, so no iteration would run); lower batchSize")
        }
        c.batchSize = 4
        c.patchSubsampling.batchPatches = 5
        do { _ = try FunADTrainer(configuration: c).train(source: source); Issue.record("expected an error") } catch {
            #expect("\(error)" == "training configuration: patchSubsampling.batchPatches = 5; expected 1...4 (patches per image)")
        }
    }

    /// Patch-level training with every knob on: subsampled batch and bank, bank refresh
    /// every 2 iterations, quantile bank rule. Invariants: the progress closure sees every
    /// iteration with consistent counters, bank sizes match the subsampling, and the
    /// records list the refreshes exactly on schedule.
    @Test func patchLevelRunReportsProgressAndBankRecords() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 24, anomalous: 3, gridSide: 3, dimension: 8, anomalousPatches: 2, seed: 4)
        var c = TrainerConfiguration()
        c.epochs = 3; c.batchSize = 6; c.hidden1 = 16; c.hidden2 = 8
        c.bankRefresh = .everyIterations(2)
        c.bankSelection = QuantileBankSelection(quantile: 0.5, fraction: 0.5, minimumImages: 4)
        c.patchSubsampling = PatchSubsampling(batchPatches: 5, bankPatches: 7)
        var seen: [TrainingProgress] = []
        let r = try FunADTrainer(configuration: c).train(source: source, progress: { seen.append($0) })
        #expect(seen.count == 12 && seen.map(\.globalIteration) == Array(0..<12))
        #expect(seen.allSatisfy { $0.totalIterations == 12 && $0.iterationsPerEpoch == 4 && $0.bankPatches == 7 * $0.bankImages })
        #expect(seen.map(\.bankRefreshed) == (0..<12).map { $0 % 2 == 0 })
        #expect(r.state.bankRecords.map(\.iteration) == [0, 2, 4, 6, 8, 10])
        #expect(r.state.bankRecords.allSatisfy { $0.imageCount == 6 && $0.patchCount == 42 }) // ⌈0.5·24⌉ = 12 → half = 6
        #expect(r.state.epochStatistics.map(\.epoch) == [0, 1, 2])
        #expect(seen.allSatisfy { $0.loss.total.isFinite && $0.perturbedPatches <= 30 })
    }

    /// The global vector is the first `globalDimension` values of every patch feature.
    @Test func imageLevelFeaturesKeepTheGlobalVector() throws {
        let base = InMemoryPatchFeatures(imageCount: 2, gridHeight: 1, gridWidth: 2, dimension: 3,
                                         values: [1, 2, 9, 1, 2, 8, 3, 4, 7, 3, 4, 6])
        let images = try ImageLevelFeatures(base: base, globalDimension: 2)
        var out = [Float](repeating: 0, count: 2)
        try images.patchFeatures(ofImage: 1, into: &out)
        #expect(out == [3, 4] && images.patchesPerImage == 1 && images.dimension == 2)
        do { _ = try ImageLevelFeatures(base: base, globalDimension: 4); Issue.record("expected an error") } catch {
            #expect("\(error)" == "image-level features: globalDimension 4; expected 1...3 (the patch feature dimension)")
        }
    }

    struct OutOfRangePolicy: BankSelectionPolicy {
        func selectBankImages(imageScores: [Float], moment: TrainingMoment, rng: inout Xoshiro256StarStar) -> [Int] { [imageScores.count + 5] }
        var summary: String { "test policy" }
        var isPaperDefault: Bool { false }
    }

    /// A user policy plugs in without touching the loop, and its bad output is reported.
    @Test func userPolicyOutputIsChecked() {
        let (source, _) = TrainingTestSupport.patchSet(images: 12, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 2)
        var c = TrainerConfiguration()
        c.epochs = 1; c.batchSize = 4; c.hidden1 = 8; c.hidden2 = 4
        c.bankSelection = OutOfRangePolicy()
        #expect(c.departuresFromPaper.contains("bank selection: test policy"))
        do { _ = try FunADTrainer(configuration: c).train(source: source); Issue.record("expected an error") } catch {
            #expect("\(error)" == "bank selection policy 'test policy' returned image index 17; expected 0..<12")
        }
    }

    @Test func shouldStopCancelsAfterTheIteration() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 12, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 2)
        var c = TrainerConfiguration()
        c.epochs = 3; c.batchSize = 4; c.hidden1 = 8; c.hidden2 = 4
        var seen = 0
        do {
            _ = try FunADTrainer(configuration: c).train(source: source, progress: { _ in seen += 1 },
                                                         shouldStop: { $0.globalIteration == 4 })
            Issue.record("expected cancellation")
        } catch let e as TrainingCancelled {
            #expect(e.afterIteration == 4 && seen == 5)
            #expect(e.description == "training cancelled after iteration 4")
        }
    }

    /// Without the adapted-feature store the bank images are forwarded again: the run
    /// must pick the same banks and end at the same weights up to float rounding
    /// (the recomputed φ_a comes from a different GEMM batch composition).
    @Test func bankWithoutAdaptedStoreMatches() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 24, anomalous: 3, gridSide: 3, dimension: 8, anomalousPatches: 2, seed: 4)
        var c = TrainerConfiguration()
        c.epochs = 2; c.batchSize = 6; c.hidden1 = 16; c.hidden2 = 8
        c.patchSubsampling = PatchSubsampling(batchPatches: nil, bankPatches: 5)
        let kept = try FunADTrainer(configuration: c).train(source: source)
        c.keepAdaptedFeatures = false
        let recomputed = try FunADTrainer(configuration: c).train(source: source)
        #expect(kept.state.bankRecords == recomputed.state.bankRecords)
        let err = zip(kept.state.parameters.values, recomputed.state.parameters.values).map { abs($0 - $1) }.max()!
        #expect(err < 1e-5, "max weight difference \(err)")
        let bankErr = zip(kept.state.bank!.features, recomputed.state.bank!.features).map { abs($0 - $1) }.max()!
        #expect(bankErr < 1e-4 && kept.state.bank!.rowImage == recomputed.state.bank!.rowImage)
    }

    /// Stops once the epoch index reaches `after` (0-based), with a fixed reason.
    struct StopAfter: EpochEndPolicy {
        var after: Int
        func stopReason(history: [EpochStatistics], moment: TrainingMoment) -> String? {
            history.last!.epoch == moment.epoch && moment.epoch >= after ? "test rule met at epoch \(moment.epoch + 1)" : nil
        }
        var summary: String { "stop after epoch \(after + 1)" }
    }

    /// An epoch-end rule ends training after the epoch it answers for, the reason is in
    /// the state and the departures, the weights equal those of a run configured with that
    /// many epochs, and a run resumed from the stop checkpoint does not train further.
    @Test func epochEndPolicyStopsTraining() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 12, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 2)
        var c = TrainerConfiguration()
        c.epochs = 5; c.batchSize = 4; c.hidden1 = 8; c.hidden2 = 4; c.bankRefresh = .everyEpoch
        c.epochEnd = StopAfter(after: 1)
        var saved: TrainerState?
        let stopped = try FunADTrainer(configuration: c).train(source: source, checkpoint: { saved = $0 })
        #expect(stopped.state.epochsCompleted == 2 && stopped.state.stopReason == "test rule met at epoch 2")
        #expect(stopped.departuresFromPaper.last == "training stopped early after epoch 2 of 5 by stop after epoch 2: test rule met at epoch 2")
        var plain = c
        plain.epochs = 2; plain.epochEnd = nil
        let two = try FunADTrainer(configuration: plain).train(source: source)
        #expect(two.state.parameters == stopped.state.parameters)
        let resumed = try FunADTrainer(configuration: c).train(source: source, from: saved!)
        #expect(resumed.state.epochsCompleted == 2 && resumed.state.parameters == stopped.state.parameters)
        // Jaccard of consecutive epoch-end banks: 0 for the first epoch, in [0, 1] after,
        // and equal to the overlap recomputed from the refresh records.
        let stats = stopped.state.epochStatistics
        #expect(stats[0].bankJaccard == 0)
        let a = Set(stopped.state.bankRecords[1].imageIndices), b = Set(stopped.state.bankRecords[0].imageIndices)
        #expect(stats[1].bankJaccard == Float(a.intersection(b).count) / Float(a.union(b).count))
    }
}
