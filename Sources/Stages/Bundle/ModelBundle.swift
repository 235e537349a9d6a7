import Foundation
import FunAD
import Workflow

/// `bundle.json`: what a model bundle (a folder `NAME.funad/`) holds, so that `predict`
/// scores new images exactly as the run's `extract` + `infer` scored its test images,
/// with nothing but the bundle and the backbone's weights file:
///
///     NAME.funad/bundle.json        this manifest
///     NAME.funad/model.json         the model's ModelManifest, copied whole
///     NAME.funad/model.safetensors  Local-Net weights or the PatchCore bank
///     NAME.funad/<weights file>     the backbone weights, only with --include-weights
struct BundleManifest: Codable {
    static let file = "bundle.json", currentFormatVersion = 1, formatName = "funad-model-bundle"

    struct BackboneWeights: Codable {
        var name: String
        /// File name of the weights file (looked for beside bundle.json first).
        var weightsFile: String?
        /// SHA-256 of that file's bytes; prediction refuses a file with another digest.
        var weightsSHA256: String?
        /// Where the file was when the bundle was written (a fallback for finding it).
        var weightsPath: String?
        /// Whether the file was copied into the bundle.
        var weightsIncluded: Bool
    }

    /// How patch scores become the image score and the map (`infer`'s parameters).
    struct Scoring: Codable {
        var imageScore: String
        var topK: Double
        var sigma: Double
        var mapSize: Int
        /// The stage's parameters, for `InferStage.imageScoreRule`.
        var ruleParameters: Parameters {
            Parameters(["image_score": .string(imageScore), "top_k": .double(topK)])
        }
    }

    struct Model: Codable {
        var kind: String
        var level: String
        var dimension: Int
        var manifestFile: String
        var weightsFile: String
        var weightsSHA256: String
    }

    struct Threshold: Codable {
        var value: Double
        /// How it was chosen (the rule's words, from `evaluate` or from export).
        var rule: String
        /// Where it came from: the evaluate stage's threshold.json, or computed at export.
        var source: String
    }

    struct Origin: Codable {
        var createdBy: String
        /// When it was written; absent from a workflow stage's bundle, whose bytes are a
        /// cached result and must not depend on when (or in how many shards) it was computed.
        var created: String?
        /// The run record or workflow stage the model came from.
        var run: String?
        var modelStage: String
        var trainingScores: String
    }

    var format = formatName
    var formatVersion = currentFormatVersion
    var origin: Origin
    var backbone: BackboneWeights
    var features: FeatureRecipe
    var scoring: Scoring
    var model: Model
    var threshold: Threshold
    /// The training-set score distribution the normalised score is computed from.
    var normalisedScore: NormalisedScore
}

/// A model bundle that does not load, with the file and what was expected; invalid input
/// (exit code 2) for the commands.
struct BundleError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A bundle opened and checked: its manifest, model manifest and file locations.
struct ModelBundle {
    let directory: URL
    let manifest: BundleManifest
    let modelManifest: ModelManifest
    var modelWeights: URL { directory.appendingPathComponent(manifest.model.weightsFile) }

    /// Reads `bundle.json` and `model.json` and checks the model weights' digest.
    static func open(_ directory: URL) throws -> ModelBundle {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw BundleError("model bundle \(directory.path): no such folder (write one with `funad export`)")
        }
        let manifestURL = directory.appendingPathComponent(BundleManifest.file)
        guard FileManager.default.fileExists(atPath: manifestURL.path) else {
            throw BundleError("\(directory.path) is not a model bundle: it has no \(BundleManifest.file) (write one with `funad export`)")
        }
        let manifest: BundleManifest
        // A bundle may come from anyone: its manifest (a few KB) is read after a size check.
        do { manifest = try JSONDecoder().decode(BundleManifest.self, from: BoundedRead.data(manifestURL, limit: 16 << 20)) } catch {
            throw BundleError("\(manifestURL.path) is not a valid bundle manifest: \(error)")
        }
        guard manifest.format == BundleManifest.formatName, manifest.formatVersion == BundleManifest.currentFormatVersion else {
            throw BundleError("\(manifestURL.path): format \(manifest.format) version \(manifest.formatVersion); this funad reads \(BundleManifest.formatName) version \(BundleManifest.currentFormatVersion)")
        }
        let modelManifest: ModelManifest
        do { modelManifest = try JSONFiles.read(ModelManifest.self, from: directory.appendingPathComponent(manifest.model.manifestFile)) } catch {
            throw BundleError("\(error)")
        }
        let bundle = ModelBundle(directory: directory, manifest: manifest, modelManifest: modelManifest)
        let digest = try Self.sha256(bundle.modelWeights)
        guard digest == manifest.model.weightsSHA256 else {
            throw BundleError("model weights \(bundle.modelWeights.path) have SHA-256 \(digest), but \(manifestURL.path) expects \(manifest.model.weightsSHA256): the bundle was changed after export")
        }
        return bundle
    }

    /// The backbone weights file, checked against the digest in `bundle.json`: `override`
    /// if given, else the file of that name beside bundle.json, else the path recorded at
    /// export. Nil for a random-weight (test) backbone.
    func verifiedBackboneWeights(override: URL?) throws -> URL? {
        let b = manifest.backbone
        guard let expected = b.weightsSHA256 else {
            guard manifest.features.randomWeightsSeed != nil else {
                throw BundleError("\(directory.appendingPathComponent(BundleManifest.file).path) names no backbone weights digest and no random seed")
            }
            return nil
        }
        let candidates = [override] + [b.weightsFile.map { directory.appendingPathComponent($0) }, b.weightsPath.map { URL(fileURLWithPath: $0) }]
        let found = override ?? candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0.path) }
        guard let url = found, FileManager.default.fileExists(atPath: url.path) else {
            let tried = candidates.compactMap { $0?.path }.joined(separator: ", ")
            throw BundleError("backbone weights \(b.weightsFile ?? "file") for \(directory.path) not found (tried \(tried)); give the file with --weights")
        }
        let digest = try Self.sha256(url)
        guard digest == expected else {
            throw BundleError("backbone weights \(url.path) have SHA-256 \(digest), but the model bundle \(directory.appendingPathComponent(BundleManifest.file).path) expects \(expected) (its \(b.weightsFile ?? "weights file")): these are not the weights the model was trained on")
        }
        return url
    }

    static func sha256(_ url: URL) throws -> String {
        do { return try SHA256.hex(fileAt: url) } catch {
            throw BundleError("cannot read \(url.path): \(error.localizedDescription)")
        }
    }
}
