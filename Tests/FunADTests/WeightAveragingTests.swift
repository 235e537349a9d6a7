import Foundation
import Testing
@testable import FunAD

/// Tail averaging of the weights (`WeightAveraging`, issue 10's floating-point spread):
/// the saved model is the mean of the weights after each of the last steps, the training
/// trajectory is the one without averaging, and the mean survives a checkpoint.
@Suite struct WeightAveragingTests {
    static func configuration(steps: Int) -> TrainerConfiguration {
        var c = TrainerConfiguration()
        c.batchSize = 4; c.hidden1 = 8; c.hidden2 = 4; c.seed = 11
        c.steps = steps
        c.bankRefresh = .everyEpoch
        return c
    }

    static let source = TrainingTestSupport.patchSet(images: 16, anomalous: 2, gridSide: 2, dimension: 4,
                                                     anomalousPatches: 1, seed: 9).0

    /// ⌈tail · steps⌉ steps are averaged, at least one: the first averaged step's index.
    @Test func theTailCountsStepsFromTheEnd() {
        #expect(WeightAveraging(tail: 0.5).firstStep(totalSteps: 208) == 104)
        #expect(WeightAveraging(tail: 1).firstStep(totalSteps: 10) == 0)
        #expect(WeightAveraging(tail: 0.25).firstStep(totalSteps: 10) == 7)   // ⌈2.5⌉ = 3 steps: 7, 8, 9
        #expect(WeightAveraging(tail: 0.0001).firstStep(totalSteps: 10) == 9) // one step
        #expect(WeightAveraging(tail: 0.5).firstStep(totalSteps: 0) == 0)
    }

    /// The independent expectation: the weights after step k are the model of the same run
    /// stopped after k steps (a step-counted run's first k steps do not depend on its
    /// length). The averaged run of 10 steps with tail 0.3 saves the mean of the models
    /// after steps 8, 9 and 10, computed here in Double; its loss curve and live weights are
    /// those of the run without averaging.
    @Test func theSavedModelIsTheMeanOfTheLastStepsWeights() throws {
        var averaged = Self.configuration(steps: 10)
        averaged.weightAveraging = WeightAveraging(tail: 0.3)
        let a = try FunADTrainer(configuration: averaged).train(source: Self.source)
        let plain = try FunADTrainer(configuration: Self.configuration(steps: 10)).train(source: Self.source)
        #expect(a.state.stepLosses == plain.state.stepLosses)
        #expect(a.state.parameters == plain.state.parameters)
        #expect(plain.model.parameters == plain.state.parameters)
        #expect(a.state.averagedSteps == 3)

        let tails = try (8...10).map { try FunADTrainer(configuration: Self.configuration(steps: $0)).train(source: Self.source).model.parameters.values }
        #expect(tails[2] == plain.state.parameters.values)
        let saved = a.model.parameters.values
        var largest = 0.0
        for i in saved.indices {
            let mean = (Double(tails[0][i]) + Double(tails[1][i]) + Double(tails[2][i])) / 3
            largest = max(largest, abs(Double(saved[i]) - mean))
        }
        #expect(largest < 1e-6, "largest difference from the Double mean: \(largest)")
        #expect(saved != plain.model.parameters.values, "three different steps averaged must differ from the last")
        #expect(a.departuresFromPaper.contains { $0.hasPrefix("the saved weights are the mean over the last 30 %") })
    }

    /// A tail of one step saves the last step's weights exactly.
    @Test func aOneStepTailIsTheLastStep() throws {
        var c = Self.configuration(steps: 6)
        c.weightAveraging = WeightAveraging(tail: 0.0001)
        let a = try FunADTrainer(configuration: c).train(source: Self.source)
        #expect(a.state.averagedSteps == 1)
        #expect(a.model.parameters == a.state.parameters)
    }

    /// Interrupted after the second of three epochs of 4 steps (inside the averaged tail of
    /// ⌈0.6 · 12⌉ = 8 steps, which starts at step index 4), resumed from the checkpoint bytes: the same state and saved model
    /// as an uninterrupted run, bit for bit.
    @Test func aResumedRunKeepsTheMean() throws {
        var c = Self.configuration(steps: 12)
        c.weightAveraging = WeightAveraging(tail: 0.6)
        c.checkpointEveryEpochs = 1
        let full = try FunADTrainer(configuration: c).train(source: Self.source)
        struct Stop: Error {}
        var saved: Data?
        do {
            _ = try FunADTrainer(configuration: c).train(source: Self.source, checkpoint: { s in
                if s.epochsCompleted == 2 { saved = try TrainerCheckpoint.encode(s); throw Stop() }
            })
            Issue.record("expected the interruption")
        } catch is Stop {}
        let state = try TrainerCheckpoint.decode(try #require(saved))
        #expect(state.averagedSteps == 4 && state.averagedWeights != nil)
        let resumed = try FunADTrainer(configuration: c).train(source: Self.source, from: state)
        #expect(resumed.state == full.state)
        #expect(resumed.model.parameters == full.model.parameters)
    }

    /// A checkpoint whose mean is incomplete or of the wrong size is refused with the file's name.
    @Test func damagedMeansInCheckpointsAreRefused() throws {
        var c = Self.configuration(steps: 4)
        c.weightAveraging = WeightAveraging(tail: 1)
        let state = try FunADTrainer(configuration: c).train(source: Self.source).state
        var noCount = state
        noCount.averagedSteps = 0
        noCount.averagedWeights = state.averagedWeights
        // The count is written only with the tensor; a count of 0 is out of range.
        #expect(throws: TrainingError.self) { try TrainerCheckpoint.decode(TrainerCheckpoint.encode(noCount), name: "c.safetensors") }
        var short = state
        short.averagedWeights = Array(state.averagedWeights!.dropLast())
        do {
            _ = try TrainerCheckpoint.decode(TrainerCheckpoint.encode(short), name: "c.safetensors")
            Issue.record("expected a refusal")
        } catch let e as TrainingError {
            #expect(e.description.hasPrefix("c.safetensors: tensor 'average.weights' has shape"))
        }
        var tooMany = state
        tooMany.averagedSteps = state.iterations + 1
        #expect(throws: TrainingError.self) { try TrainerCheckpoint.decode(TrainerCheckpoint.encode(tooMany), name: "c.safetensors") }
        // A mean of one step in a checkpoint written before any step ran.
        var beforeAnyStep = FunADTrainer(configuration: c).initialState(for: Self.source)
        beforeAnyStep.averagedWeights = beforeAnyStep.parameters.values
        beforeAnyStep.averagedSteps = 1
        #expect(throws: TrainingError.self) { try TrainerCheckpoint.decode(TrainerCheckpoint.encode(beforeAnyStep), name: "c.safetensors") }
        #expect(try TrainerCheckpoint.decode(TrainerCheckpoint.encode(state)) == state)
    }

    @Test func aTailOutsideTheRunIsRefused() {
        for tail in [0.0, -0.5, 1.5, .nan] {
            var c = Self.configuration(steps: 4)
            c.weightAveraging = WeightAveraging(tail: tail)
            #expect(throws: TrainingError.self, "tail \(tail)") { try FunADTrainer(configuration: c).train(source: Self.source) }
        }
    }
}
