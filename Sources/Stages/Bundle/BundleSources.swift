import Foundation
import FunAD
import Workflow

/// Where a bundle's parts come from: the model stage's folder, the `extract` stage that
/// made its features (parameters and folder), and, when the run has them, the `infer`
/// stage that scored with the model and the `evaluate` stage that chose its threshold.
/// Built from a run record (`funad export`) or from a stage's inputs (`predict` in a workflow).
struct BundleSources {
    struct Stage {
        var name: String
        var parameters: Parameters
        var directory: URL
    }

    var model: Stage
    var features: Stage
    var infer: Stage?
    var evaluate: Stage?
    /// The run record or workflow the stages belong to, for the bundle's origin.
    var run: String?
}

extension BundleSources {
    /// The stages of a run record (`run.json`) around model stage `stageName`: when it is
    /// nil, the run's only `train` stage, or else its only model stage.
    static func fromRunRecord(_ recordURL: URL, stage stageName: String?) throws -> BundleSources {
        struct Record: Decodable {
            struct Stage: Decodable {
                var name: String
                var type: String
                var needs: [String]
                var status: String
                var parameters: [String: RecordedValue]
                var outputs: String?
            }
            var workflow: String
            var stages: [Stage]
        }
        let record: Record
        do { record = try JSONDecoder().decode(Record.self, from: BoundedRead.data(recordURL, limit: RunRecords.maxRecordBytes)) } catch {
            throw BundleError("\(recordURL.path) is not a readable run record: \(error)")
        }
        let done = record.stages.filter { ($0.status == "ran" || $0.status == "cached") && $0.outputs != nil }
        func stage(_ s: Record.Stage) -> Stage {
            Stage(name: s.name, parameters: Parameters(s.parameters.mapValues(\.value)), directory: URL(fileURLWithPath: s.outputs!))
        }
        let modelTypes = ["train", "patchcore"]
        let model: Record.Stage
        if let stageName {
            guard let s = record.stages.first(where: { $0.name == stageName }) else {
                throw BundleError("run \(recordURL.path) has no stage '\(stageName)'; its stages: \(record.stages.map(\.name).joined(separator: ", "))")
            }
            guard modelTypes.contains(s.type) else {
                throw BundleError("stage '\(stageName)' of \(recordURL.path) is a \(s.type) stage; --stage names a train or patchcore stage")
            }
            guard done.contains(where: { $0.name == stageName }) else {
                throw BundleError("stage '\(stageName)' did not finish in run \(recordURL.path) (status \(s.status)); run the workflow first")
            }
            model = s
        } else {
            let train = done.filter { $0.type == "train" }
            let any = done.filter { modelTypes.contains($0.type) }
            guard let s = train.count == 1 ? train[0] : (train.isEmpty && any.count == 1 ? any[0] : nil) else {
                throw BundleError(any.isEmpty
                    ? "run \(recordURL.path) has no finished train or patchcore stage to export"
                    : "run \(recordURL.path) has several model stages (\(any.map(\.name).joined(separator: ", "))); choose one with --stage")
            }
            model = s
        }
        guard let features = done.first(where: { $0.type == "extract" && model.needs.contains($0.name) }) else {
            throw BundleError("stage '\(model.name)' of \(recordURL.path) does not read the features of a finished extract stage")
        }
        // The infer stage that scored with this model alone: an ensemble's infer (several
        // model stages in its needs) scored with other models too, so its scores and the
        // threshold chosen on them are not this model's.
        let modelStages = Set(record.stages.filter { modelTypes.contains($0.type) }.map(\.name))
        let infer = done.first { i in
            i.type == "infer" && i.needs.contains(model.name) && i.needs.contains(features.name)
                && i.needs.filter { modelStages.contains($0) }.count == 1
        }
        let evaluate = infer.flatMap { i in done.first { $0.type == "evaluate" && $0.needs.contains(i.name) } }
        return BundleSources(model: stage(model), features: stage(features), infer: infer.map(stage), evaluate: evaluate.map(stage),
                             run: recordURL.path)
    }

    /// The same from a running stage's inputs (the `predict` stage): the model and the
    /// features are required, the scores and the report optional.
    static func fromInputs(_ context: StageContext) throws -> BundleSources {
        func stage(_ i: StageInput) -> Stage { Stage(name: i.stage, parameters: i.parameters, directory: i.directory) }
        let models = context.inputs(producing: Artifact.model)
        if models.count > 1 {
            throw StageError("\(context.stageName): a bundle holds one model, but the stage needs \(models.count) (\(models.map(\.stage).joined(separator: ", "))); an ensemble scores in infer only, so give predict one of them")
        }
        let model = try context.input(Artifact.model)
        let features = try context.input(Artifact.features)
        guard features.stageType == "extract" else {
            throw StageError("predict needs the features of an extract stage (to repeat its recipe); '\(features.stage)' is a \(features.stageType) stage")
        }
        let scores = context.optionalInput(Artifact.scores)
        if let scores, let file = try? JSONFiles.read(ScoresFile.self, from: scores.directory.appendingPathComponent(ScoresFile.file)),
           let members = file.ensemble {
            throw StageError("\(context.stageName): the scores of '\(scores.stage)' come from an ensemble of \(members.joined(separator: ", ")), not from model '\(model.stage)' alone; give it an infer stage that needs only '\(model.stage)'")
        }
        return BundleSources(model: stage(model), features: stage(features),
                             infer: scores.map(stage),
                             evaluate: context.optionalInput(Artifact.report).map(stage),
                             run: "workflow stage \(context.stageName)")
    }
}

/// A parameter value as a run record stores it (JSON), read back as a `ParameterValue`.
struct RecordedValue: Decodable {
    let value: ParameterValue

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { value = .null }
        else if let b = try? c.decode(Bool.self) { value = .bool(b) }
        else if let i = try? c.decode(Int.self) { value = .int(i) }
        else if let d = try? c.decode(Double.self) { value = .double(d) }
        else if let s = try? c.decode(String.self) { value = .string(s) }
        else if let l = try? c.decode([RecordedValue].self) { value = .list(l.map(\.value)) }
        else { value = .object(try c.decode([String: RecordedValue].self).mapValues(\.value)) }
    }
}
