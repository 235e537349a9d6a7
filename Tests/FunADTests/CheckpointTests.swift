import Foundation
import Testing
@testable import FunAD

@Suite struct CheckpointTests {
    struct Interrupted: Error {}

    /// A small patch-level run whose bank is stale at epoch boundaries (refresh every
    /// 3 iterations, 4 iterations per epoch), so a checkpoint must carry the bank too.
    static func configuration() -> TrainerConfiguration {
        var c = TrainerConfiguration()
        c.epochs = 5; c.batchSize = 5; c.hidden1 = 24; c.hidden2 = 8
        c.bankRefresh = .everyIterations(3)
        c.checkpointEveryEpochs = 2
        c.seed = 17
        return c
    }

    static func source() -> InMemoryPatchFeatures {
        TrainingTestSupport.patchSet(images: 20, anomalous: 2, gridSide: 3, dimension: 10, anomalousPatches: 3, seed: 8).0
    }

    /// Same seed, features and threads → the same weights bit for bit; another seed differs.
    @Test func sameSeedGivesBitIdenticalWeights() throws {
        let c = Self.configuration()
        let a = try FunADTrainer(configuration: c).train(source: Self.source())
        let b = try FunADTrainer(configuration: c).train(source: Self.source())
        #expect(a.state == b.state)
        var other = c
        other.seed = 18
        let d = try FunADTrainer(configuration: other).train(source: Self.source())
        #expect(d.state.parameters != a.state.parameters)
    }

    /// Interrupt after the checkpoint at epoch 2 (the handler writes the file, then
    /// throws), resume from the file: final weights, optimiser buffers, generator, bank
    /// and logs equal the uninterrupted run's, bit for bit. Also covers epoch 4's
    /// checkpoint being written by the resumed run and the file loading as a LocalNet.
    @Test func resumedRunEqualsUninterruptedRun() throws {
        let c = Self.configuration()
        let full = try FunADTrainer(configuration: c).train(source: Self.source())

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("trainer.safetensors")
        let writer = TrainerCheckpoint.fileWriter(url)
        #expect(throws: Interrupted.self) {
            _ = try FunADTrainer(configuration: c).train(source: Self.source(), checkpoint: { state in
                try writer(state)
                if state.epochsCompleted == 2 { throw Interrupted() }
            })
        }
        let saved = try TrainerCheckpoint.read(url)
        #expect(saved.epochsCompleted == 2 && saved.iterations == 8 && saved.bank != nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["trainer.safetensors"]) // no temp left

        let resumed = try FunADTrainer(configuration: c).train(source: Self.source(), from: saved, checkpoint: writer)
        #expect(resumed.state == full.state)
        #expect(resumed.state.parameters.values == full.state.parameters.values)
        #expect(try TrainerCheckpoint.read(url).epochsCompleted == 4)
        #expect(try LocalNet(contentsOf: url).parameters.shape == full.state.parameters.shape)
        // Encoding is deterministic.
        #expect(try TrainerCheckpoint.encode(full.state) == TrainerCheckpoint.encode(full.state))
    }

    @Test func corruptCheckpointsAreRejectedWithTheFileName() throws {
        let state = TrainerState(shape: LocalNetShape(dimension: 3, hidden1: 4, hidden2: 2), seed: 1)
        var tensors = try SafeTensors.decode(TrainerCheckpoint.encode(state))
        tensors["optimizer.square_avg"] = WeightTensor(shape: [2], values: [0, 0])
        let json = try TrainerCheckpoint.metadataValue(TrainerCheckpoint.encode(state), key: "funad.trainer", name: "x")!
        let bad = try SafeTensors.encode(tensors, metadata: ["funad.trainer": json])
        do { _ = try TrainerCheckpoint.decode(bad, name: "run/ckpt.safetensors"); Issue.record("expected an error") } catch {
            #expect("\(error)" == "run/ckpt.safetensors: tensor 'optimizer.square_avg' missing or not \(state.parameters.values.count) values (one per parameter)")
        }
        let plain = try SafeTensors.encode(state.parameters.namedTensors)
        do { _ = try TrainerCheckpoint.decode(plain, name: "w.safetensors"); Issue.record("expected an error") } catch {
            #expect("\(error)" == "w.safetensors: not a funad trainer checkpoint (no 'funad.trainer' metadata)")
        }
        #expect(try TrainerCheckpoint.decode(TrainerCheckpoint.encode(state)) == state)
    }
}
