import Foundation

/// Trainer checkpoints: one safetensors file holding the Local-Net weights (official
/// names, so the file also loads as a model), the RMSProp buffers and the bank
/// features, plus a JSON document under the `__metadata__` key `funad.trainer` with
/// the counters, the generator state, the bank's row identities and the log so far.
/// Writing goes to a temporary file in the same folder, then `rename(2)`, so a crash
/// never leaves a half-written checkpoint under the final name.
public enum TrainerCheckpoint {
    static let formatVersion = 1
    static let metadataKey = "funad.trainer"
    static let stepLossKey = "log.step_loss"
    static let averageKey = "average.weights"

    struct Metadata: Codable {
        var formatVersion: Int
        var dimension: Int
        var hidden1: Int
        var hidden2: Int
        var rngState: [String]
        var epochsCompleted: Int
        var iterations: Int
        var optimizer: RMSPropConfiguration
        var optimizerSteps: Int
        var bankImages: [Int]?
        var bankRowImage: [Int32]?
        var bankRowPatch: [Int32]?
        var bankRecords: [BankRefreshRecord]
        var epochStatistics: [EpochStatistics]
        var stopReason: String?
        /// Steps in the running weight mean (`WeightAveraging`); absent without one.
        var averagedSteps: Int?
    }

    /// Serialises `state` to bytes (deterministic: same state, same bytes).
    public static func encode(_ state: TrainerState) throws -> Data {
        var tensors = state.parameters.namedTensors
        let n = state.parameters.values.count
        tensors["optimizer.square_avg"] = WeightTensor(shape: [n], values: state.optimizer.squareAverage)
        tensors["optimizer.momentum_buffer"] = WeightTensor(shape: [n], values: state.optimizer.momentumBuffer)
        // The loss curve as a tensor (compact, exact); absent while empty, since a
        // zero-length tensor says nothing, and absent in checkpoints of older builds.
        if !state.stepLosses.isEmpty {
            tensors[stepLossKey] = WeightTensor(shape: [state.stepLosses.count], values: state.stepLosses)
        }
        if let mean = state.averagedWeights {
            tensors[averageKey] = WeightTensor(shape: [mean.count], values: mean)
        }
        if let bank = state.bank {
            tensors["bank.features"] = WeightTensor(shape: [bank.rowCount, bank.dimension], values: bank.features)
        }
        let s = state.parameters.shape
        let meta = Metadata(
            formatVersion: formatVersion, dimension: s.dimension, hidden1: s.hidden1, hidden2: s.hidden2,
            rngState: state.rng.state.map { String($0) }, epochsCompleted: state.epochsCompleted,
            iterations: state.iterations, optimizer: state.optimizer.configuration, optimizerSteps: state.optimizer.steps,
            bankImages: state.bank?.imageIndices, bankRowImage: state.bank?.rowImage, bankRowPatch: state.bank?.rowPatch,
            bankRecords: state.bankRecords, epochStatistics: state.epochStatistics, stopReason: state.stopReason,
            averagedSteps: state.averagedWeights == nil ? nil : state.averagedSteps)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(meta), as: UTF8.self)
        return try SafeTensors.encode(tensors, metadata: [metadataKey: json])
    }

    /// Writes `state` to `url` through a temporary file and a rename.
    public static func write(_ state: TrainerState, to url: URL) throws {
        let data = try encode(state)
        let tmp = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do { try data.write(to: tmp) } catch {
            throw TrainingError("\(tmp.path): cannot write checkpoint (\(error.localizedDescription))")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw TrainingError("\(url.path): cannot move checkpoint into place (\(reason))")
        }
    }

    /// A checkpoint handler for `FunADTrainer.train` that writes every state to `url`.
    public static func fileWriter(_ url: URL) -> (TrainerState) throws -> Void {
        { state in try write(state, to: url) }
    }

    public static func read(_ url: URL) throws -> TrainerState {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw TrainingError("\(url.path): cannot read checkpoint (\(error.localizedDescription))")
        }
        return try decode(data, name: url.path)
    }

    public static func decode(_ data: Data, name: String = "<memory>") throws -> TrainerState {
        let tensors = try SafeTensors.decode(data, name: name)
        guard let json = try metadataValue(data, key: metadataKey, name: name) else {
            throw TrainingError("\(name): not a funad trainer checkpoint (no '\(metadataKey)' metadata)")
        }
        let meta: Metadata
        do { meta = try JSONDecoder().decode(Metadata.self, from: Data(json.utf8)) } catch {
            throw TrainingError("\(name): checkpoint metadata '\(metadataKey)' is malformed (\(error))")
        }
        guard meta.formatVersion == formatVersion else {
            throw TrainingError("\(name): checkpoint format version \(meta.formatVersion); this build reads version \(formatVersion)")
        }
        let parameters = try LocalNetParameters(tensors: tensors, source: name)
        let expected = LocalNetShape(dimension: meta.dimension, hidden1: meta.hidden1, hidden2: meta.hidden2)
        guard parameters.shape == expected else {
            throw TrainingError("\(name): weights have shape \(parameters.shape) but the metadata says \(expected)")
        }
        let n = parameters.values.count
        var optimizer = RMSProp(parameterCount: n, configuration: meta.optimizer)
        for (key, keyPath) in [("optimizer.square_avg", \RMSProp.squareAverage), ("optimizer.momentum_buffer", \RMSProp.momentumBuffer)] {
            guard let t = tensors[key], t.count == n else {
                throw TrainingError("\(name): tensor '\(key)' missing or not \(n) values (one per parameter)")
            }
            optimizer[keyPath: keyPath] = t.values
        }
        optimizer.steps = meta.optimizerSteps
        let words = meta.rngState.compactMap { UInt64($0) }
        guard words.count == meta.rngState.count else {
            throw TrainingError("\(name): generator state \(meta.rngState) is not four unsigned 64-bit integers")
        }
        let rng: Xoshiro256StarStar
        do { rng = try Xoshiro256StarStar(state: words) } catch {
            throw TrainingError("\(name): \(error)")
        }
        var bank: MemoryBank?
        if let images = meta.bankImages {
            guard let f = tensors["bank.features"], f.shape.count == 2, f.shape[1] == meta.dimension,
                  let ri = meta.bankRowImage, let rp = meta.bankRowPatch, ri.count == f.shape[0], rp.count == f.shape[0] else {
                throw TrainingError("\(name): bank is incomplete (expected 'bank.features' of shape [rows, \(meta.dimension)] and one image and patch index per row)")
            }
            bank = MemoryBank(imageIndices: images, features: f.values, rowImage: ri, rowPatch: rp, dimension: meta.dimension)
        }
        guard meta.epochsCompleted >= 0, meta.iterations >= 0 else {
            throw TrainingError("\(name): negative epoch or iteration counter")
        }
        let mean = tensors[averageKey]
        switch (mean, meta.averagedSteps) {
        case (nil, nil): break
        case let (m?, k?):
            guard m.count == n, m.shape == [n] else {
                throw TrainingError("\(name): tensor '\(averageKey)' has shape \(m.shape); expected [\(n)] (one value per parameter)")
            }
            guard k >= 1, k <= meta.iterations else {
                throw TrainingError("\(name): the weight mean holds \(k) steps; expected 1 to \(meta.iterations) (the steps run so far)")
            }
        default:
            throw TrainingError("\(name): the weight mean is incomplete (expected both the '\(averageKey)' tensor and the 'averagedSteps' count, or neither)")
        }
        return TrainerState(parameters: parameters, optimizer: optimizer, rng: rng, epochsCompleted: meta.epochsCompleted,
                            iterations: meta.iterations, bank: bank, bankRecords: meta.bankRecords,
                            epochStatistics: meta.epochStatistics, stepLosses: tensors[stepLossKey]?.values ?? [],
                            stopReason: meta.stopReason, averagedWeights: mean?.values, averagedSteps: meta.averagedSteps ?? 0)
    }

    /// The string value of `__metadata__[key]` in a safetensors header, or nil.
    static func metadataValue(_ data: Data, key: String, name: String) throws -> String? {
        guard data.count >= 8 else { throw TrainingError("\(name): shorter than a safetensors header") }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(data[data.startIndex + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(data.count - 8) else { throw TrainingError("\(name): safetensors header length exceeds the file") }
        let header = data[(data.startIndex + 8)..<(data.startIndex + 8 + Int(length))]
        guard let object = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw TrainingError("\(name): safetensors header is not a JSON object")
        }
        return (object["__metadata__"] as? [String: Any])?[key] as? String
    }
}
