import Foundation
import Testing
@testable import FunAD

/// Schedules counted in optimiser steps (issue 10): the same `steps` runs the same number
/// of steps on any set size, an epoch-counted run is unchanged, and the last partial epoch
/// is resumable and reported as such.
@Suite struct ScheduleTests {
    static func configuration(batch: Int = 8) -> TrainerConfiguration {
        var c = TrainerConfiguration()
        c.batchSize = batch; c.hidden1 = 8; c.hidden2 = 4; c.seed = 3
        return c
    }

    /// 30 steps in batches of 8: 50 images give ⌊50/8⌋ = 6 iterations per epoch, so
    /// ⌈30/6⌉ = 5 full epochs; 800 images give 100 per epoch, so one epoch cut after 30.
    /// Both run 30 optimiser steps (counted by the progress reports and by RMSProp itself).
    @Test func sameStepsOnA50And800ImageSetRunTheSameOptimiserSteps() throws {
        for (images, epochs, perEpoch) in [(50, 5, 6), (800, 1, 100)] {
            let (source, _) = TrainingTestSupport.patchSet(images: images, anomalous: images / 10, gridSide: 2, dimension: 4,
                                                           anomalousPatches: 1, seed: 7)
            var c = Self.configuration()
            c.steps = 30
            c.bankRefresh = .everyEpoch
            var seen: [TrainingProgress] = []
            let r = try FunADTrainer(configuration: c).train(source: source, progress: { seen.append($0) })
            #expect(seen.count == 30 && r.state.iterations == 30 && r.state.optimizer.steps == 30 && r.state.stepLosses.count == 30,
                    "\(images) images")
            #expect(seen.allSatisfy { $0.totalIterations == 30 && $0.epochs == epochs && $0.iterationsPerEpoch == perEpoch })
            #expect(r.state.epochStatistics.count == epochs && r.state.epochsCompleted == epochs)
            #expect(c.schedule(imageCount: images) == TrainingSchedule(iterationsPerEpoch: perEpoch, totalIterations: 30,
                                                                       epochs: epochs, countedInSteps: true))
        }
    }

    /// `epochs: 3` and `steps: 3 · 4` are the same run, bit for bit; a run of 10 steps
    /// (epochs of 4) shares its first 8 steps with a 2-epoch run and ends with a 2-step
    /// epoch whose statistics are the mean over those 2 steps.
    @Test func stepCountedRunsMatchEpochCountedRunsAndEndWithAPartialEpoch() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 16, anomalous: 2, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 5)
        var byEpochs = Self.configuration(batch: 4)
        byEpochs.epochs = 3
        var bySteps = byEpochs
        bySteps.steps = 12
        let a = try FunADTrainer(configuration: byEpochs).train(source: source)
        let b = try FunADTrainer(configuration: bySteps).train(source: source)
        #expect(a.state == b.state)

        bySteps.steps = 10
        var losses: [Float] = []
        let ten = try FunADTrainer(configuration: bySteps).train(source: source, progress: { losses.append($0.loss.total) })
        byEpochs.epochs = 2
        let eight = try FunADTrainer(configuration: byEpochs).train(source: source)
        #expect(Array(ten.state.stepLosses.prefix(8)) == eight.state.stepLosses)
        #expect(ten.state.stepLosses == losses)
        #expect(ten.state.epochStatistics.count == 3)
        #expect(ten.state.epochStatistics[2].loss == Float((Double(losses[8]) + Double(losses[9])) / 2))
        #expect(bySteps.schedule(imageCount: 16).summary == "10 steps = 3 epochs of 4 iterations (the last one 2)")
        #expect(byEpochs.schedule(imageCount: 16).summary == "2 epochs of 4 iterations (8 steps)")
        #expect(bySteps.departuresFromPaper.contains("10 optimiser steps (paper: 1500 epochs)"))
    }

    /// A step-counted run interrupted after its second epoch (of three, the last partial)
    /// resumes from the checkpoint file to the state of an uninterrupted run, loss curve
    /// included.
    @Test func stepCountedRunResumesMidSchedule() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 16, anomalous: 2, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 5)
        var c = Self.configuration(batch: 4)
        c.steps = 10
        c.checkpointEveryEpochs = 1
        let full = try FunADTrainer(configuration: c).train(source: source)
        struct Stop: Error {}
        var saved: Data?
        do {
            _ = try FunADTrainer(configuration: c).train(source: source, checkpoint: { s in
                if s.epochsCompleted == 2 { saved = try TrainerCheckpoint.encode(s); throw Stop() }
            })
            Issue.record("expected the interruption")
        } catch is Stop {}
        let state = try TrainerCheckpoint.decode(try #require(saved))
        #expect(state.iterations == 8 && state.stepLosses.count == 8)
        let resumed = try FunADTrainer(configuration: c).train(source: source, from: state)
        #expect(resumed.state == full.state)
    }

    @Test func negativeStepsAreRefused() {
        let (source, _) = TrainingTestSupport.patchSet(images: 8, anomalous: 1, gridSide: 2, dimension: 4, anomalousPatches: 1, seed: 1)
        var c = Self.configuration(batch: 4)
        c.steps = -1
        do { _ = try FunADTrainer(configuration: c).train(source: source); Issue.record("expected an error") } catch {
            #expect("\(error)" == "training configuration: steps must be ≥ 0, got -1")
        }
    }
}

