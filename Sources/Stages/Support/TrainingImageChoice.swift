import Foundation
import FunAD
import Workflow

/// Which training images a one-class model is fitted on, chosen by another model's scores
/// of them: `patchcore`'s `keep_training: q` keeps the ⌈q · N⌉ lowest-scored images (ties
/// by training order), the `training_images(scores, ctx)` hook returns a threshold t
/// (images with score ≤ t) or 1-based indices. Why: on a contaminated set PatchCore's bank
/// memorises the hidden defects; the images a FUN-AD model scores highest are the likeliest
/// defects, so leaving them out cleans the bank without a label. FUN-AD's own quantile
/// bank rule keeps the lowest half of its training images as bank candidates.
enum TrainingImageChoice {
    /// The chosen images of `source` (all of them when neither `keep_training` nor the hook
    /// is set), recording the choice. Fails when a rule is set without the training images'
    /// scores, or when a scores input is given without a rule (it would be ignored).
    /// `features` is the `extract` folder `source` reads; its training ids and image set
    /// (`FeaturesManifest.dataset`, nil in manifests that predate it) are read only when a
    /// rule is set.
    static func apply(_ context: StageContext, hooks: HookSet, to source: any PatchFeatureSource,
                      features: URL) throws -> any PatchFeatureSource {
        let keep = context.parameters.optionalDouble("keep_training")
        let hook = hooks["training_images"]
        let scoresInput = context.optionalInput(Artifact.scores)
        guard keep != nil || hook != nil else {
            if let scoresInput {
                throw StageError("the scores of '\(scoresInput.stage)' would be ignored: set 'keep_training' (a fraction) or a training_images hook to choose the training images by them")
            }
            return source
        }
        if keep != nil, hook != nil {
            throw StageError("set 'keep_training' or a training_images hook, not both: the hook replaces the built-in rule")
        }
        guard let scoresInput else {
            throw StageError("'keep_training' and the training_images hook need the training images' scores: add an infer stage with training_scores: yes (FUN-AD's infer writes them) to needs")
        }
        let url = scoresInput.directory.appendingPathComponent(ScoresFile.trainingFile)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw StageError("'\(scoresInput.stage)' scored no training images (\(ScoresFile.trainingFile) missing): set its training_scores: yes")
        }
        let ids = try FeatureFiles.reader(features, file: FeaturesManifest.trainFile).imageIds
        let file = try JSONFiles.read(ScoresFile.self, from: url)
        // The ids are opaque (image order after the contamination draw): another draw of the
        // same size has the same ids, so the image set itself is compared when both say it.
        if let theirs = file.dataset, let ours = try FeaturesManifest.read(in: features).dataset, theirs != ours {
            throw StageError("the training scores of '\(scoresInput.stage)' are of another image set (load result \(theirs.prefix(12)), these features' \(ours.prefix(12))): score this stage's training images")
        }
        let scores = try matched(ids: ids, file: file, stage: scoresInput.stage, path: url.path)
        let kept: [Int]
        let rule: String
        if let keep {
            kept = lowest(fraction: keep, of: scores)
            rule = "the lowest \(keep) of the training images by the scores of '\(scoresInput.stage)'"
        } else {
            kept = try scripted(hook!, scores: scores, seed: UInt64(context.parameters.int("seed")))
            rule = "Lua hook training_images (\(hook!.reference.displayName)) on the scores of '\(scoresInput.stage)'"
        }
        context.announce("bank from \(kept.count) of the \(ids.count) training images: \(rule)")
        context.record("training_images", ["kept": kept.count, "of": ids.count, "rule": rule] as [String: Any])
        return SelectedImages(base: source, images: kept)
    }

    /// Each training image's score, in the training order of `ids`, from a scores file
    /// that may list the images in another order. Fails when the file is inconsistent, or an
    /// image has no score or a non-finite one (scores of another training set, or of a
    /// diverged model): ranking by them would choose at random.
    static func matched(ids: [String], file: ScoresFile, stage: String, path: String) throws -> [Float] {
        guard file.ids.count == file.scores.count else {
            throw StageError("\(path): \(file.ids.count) ids but \(file.scores.count) scores")
        }
        var byID = [String: Float](minimumCapacity: file.ids.count)
        for (id, s) in zip(file.ids, file.scores) { byID[id] = s }
        var scores = [Float](); scores.reserveCapacity(ids.count)
        for id in ids {
            guard let s = byID[id] else {
                throw StageError("training image '\(id)' has no score in '\(stage)' (\(file.ids.count) images scored): the scores must come from the same training set")
            }
            guard s.isFinite else {
                throw StageError("training image '\(id)' has the score \(s) in '\(stage)': the images cannot be ranked by it")
            }
            scores.append(s)
        }
        return scores
    }

    /// The ⌈fraction · n⌉ lowest scores' indices (at least one), ascending; ties keep the
    /// earlier image.
    static func lowest(fraction: Double, of scores: [Float]) -> [Int] {
        let n = scores.count
        let count = min(n, max(1, Int((fraction * Double(n)).rounded(.up))))
        let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
        return order.prefix(count).sorted()
    }

    /// `training_images(scores, ctx)`: a number t keeps the images with score ≤ t, a table
    /// keeps the 1-based indices it lists; at least one image either way.
    static func scripted(_ hook: LuaHook, scores: [Float], seed: UInt64) throws -> [Int] {
        let result = try HookCalls.callAfterTraining(hook, scores: scores, seed: seed, name: "training_images")
        return try HookCalls.chosenImages(result, scores: scores, hook: hook, threshold: "the training-image threshold",
                                          indices: "the training images' indices", meaning: "are kept",
                                          none: "no training image kept (\(scores.count) scored)").sorted()
    }
}
