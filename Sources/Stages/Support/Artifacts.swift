import Foundation
import FunAD

/// The artifact types stages pass to each other, and the files each one is made of.
/// A downstream stage finds an upstream result's folder through `StageContext.input(_:)`
/// and reads these files; nothing else crosses a stage boundary.
enum Artifact {
    /// A folder of images in a dataset layout (e.g. the generated demo set).
    static let imageFolder = "image-folder"
    /// `train.json` (unlabelled items), `test.json` (labelled items), `audit.json`
    /// (which training items are contaminated: for reports only, never for training).
    static let dataset = "dataset"
    /// `train.features` and `test.features` (FeatureStore files) + `features.json`.
    static let features = "features"
    /// `model.safetensors` + `model.json` (kind, dimension, training history).
    static let model = "model"
    /// `scores.json` (test image ids and scores) + `maps.bin` (anomaly maps), and
    /// `training_scores.json` when the training images were scored too.
    static let scores = "scores"
    /// `metrics.json`, tables, ROC data, overlays.
    static let report = "report"
}

/// JSON helpers with stable, readable output.
enum JSONFiles {
    static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try e.encode(value).write(to: url, options: .atomic)
    }

    static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw StageError("cannot read \(url.path): \(error.localizedDescription)")
        }
        do { return try JSONDecoder().decode(type, from: data) } catch {
            throw StageError("\(url.path) is not a valid \(type) file: \(error)")
        }
    }
}

/// A stage's own failure, with a message naming the parameter or file at fault.
struct StageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The `dataset` artifact as files.
struct DatasetArtifact {
    var train: [UnlabelledItem]
    var test: [LabelledItem]
    var audit: ContaminationAudit
    /// Ids of training items that are synthetic anomalies (from `synthesize`); their masks
    /// are kept for inspection, never used for training.
    var synthetic: [String]

    static let trainFile = "train.json", testFile = "test.json", auditFile = "audit.json", syntheticFile = "synthetic.json"

    func write(to dir: URL) throws {
        try JSONFiles.write(train, to: dir.appendingPathComponent(Self.trainFile))
        try JSONFiles.write(test, to: dir.appendingPathComponent(Self.testFile))
        try JSONFiles.write(audit, to: dir.appendingPathComponent(Self.auditFile))
        try JSONFiles.write(synthetic, to: dir.appendingPathComponent(Self.syntheticFile))
    }

    static func read(from dir: URL) throws -> DatasetArtifact {
        DatasetArtifact(train: try JSONFiles.read([UnlabelledItem].self, from: dir.appendingPathComponent(trainFile)),
                        test: try JSONFiles.read([LabelledItem].self, from: dir.appendingPathComponent(testFile)),
                        audit: try JSONFiles.read(ContaminationAudit.self, from: dir.appendingPathComponent(auditFile)),
                        synthetic: try JSONFiles.read([String].self, from: dir.appendingPathComponent(syntheticFile)))
    }

    /// Only the training list: what a stage that must not see labels may read.
    static func readTraining(from dir: URL) throws -> [UnlabelledItem] {
        try JSONFiles.read([UnlabelledItem].self, from: dir.appendingPathComponent(trainFile))
    }

    static func readTest(from dir: URL) throws -> [LabelledItem] {
        try JSONFiles.read([LabelledItem].self, from: dir.appendingPathComponent(testFile))
    }
}

/// `features.json`: what produced the feature files.
struct FeaturesManifest: Codable {
    var backbone: String
    var inputSize: Int
    var globalDim: Int
    var localDim: Int
    var gridHeight: Int
    var gridWidth: Int
    var dtype: String
    var trainCount: Int
    var testCount: Int
    /// The square resize before the centre crop (absent in manifests of earlier funad
    /// versions, which always used 256 → 224).
    var resize: Int? = nil
    /// The cache key of the load (or synthesize) result the features are of: feature sets
    /// of one image set share it, whatever the backbone, so a consumer can check that two
    /// inputs describe the same training images (absent in manifests of earlier versions).
    var dataset: String? = nil
    static let file = "features.json", trainFile = "train.features", testFile = "test.features"

    /// The manifest of an `extract` result folder.
    static func read(in dir: URL) throws -> FeaturesManifest {
        try JSONFiles.read(FeaturesManifest.self, from: dir.appendingPathComponent(file))
    }
}

/// `model.json`: which scorer `model.safetensors` holds.
struct ModelManifest: Codable {
    enum Kind: String, Codable { case localNet = "local-net", patchCore = "patchcore" }
    var kind: Kind
    var dimension: Int
    /// "patch" (f_ij = [global ‖ local_j]) or "image" (the global vector alone).
    var level: String
    /// How patch features are read for this model (absent: the paper's f_ij). `infer`
    /// reads the test and training features through the same transform.
    var features: PatchFeatureTransform? = nil
    static let file = "model.json", weightsFile = "model.safetensors"
}

/// `scores.json`: image scores in test order.
struct ScoresFile: Codable {
    var ids: [String]
    var scores: [Float]
    var mapSize: Int?
    /// The scored features' `FeaturesManifest.dataset` (training scores only; absent in
    /// files of earlier versions): the training ids are opaque, so two contaminated draws
    /// of one size share them, and only this tells their scores apart.
    var dataset: String? = nil
    /// The model stages whose mean logit scored the images, when `infer` ran an ensemble
    /// of several (absent for one model): a bundle or `predict` must not take an
    /// ensemble's scores and threshold for one member's.
    var ensemble: [String]? = nil
    /// `training_scores.json`: the same for the unlabelled training images (optional).
    static let file = "scores.json", mapsFile = "maps.bin", trainingFile = "training_scores.json"
}