/// The label-free convergence warning (issue 10) against hand-computed lines.
@Suite struct ConvergenceTests {
    /// Losses 10, 9, …, 1 (T = 10): tail m = max(3, ⌈0.2·10⌉) = 3 → [3, 2, 1], slope −1,
    /// no residual, D = 2; F = mean(10, 9, 8) − mean(3, 2, 1) = 9 − 2 = 7; S = 2/7.
    @Test func steadilyFallingLossIsFlagged() {
        let a = ConvergenceCheck().assess(stepLosses: (1...10).reversed().map(Float.init))
        #expect(a.tailSteps == 3 && a.tailFall == 2 && a.tailFallError == 0 && a.runFall == 7)
        #expect(abs(a.share! - 2.0 / 7.0) < 1e-12)
        #expect(a.warning == "the loss was still falling when training ended: over the last 3 of 10 optimiser steps (30 %) its least-squares line fell by 2 (± 0), 29 % of the run's fall 7 (warning above 10 %); the model may be undertrained, train for more steps (e.g. steps: 20)")
    }

    /// T = 20 → m = 4. Tail [1.2, 1, 1.2, 1]: slope −0.04, D = 0.12, residuals
    /// (0.04, −0.12, 0.12, −0.04), s² = 0.032/2, SE(b) = √(0.016/5), SE(D) = 3·SE(b) ≈ 0.170:
    /// D < 2·SE(D), noise, not a trend, although S = 1 (the run did not fall at all).
    @Test func noiseIsNotATrend() {
        let losses = (0..<20).map { Float($0 % 2 == 0 ? 1.2 : 1.0) }
        let a = ConvergenceCheck().assess(stepLosses: losses)
        #expect(a.tailSteps == 4 && abs(a.tailFall! - 0.12) < 1e-6 && abs(a.tailFallError! - 3 * (0.016 / 5).squareRoot()) < 1e-6)
        #expect(a.share == 1 && a.warning == nil)
    }

    /// L_t = 1 + e^(−t/10) over T = 100 steps (10 time constants): the tail's share of the
    /// fall is below 0.1 % (D ≤ e^(−8), F ≥ e^(−2) − e^(−8)); a flat curve has S = 0; a
    /// rising one is never flagged.
    @Test func settledFlatAndRisingCurvesAreNotFlagged() {
        let decayed = ConvergenceCheck().assess(stepLosses: (0..<100).map { 1 + Float(exp(-Double($0) / 10)) })
        #expect(decayed.tailSteps == 20 && decayed.share! < 0.001 && decayed.warning == nil)
        #expect(ConvergenceCheck().assess(stepLosses: [Float](repeating: 0.7, count: 50)).share == 0)
        let rising = ConvergenceCheck().assess(stepLosses: (0..<30).map(Float.init))
        #expect(rising.share == 0 && rising.warning == nil)
        #expect(ConvergenceCheck().assess(stepLosses: []).warning == nil)
        #expect(ConvergenceCheck().assess(stepLosses: [1, 0.5]).warning == "training ran only 2 optimiser steps, too few to tell whether the loss settled (at least 3 are needed to fit its trend); train for more steps")
    }

