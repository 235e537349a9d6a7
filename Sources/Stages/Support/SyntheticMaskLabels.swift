import Foundation
import FunAD
import Workflow

/// `train` with `synthetic_labels: masks` (the y_syn ablation of the paper's supplement,
/// Table 5): the patches of the synthetic anomalies take the labels of their own Perlin
/// masks instead of pseudo-labels. The masks are the synthesize stage's
/// `synthetic-masks/<id>.png` (256 × 256, made at the resize before the crop), put through
/// the features' resize and crop and pooled to the patch grid (`MaskPatchLabels`). No
/// real image's label is read: only the synthesizer's own masks.
enum SyntheticMaskLabels {
    /// Where the synthesize stage writes the mask of synthetic image `id`.
    static func maskURL(synthesizeOutput dir: URL, id: String) -> URL {
        dir.appendingPathComponent(SynthesizeStage.maskFolder).appendingPathComponent("\(id).png")
    }

    /// Joined training-image index → patch labels, for every synthetic image among `ids`.
    static func load(_ context: StageContext, ids: [String], level: String) throws -> [Int: [UInt8]] {
        guard level == "patch" else {
            throw StageError("synthetic_labels: masks labels patches; it needs level: patch, got level: \(level)")
        }
        let datasets = try context.inputs(producing: Artifact.dataset)
            .map { ($0, try DatasetArtifact.read(from: $0.directory)) }
            .filter { !$0.1.synthetic.isEmpty }
        guard datasets.count == 1, let (synthesize, artifact) = datasets.first else {
            throw StageError("synthetic_labels: masks needs exactly one synthesize stage among its needs (for the masks), found \(datasets.count): "
                             + "needs: [features, synthetic-features, synthetic]")
        }
        guard let featuresInput = context.inputs.first(where: { $0.produces.contains(Artifact.features) }) else {
            throw StageError("no upstream stage produced '\(Artifact.features)'")
        }
        let manifest = try FeaturesManifest.read(in: featuresInput.directory)
        // Extractions cached before the manifest recorded the resize used 256 → 224, the
        // default, so the same ratio is assumed for them.
        let resize = manifest.resize ?? Int((Double(manifest.inputSize) * 256 / 224).rounded())
        let preprocess = try Preprocessor(resize: resize, crop: manifest.inputSize)
        let synthetic = Set(artifact.synthetic)
        var out: [Int: [UInt8]] = [:]
        for (index, id) in ids.enumerated() where synthetic.contains(id) {
            let url = maskURL(synthesizeOutput: synthesize.directory, id: id)
            let mask: ImagePlanes
            do { mask = try preprocess.mask(at: url) } catch {
                throw StageError("synthetic_labels: masks: cannot read the mask of \(id) at \(url.path): \(error)")
            }
            out[index] = try MaskPatchLabels.labels(mask: mask, gridHeight: manifest.gridHeight, gridWidth: manifest.gridWidth)
        }
        guard !out.isEmpty else {
            throw StageError("synthetic_labels: masks: none of the \(ids.count) training images is a synthetic anomaly of '\(synthesize.stage)'; "
                             + "extract them (extract with images: synthetic) and list that stage in needs")
        }
        return out
    }
}
