import Foundation
import FunAD
import Workflow

/// `synthesize` (FUN-AD*): Perlin-noise anomalies made from the training images
/// themselves (DRAEM style, METHOD.md step 3) and added to the training set unlabelled.
/// Images are synthesised at the 256×256 resize, before the centre crop, so that the
/// extract stage's Resize(256) → CenterCrop(224) treats them like every other image.
struct SynthesizeStage: StageType {
    /// The folder of the output that holds each synthetic image's mask, `<id>.png`
    /// (read back by `train` with `synthetic_labels: masks`).
    static let maskFolder = "synthetic-masks"

    let declaration = StageDeclaration(
        type: "synthesize", version: 1,
        summary: "add Perlin-noise synthetic anomalies (unlabelled) to the training set",
        consumes: [Artifact.dataset], produces: [Artifact.dataset],
        parameters: [
            .init("ratio", .double(range: 0...1), default: .double(0.05), help: "count = floor(ratio · N_train)"),
            .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seed of every draw"),
        ])

    func run(_ context: StageContext) async throws {
        let input = try context.input(Artifact.dataset)
        var artifact = try DatasetArtifact.read(from: input.directory)
        let synth = try PerlinAnomalySynthesizer(ratio: context.parameters.double("ratio"),
                                                 seed: UInt64(context.parameters.int("seed")), threads: 2)
        let preprocess = try Preprocessor(resize: 256, crop: 256)
        let urls = artifact.train.map(\.path)
        let n = synth.count(trainingSize: urls.count)
        context.announce("making \(n) synthetic anomalies from \(urls.count) training images")
        let samples = try synth.synthesize(trainingCount: urls.count) { i in try preprocess.image(at: urls[i]) }
        let imageDir = context.outputDirectory.appendingPathComponent("synthetic")
        let maskDir = context.outputDirectory.appendingPathComponent(Self.maskFolder)
        try FileManager.default.createDirectory(at: imageDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: maskDir, withIntermediateDirectories: true)
        var details: [[String: Any]] = []
        for (k, s) in samples.enumerated() {
            let id = String(format: "synthetic-%04d", k)
            try PNGWriter.write(s.image, to: imageDir.appendingPathComponent("\(id).png"))
            try PNGWriter.write(s.mask, to: maskDir.appendingPathComponent("\(id).png"))
            // Recorded where the file will be once this stage's result is sealed in the cache.
            let finalURL = context.finalOutputDirectory.appendingPathComponent("synthetic/\(id).png")
            artifact.train.append(UnlabelledItem(id: id, path: finalURL))
            artifact.synthetic.append(id)
            details.append(["id": id, "base": artifact.train[s.baseIndex].id, "texture": artifact.train[s.textureIndex].id,
                            "beta": Double(s.beta), "perlin_resolution": [s.perlinResolution.y, s.perlinResolution.x],
                            "rotation": s.rotation, "augmentations": s.augmentations])
            context.progress(k + 1, of: samples.count, unit: "images")
        }
        try artifact.write(to: context.outputDirectory)
        context.record("synthetic_images", samples.count)
        context.record("seed", context.parameters.int("seed"))
        context.record("samples", details)
    }
}