    /// On an easy synthetic set (one shifted patch in 3 of 24 images) a short run is still
    /// falling and is flagged; the same set trained to convergence is not. The batch is the
    /// whole set, so that the per-step loss is not dominated by which images a batch drew
    /// (the pseudo-labels are min-max normalised per batch, Eq. 28). Measured here: 8 steps,
    /// S = 0.47 with D = 0.077 ± 0.007 (flagged); 100 steps, loss 1.34 → 0.06 and S = 0.05
    /// (not flagged), both far from the 0.1 line and the 2-standard-error guard.
    @Test func shortTrainingIsFlaggedAndTrainingToConvergenceIsNot() throws {
        let (source, _) = TrainingTestSupport.patchSet(images: 24, anomalous: 3, gridSide: 3, dimension: 8, anomalousPatches: 1, seed: 4)
        var c = TrainerConfiguration()
        c.batchSize = 24; c.hidden1 = 16; c.hidden2 = 8; c.seed = 1
        c.optimizer.learningRate = 1e-3
        c.steps = 8
        let short = ConvergenceCheck().assess(stepLosses: try FunADTrainer(configuration: c).train(source: source).state.stepLosses)
        #expect(short.warning != nil)
        c.steps = 100
        let long = ConvergenceCheck().assess(stepLosses: try FunADTrainer(configuration: c).train(source: source).state.stepLosses)
        #expect(long.warning == nil, "\(long)")
    }
}

/// Image-score rules of `infer` (issue 10) against hand-computed values.
@Suite struct ImageScoreRuleTests {
    /// Score = the feature's single component.
    struct Identity: PatchScorer {
        var dimension: Int { 1 }
        func scorePatches(_ f: UnsafePointer<Float>, count: Int, into s: UnsafeMutablePointer<Float>) throws {
            for i in 0..<count { s[i] = f[i] }
        }
    }

    static func scores(_ grid: [Float], side: Int, mapSide: Int, sigma: Double, rule: ImageScoreRule) throws -> Float {
        let features = InMemoryPatchFeatures(imageCount: 1, gridHeight: side, gridWidth: side, dimension: 1, values: grid)
        return try Inference.run(scorer: Identity(), features: features, mapSide: mapSide, sigma: sigma, writeMapsTo: nil,
                                 imageScoreRule: rule).imageScores[0]
    }

    /// Grid 0.1, 0.9, 0.5, 0.3: max 0.9; top half (k = 2) (0.9 + 0.5)/2 = 0.7;
    /// fraction 0.3 → k = ⌈1.2⌉ = 2 → 0.7; fraction 0.01 → k = 1 → 0.9; all → 0.45.
    @Test func topKMeanAveragesTheHighestPatches() throws {
        let g: [Float] = [0.1, 0.9, 0.5, 0.3]
        #expect(try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .maximum) == 0.9)
        #expect(abs(try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .topKMean(fraction: 0.5)) - 0.7) < 1e-7)
        #expect(abs(try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .topKMean(fraction: 0.3)) - 0.7) < 1e-7)
        #expect(try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .topKMean(fraction: 0.01)) == 0.9)
        #expect(abs(try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .topKMean(fraction: 1)) - 0.45) < 1e-7)
        #expect(ImageScoreRule.topKCount(fraction: 0.01, patches: 784) == 8)
        do { _ = try Self.scores(g, side: 2, mapSide: 2, sigma: 0, rule: .topKMean(fraction: 0)); Issue.record("expected an error") } catch {
            #expect("\(error)" == "infer: the top-k fraction must be in (0, 1], got 0.0")
        }
    }

    /// Grid [[1, 0], [0, 0]], map 2×2 (no resize), σ = 1: SciPy's kernel has radius 4 and
    /// 'reflect' folds offsets −4…4 of a 2-long axis onto index 0 for {−4, −1, 0, 3, 4}
    /// and onto index 1 for {−3, −2, 1, 2}. So the map at (0, 0) is a², a = Σ of the
    /// normalised weights e^(−k²/2) over the first set, and that is the maximum.
    @Test func smoothedMaximumIsTheMaximumOfTheSmoothedMap() throws {
        let w = (-4...4).map { exp(-0.5 * Double($0 * $0)) }
        let total = w.reduce(0, +)
        let a = [-4, -1, 0, 3, 4].map { w[$0 + 4] }.reduce(0, +) / total
        let s = try Self.scores([1, 0, 0, 0], side: 2, mapSide: 2, sigma: 1, rule: .smoothedMaximum)
        #expect(abs(Double(s) - a * a) < 1e-6)
        // Without smoothing and resize the map is the grid, so the rule is the maximum.
        #expect(try Self.scores([0.2, 0.7, 0.1, 0.4], side: 2, mapSide: 2, sigma: 0, rule: .smoothedMaximum) == 0.7)
    }

