import Foundation
import FunAD
import Workflow

/// `patchcore`: the one-class baseline on the same features — a bank of every training
/// patch (or a greedy coreset of them), patch score = distance to the nearest bank patch.
/// On a contaminated training set its bank memorises the anomalies; set it beside
/// `train` in one workflow to see FUN-AD's advantage — or give it the training images'
/// scores of a trained model (`keep_training`, or the `training_images` hook) so that its
/// bank comes only from the images that model finds most normal.
struct PatchCoreStage: StageType {
    let declaration = StageDeclaration(
        type: "patchcore", version: 1,
        summary: "one-class PatchCore baseline: nearest-neighbour distance to a (coreset) bank of training patches",
        consumes: [Artifact.features], optionallyConsumes: [Artifact.scores], produces: [Artifact.model],
        parameters: [
            .init("coreset", .double(range: 0.0001...1), default: .double(0.1), help: "fraction of training patches kept by greedy coreset selection (1: all)"),
            // No declared default, so that workflows without it keep their cache keys.
            .init("coreset_block", .int(range: 1...Int(Int32.max)),
                  help: "run the greedy coreset on blocks of at most this many patches (whole images, dealt in turn) and keep the union: far faster on large sets, not the same picks (unset: one greedy over all patches, as the reference)"),
            .init("coreset_oversample", .int(range: 2...1000),
                  help: "with coreset_block: each block picks this many times its share and a second greedy over the union of their picks chooses the coreset (unset: the union is the coreset)"),
            .init("projection_dim", .int(range: 1...100_000), default: .int(128), help: "random projection used by the coreset selection"),
            .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seed of the projection and start points"),
            .init("level", .choice(["patch", "image"]), default: .string("patch"), help: "patch features or the global vector only"),
            FeatureTransformParameters.declaration,
            // No declared default: workflows without it keep their cache keys.
            .init("keep_training", .double(range: 0.0001...1),
                  help: "with a scores input holding the training images' scores (e.g. FUN-AD's infer): build the bank from this lowest-scored fraction of the training images only (unset: every training image)"),
        ] + LuaHookParameters.declarations(hooks: ["training_images"], limitDefaultsInKey: false))

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let input = try context.input(Artifact.features)
        let level = p.string("level")
        let transform = try FeatureTransformParameters.transform(p)
        if p.optionalInt("coreset_oversample") != nil, p.optionalInt("coreset_block") == nil {
            throw StageError("parameter 'coreset_oversample' needs 'coreset_block': it sets how many picks each block makes")
        }
        let allTraining = try FeatureFiles.open(input.directory, file: FeaturesManifest.trainFile, level: level, transform: transform)
        let hooks = try HookSet(context)
        let source = try TrainingImageChoice.apply(context, hooks: hooks, to: allTraining, features: input.directory)
        let fraction = p.double("coreset")
        let sampler = fraction < 1 ? CoresetSampler(fraction: fraction, projectionDimension: p.int("projection_dim"), seed: UInt64(p.int("seed")),
                                                    blockPatches: p.optionalInt("coreset_block"),
                                                    blockOversample: p.optionalInt("coreset_oversample")) : nil
        let total = source.imageCount * source.patchesPerImage
        context.announce("bank from \(total) training patches\(sampler.map { ", coreset \($0.targetCount(of: total))" } ?? "")")
        // The coreset search takes minutes on MTD: report it, and stop on Ctrl-C.
        let model = try PatchCore.fit(features: source, coreset: sampler) { picked, target in
            context.progress(picked, of: target, unit: "coreset picks")
            try context.checkCancellation()
        }
        try model.save(to: context.outputDirectory.appendingPathComponent(ModelManifest.weightsFile))
        try JSONFiles.write(ModelManifest(kind: .patchCore, dimension: model.dimension, level: level,
                                          features: transform.isIdentity ? nil : transform),
                            to: context.outputDirectory.appendingPathComponent(ModelManifest.file))
        context.record("bank_patches", model.bankSize)
        context.record("bank_search", model.bankSearchSummary)
        if let sampler { context.record("coreset", sampler.summary(patchesPerImage: source.patchesPerImage, imageCount: source.imageCount)) }
        context.record("seed", p.int("seed"))
        try hooks.record(into: context)
        context.record("feature_transform", ["neighbourhood": transform.neighbourhood, "global_weight": Double(transform.globalWeight)])
    }
}
