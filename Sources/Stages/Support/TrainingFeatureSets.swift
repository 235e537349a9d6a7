import Foundation
import FunAD
import Workflow

/// The training features of `train`: every upstream `features` result in `needs` order,
/// joined. FUN-AD* is `needs: [features, synthetic-features]`: the base set extracted
/// once, followed by the synthetic anomalies extracted alone (`extract` with
/// `images: synthetic`), all unlabelled as in the paper (METHOD.md step 3).
struct TrainingFeatureSets {
    /// The joined source (the single input's own source when there is one).
    let source: any PatchFeatureSource
    /// Image ids in joined order (what `training.json` lists).
    let ids: [String]
    /// Images per upstream stage, in order.
    let parts: [(stage: String, images: Int)]

    static func open(_ context: StageContext, level: String, transform: PatchFeatureTransform) throws -> TrainingFeatureSets {
        let inputs = context.inputs(producing: Artifact.features)
        guard !inputs.isEmpty else { throw StageError("no upstream stage produced '\(Artifact.features)'") }
        var sources: [any PatchFeatureSource] = []
        var ids: [String] = []
        var seen: [String: String] = [:]
        for input in inputs {
            let source = try FeatureFiles.open(input.directory, file: FeaturesManifest.trainFile, level: level, transform: transform)
            let partIDs = try FeatureFiles.reader(input.directory, file: FeaturesManifest.trainFile).imageIds
            for id in partIDs {
                if let other = seen[id] {
                    throw StageError("training image '\(id)' comes from both '\(other)' and '\(input.stage)': "
                                     + "extract the synthetic images alone (extract with images: synthetic) so that no image is trained on twice")
                }
                seen[id] = input.stage
            }
            sources.append(source)
            ids += partIDs
        }
        let source: any PatchFeatureSource
        if sources.count == 1 {
            source = sources[0]
        } else {
            do { source = try JoinedPatchFeatures(sources, names: inputs.map(\.stage)) } catch {
                throw StageError("\(error)")
            }
        }
        return TrainingFeatureSets(source: source, ids: ids, parts: zip(inputs, sources).map { ($0.stage, $1.imageCount) })
    }

    /// For the run record: the total and each upstream stage's share.
    var record: [String: Any] {
        ["total": ids.count, "parts": parts.map { ["stage": $0.stage, "images": $0.images] as [String: Any] }]
    }
}