    /// Training images (3, a 2×2 grid), per position: [1, 2, 3] → median 2, MAD 1;
    /// [10, 10, 40] → median 10, MAD 0; [0, 4, 8] → median 4, MAD 4; [5, 7, 6] → median 6,
    /// MAD 1. Scales 1.4826 · MAD = [1.4826, 0, 5.9304, 1.4826]; their median (1.4826 + 1.4826)/2
    /// gives the floor 0.14826, which replaces the 0. The test image [5, 10, 4, 6] has its
    /// largest raw score at position 1, where it is ordinary (0 after calibration); position
    /// 0 decides: (5 − 2) / 1.4826 = 2.0235.
    @Test func calibratedMaximumComparesEachPatchWithItsPosition() throws {
        let training = InMemoryPatchFeatures(imageCount: 3, gridHeight: 2, gridWidth: 2, dimension: 1,
                                             values: [1, 10, 0, 5, 2, 10, 4, 7, 3, 40, 8, 6])
        let c = try PositionCalibration.fit(scorer: Identity(), features: training)
        #expect(c.center == [2, 10, 4, 6])
        let expectedScale: [Float] = [1.4826, 0.14826, 5.9304, 1.4826]
        for (got, want) in zip(c.scale, expectedScale) { #expect(abs(got - want) < 1e-5) }
        let s = try Self.scores([5, 10, 4, 6], side: 2, mapSide: 2, sigma: 0, rule: .positionCalibratedMaximum(c))
        #expect(abs(s - 3 / 1.4826) < 1e-5)
        #expect(try Self.scores([5, 10, 4, 6], side: 2, mapSide: 2, sigma: 0, rule: .maximum) == 10)
        // A calibration of another grid is refused with a message naming both sizes.
        let wrong = PositionCalibration(center: [0], scale: [1], logit: false)
        do { _ = try Self.scores([5, 10, 4, 6], side: 2, mapSide: 2, sigma: 0, rule: .positionCalibratedMaximum(wrong)); Issue.record("expected an error") } catch {
            #expect("\(error)" == "infer: the per-position calibration has 1 positions, the features 4 patches per image")
        }
    }

    /// Local-Net's calibration values are its logits: σ(logit) is the score it returns
    /// (the same pass), and the scores equal plain `scoreImages`. A scorer without logits
    /// (the identity here) calibrates its scores themselves.
    @Test func localNetCalibratesItsLogits() throws {
        let shape = LocalNetShape(dimension: 6, hidden1: 10, hidden2: 5)
        var rng = Xoshiro256StarStar(seed: 11)
        let net = LocalNet(parameters: LocalNetParameters(pytorchDefault: shape, rng: &rng))
        let images = 3, patches = 4, n = images * patches
        var x = [Float](repeating: 0, count: n * shape.dimension)
        rng.fillGaussian(&x, count: x.count, std: 2)
        var scores = [Float](repeating: 0, count: n), plain = scores, values = scores
        try net.scoreImages(x, images: images, patchesPerImage: patches, into: &scores, calibrationValues: &values)
        try net.scoreImages(x, images: images, patchesPerImage: patches, into: &plain)
        #expect(net.calibratesLogits && scores == plain)
        for (s, z) in zip(scores, values) { #expect(abs(1 / (1 + exp(-Double(z))) - Double(s)) < 1e-6) }
        #expect(values != scores)
        var identityScores = [Float](repeating: 0, count: 2), identityValues = identityScores
        try Identity().scoreImages([0.25, 3], images: 1, patchesPerImage: 2, into: &identityScores, calibrationValues: &identityValues)
        #expect(!Identity().calibratesLogits && identityValues == [0.25, 3] && identityScores == [0.25, 3])
    }
}
