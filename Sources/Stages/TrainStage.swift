import Foundation
import FunAD
import Workflow

/// `train`: FUN-AD training of Local-Net φ on the training features (METHOD.md "One
/// training iteration"). Sees features only: no labels, no dataset (the one exception is
/// the y_syn ablation, `synthetic_labels: masks`, which reads the synthesize stage's own
/// masks of its synthetic images, never a real image's label). Checkpoints go to
/// the stage's resume folder, so a killed training continues from its last checkpoint.
/// Defaults are the paper's; every departure is listed in the run record.
struct TrainStage: StageType {
    let declaration = StageDeclaration(
        type: "train", version: 3,
        summary: "train the FUN-AD Local-Net with IRMB pseudo-labels and mutual smoothness",
        // Every upstream `features` result is joined in `needs` order (FUN-AD*: the base
        // set, then the synthetic anomalies extracted alone).
        consumes: [Artifact.features], optionallyConsumes: [Artifact.dataset], produces: [Artifact.model],
        parameters: [
            .init("level", .choice(["patch", "image"]), default: .string("patch"),
                  help: "patch: f_ij = [global ‖ local_j] (industrial); image: the global vector only (semantic AD)"),
            // No declared default: `steps` and `epochs` exclude each other, and the stage must
            // see which one the workflow set (unset both: 1500 epochs, the paper's).
            .init("epochs", .int(range: 0...1_000_000),
                  help: "passes over the training set (paper: 1500; used when neither steps nor epochs is set); give steps or epochs, not both"),
            .init("steps", .int(range: 0...100_000_000),
                  help: "total optimiser steps instead of epochs, the same on any set size (epochs become ⌈steps / iterations per epoch⌉, the last one partial)"),
            .init("batch_size", .int(range: 1...4096), default: .int(32), help: "images per mini-batch (paper: 32)"),
            .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seeds init, shuffles, bank draws and perturbations"),
            .init("optimizer", .object([
                .init("lr", .double(range: 0...10), default: .double(2e-5), help: "RMSProp learning rate"),
                .init("momentum", .double(range: 0...1), default: .double(0.2), help: "RMSProp momentum"),
                .init("alpha", .double(range: 0...1), default: .double(0.99), help: "RMSProp smoothing constant"),
                .init("eps", .double(range: 0...1), default: .double(1e-8), help: "RMSProp epsilon"),
            ]), help: "RMSProp, as PyTorch's"),
            .init("lambda", .double(range: 0...1000), default: .double(2.5), help: "weight λ of the mutual-smoothness loss"),
            .init("mutual_smoothness", .bool, default: .bool(true), help: "ablation switch for L_MS"),
            .init("ms_reduction", .choice(["half_mean", "mean"]), default: .string("half_mean"),
                  help: "L_MS as the official code (half the mean) or the paper's Eq. 29 (the mean)"),
            .init("perturbation", .bool, default: .bool(true), help: "ablation switch for the Gaussian perturbation ε"),
            .init("zero_distance_below", .double(range: 0...1e9), default: .double(1e-2), help: "squared distances below this count as 0 (official code)"),
            .init("bank", .object([
                .init("refresh", .choice(["iteration", "epoch", "every"]), default: .string("iteration"),
                      help: "rebuild the IRMB every iteration (paper), every epoch, or every N iterations"),
                .init("every", .int(range: 1...1_000_000), default: .int(10), help: "N for refresh: every"),
                .init("selection", .choice(["paper", "quantile"]), default: .string("paper"),
                      help: "paper: min-max normalised score < threshold; quantile: lowest quantile, with a minimum bank size"),
                .init("threshold", .double(range: 0...1), default: .double(0.5), help: "τ_b"),
                .init("fraction", .double(range: 0.0001...1), default: .double(0.5), help: "random fraction of the selected images kept"),
                .init("quantile", .double(range: 0.0001...1), default: .double(0.5), help: "quantile rule: share of images eligible"),
                .init("min_images", .int(range: 1...1_000_000), default: .int(8), help: "quantile rule: minimum bank size in images"),
                .init("search", .choice(["exact", "projected"]), default: .string("exact"),
                      help: "nearest bank features: sgemm over full rows, or a principal-subspace prefilter whose answers are certified exact (uncertified queries are searched in full)"),
                .init("search_rank", .int(range: 1...100_000), default: .int(192), help: "projected search: subspace dimension"),
                .init("search_candidates", .int(range: 2...10_000), default: .int(48), help: "projected search: rows re-ranked exactly per query"),
            ]), help: "iteratively re-constructed memory bank"),
            .init("pseudo_labels", .object([
                .init("tau_n", .double(range: 0...1), default: .double(0.5), help: "normalised distance above which a patch is pseudo-anomalous"),
                .init("tau_c", .double(range: 0...1), default: .double(0.9), help: "upper end of the ambiguous band that is perturbed"),
            ]), help: "pseudo-labelling thresholds"),
            // No declared default, so that workflows without it keep their cache keys.
            .init("synthetic_labels", .choice(["pseudo", "masks"]),
                  help: "pseudo (unset; METHOD.md step 3): synthetic anomalies are pseudo-labelled like every image; masks: their patches take the labels of their own Perlin masks (the y_syn ablation of the paper's supplement, Table 5; needs the synthesize stage too)"),
            FeatureTransformParameters.declaration,
            .init("batch_patches", .int(range: 1...1_000_000), help: "use this many random patch positions per iteration (not in the paper)"),
            .init("bank_patches", .int(range: 1...1_000_000), help: "keep this many random patches per bank image (not in the paper)"),
            .init("hidden", .list(.int(range: 1...65536)), default: .list([.int(1024), .int(128)]), help: "head hidden sizes (paper: 1024, 128)"),
            // No declared default, so that workflows without it keep their cache keys.
            .init("weight_average", .double(range: 0.0001...1),
                  help: "save the mean of the weights over this share of the run's last steps (Polyak-Ruppert tail averaging, not in the paper; unset: the last step's weights, as the paper)"),
            .init("checkpoint_every", .int(range: 0...1_000_000), default: .int(1), help: "epochs between checkpoints (0: none)"),
            .init("convergence", .object([
                .init("tail", .double(range: 0.01...1), default: .double(0.2), help: "share of the run, from its end, over which the loss trend is fitted"),
                .init("max_share", .double(range: 0...1), default: .double(0.1),
                      help: "warn when the tail's fitted loss fall is more than this share of the whole run's fall (and beyond 2 standard errors)"),
            ]), help: "label-free check that the loss had settled when training ended (a warning, never a failure)"),
        ] + LuaHookParameters.declarations(hooks: TrainStage.hookNames))

    /// Lua hooks `train` offers (plugins/README.md documents each).
    static let hookNames = ["bank", "pseudo_labels", "epoch_end"]

    /// Replaces the built-in policies by the stage's Lua hooks, where it names them.
    func bind(_ hooks: HookSet, into c: inout TrainerConfiguration, fraction: Float) {
        if let h = hooks["bank"] { c.bankSelection = ScriptedBankSelection(hook: h, fraction: fraction, seed: c.seed) }
        if let h = hooks["pseudo_labels"] { c.pseudoLabels = ScriptedPseudoLabels(hook: h, seed: c.seed) }
        if let h = hooks["epoch_end"] { c.epochEnd = ScriptedEpochEnd(hook: h, seed: c.seed) }
    }

    func configuration(_ p: Parameters) throws -> TrainerConfiguration {
        var c = TrainerConfiguration()
        switch (p.value(at: "steps")?.intValue, p.value(at: "epochs")?.intValue) {
        case let (steps?, epochs?):
            throw StageError("train: set either 'steps' (total optimiser steps) or 'epochs' (passes over the training set), not both; got steps: \(steps) and epochs: \(epochs)")
        case let (steps?, nil): c.steps = steps
        case let (nil, epochs?): c.epochs = epochs
        case (nil, nil): c.epochs = 1500
        }
        c.batchSize = p.int("batch_size")
        c.seed = UInt64(p.int("seed"))
        c.optimizer.learningRate = Float(p.double("optimizer.lr"))
        c.optimizer.momentum = Float(p.double("optimizer.momentum"))
        c.optimizer.alpha = Float(p.double("optimizer.alpha"))
        c.optimizer.epsilon = Float(p.double("optimizer.eps"))
        c.lambda = Float(p.double("lambda"))
        c.mutualSmoothness = p.bool("mutual_smoothness")
        c.mutualSmoothnessReduction = p.string("ms_reduction") == "mean" ? .mean : .halfMean
        c.perturbation = p.bool("perturbation")
        c.zeroDistanceBelow = Float(p.double("zero_distance_below"))
        switch p.string("bank.refresh") {
        case "epoch": c.bankRefresh = .everyEpoch
        case "every": c.bankRefresh = .everyIterations(p.int("bank.every"))
        default: c.bankRefresh = .everyIteration
        }
        if p.string("bank.selection") == "quantile" {
            c.bankSelection = QuantileBankSelection(quantile: Float(p.double("bank.quantile")), fraction: Float(p.double("bank.fraction")),
                                                    minimumImages: p.int("bank.min_images"))
        } else {
            c.bankSelection = PaperBankSelection(threshold: Float(p.double("bank.threshold")), fraction: Float(p.double("bank.fraction")))
        }
        c.pseudoLabels = PaperPseudoLabelPolicy(normalThreshold: Float(p.double("pseudo_labels.tau_n")),
                                                confidentThreshold: Float(p.double("pseudo_labels.tau_c")))
        if p.string("bank.search") == "projected" {
            c.bankSearch = .projected(rank: p.int("bank.search_rank"), candidates: p.int("bank.search_candidates"))
        }
        c.patchSubsampling = PatchSubsampling(batchPatches: p.value(at: "batch_patches")?.intValue,
                                              bankPatches: p.value(at: "bank_patches")?.intValue)
        let hidden = (p["hidden"]?.listValue ?? []).compactMap(\.intValue)
        guard hidden.count == 2 else { throw StageError("parameter 'hidden' must list two sizes, got \(hidden)") }
        c.hidden1 = hidden[0]
        c.hidden2 = hidden[1]
        c.checkpointEveryEpochs = p.int("checkpoint_every")
        if let tail = p.value(at: "weight_average")?.doubleValue { c.weightAveraging = WeightAveraging(tail: tail) }
        return c
    }

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let level = p.string("level")
        let transform = try FeatureTransformParameters.transform(p)
        let features = try TrainingFeatureSets.open(context, level: level, transform: transform)
        let source = features.source
        if features.parts.count > 1 {
            context.announce("training on \(features.ids.count) images: " + features.parts.map { "\($0.images) from \($0.stage)" }.joined(separator: " + "))
        }
        var config = try configuration(p)
        if p.optionalString("synthetic_labels") == "masks" {
            config.fixedPatchLabels = try SyntheticMaskLabels.load(context, ids: features.ids, level: level)
            let patches = config.fixedPatchLabels.values.reduce(0) { $0 + $1.count }
            let anomalous = config.fixedPatchLabels.values.reduce(0) { $0 + $1.reduce(0) { $0 + Int($1) } }
            context.announce("\(config.fixedPatchLabels.count) synthetic images labelled by their masks: \(anomalous) of \(patches) patches anomalous")
            context.record("synthetic_labels", ["rule": "masks", "images": config.fixedPatchLabels.count,
                                                "anomalous_patches": anomalous, "patches": patches] as [String: Any])
        }
        let hooks = try HookSet(context)
        bind(hooks, into: &config, fraction: Float(p.double("bank.fraction")))
        let trainer = FunADTrainer(configuration: config)
        let checkpointURL = context.resumeDirectory.appendingPathComponent("trainer.checkpoint")
        var state: TrainerState?
        if FileManager.default.fileExists(atPath: checkpointURL.path) {
            do {
                state = try TrainerCheckpoint.read(checkpointURL)
                context.announce("resuming from the checkpoint after epoch \(state!.epochsCompleted)")
            } catch {
                context.announce("ignoring an unreadable checkpoint (\(error)); starting over")
            }
        }
        let resumedFrom = state?.epochsCompleted ?? 0
        for d in config.departuresFromPaper { context.log("departs from the paper: \(d)") }
        let schedule = config.schedule(imageCount: source.imageCount)
        context.announce("\(source.imageCount) images × \(source.patchesPerImage) patches × \(source.dimension)-d, \(schedule.summary)")
        var searched = (certified: 0, queries: 0)
        let result = try trainer.train(
            source: source, from: state,
            checkpoint: { s in
                try context.checkCancellation()
                try TrainerCheckpoint.write(s, to: checkpointURL)
                context.log("checkpoint after epoch \(s.epochsCompleted)")
            },
            epochFinished: { e in
                context.log(String(format: "epoch %d/\(schedule.epochs) loss %.5f bce %.5f ms %.5f bank %.1f images, pseudo-anomalous %.3f, mutual pairs %.0f",
                                   e.epoch + 1, e.loss, e.bce, e.mutualSmoothness, e.bankImages, e.pseudoAnomalyShare, e.mutualPairs))
            },
            progress: { t in
                if let certified = t.certifiedQueries {
                    searched.certified += certified
                    searched.queries += t.batchPatches
                }
                context.progress(t.globalIteration + 1, of: t.totalIterations, unit: "it",
                                 note: String(format: "epoch %d/%d · loss %.4f · bank %d img", t.epoch + 1, t.epochs, t.loss.total, t.bankImages))
            },
            shouldStop: { _ in context.isCancelled })
        try context.checkCancellation()
        try result.model.save(to: context.outputDirectory.appendingPathComponent(ModelManifest.weightsFile),
                              metadata: ["kind": "local-net", "level": level])
        try JSONFiles.write(ModelManifest(kind: .localNet, dimension: source.dimension, level: level,
                                          features: transform.isIdentity ? nil : transform),
                            to: context.outputDirectory.appendingPathComponent(ModelManifest.file))
        let history = TrainingHistory(epochs: result.state.epochStatistics,
                                      bankRefreshes: result.state.bankRecords, stepLosses: result.state.stepLosses,
                                      trainingIDs: features.ids)
        try JSONFiles.write(history, to: context.outputDirectory.appendingPathComponent(TrainingHistory.file))
        let st = result.state
        let imagesSeen = st.iterations * config.batchSize
        context.record("schedule", [
            "given": schedule.countedInSteps ? "steps" : "epochs",
            "steps": st.iterations, "planned_steps": schedule.totalIterations,
            "epochs": schedule.epochs, "epochs_run": st.epochsCompleted, "iterations_per_epoch": schedule.iterationsPerEpoch,
            "images_seen": imagesSeen, "patches_seen": imagesSeen * (config.patchSubsampling.batchPatches ?? source.patchesPerImage),
        ] as [String: Any])
        let convergence = ConvergenceCheck(tailFraction: p.double("convergence.tail"), maximumShare: p.double("convergence.max_share"))
            .assess(stepLosses: st.stepLosses)
        if let share = convergence.share, let fall = convergence.tailFall, let error = convergence.tailFallError, let run = convergence.runFall {
            context.record("loss_tail", ["share_of_fall": share, "tail_fall": fall, "tail_fall_error": error, "run_fall": run,
                                         "tail_steps": convergence.tailSteps, "max_share": p.double("convergence.max_share")] as [String: Any])
        }
        if let warning = convergence.warning {
            context.announce("warning: \(warning)")
            context.record("convergence_warning", warning)
        }
        var search: [String: Any] = ["method": config.bankSearch.summary]
        if searched.queries > 0 { search["certified_share"] = Double(searched.certified) / Double(searched.queries) }
        context.record("bank_search", search)
        context.record("seed", p.int("seed"))
        context.record("training_images", features.record)
        context.record("departures_from_paper", result.departuresFromPaper
            + (transform.isIdentity ? [] : ["patch features read with \(transform) (paper: f_ij = [global ‖ local_j] as extracted)"]))
        context.record("feature_transform", ["neighbourhood": transform.neighbourhood, "global_weight": Double(transform.globalWeight)])
        context.record("resumed_from_epoch", resumedFrom)
        if let a = config.weightAveraging {
            context.record("weight_average", ["tail": a.tail, "first_step": a.firstStep(totalSteps: schedule.totalIterations),
                                              "averaged_steps": result.state.averagedSteps] as [String: Any])
        }
        context.record("iterations", result.state.iterations)
        if let last = result.state.epochStatistics.last {
            context.record("final_epoch", ["loss": Double(last.loss), "bank_images": Double(last.bankImages),
                                           "pseudo_anomaly_share": Double(last.pseudoAnomalyShare)])
        }
        context.record("bank_sizes", result.state.bankRecords.suffix(50).map { ["iteration": $0.iteration, "images": $0.imageCount, "patches": $0.patchCount] })
        if let reason = result.state.stopReason {
            context.record("stopped_early", ["after_epoch": result.state.epochsCompleted, "of": schedule.epochs, "reason": reason])
            context.announce("stopped after epoch \(result.state.epochsCompleted) of \(schedule.epochs): \(reason)")
        }
        try hooks.record(into: context)
    }
}

/// `training.json`: per-epoch statistics and every bank refresh (with the bank's image
/// indices into `trainingIDs`), so that `evaluate` can report bank purity from the audit.
struct TrainingHistory: Codable {
    var epochs: [EpochStatistics]
    var bankRefreshes: [BankRefreshRecord]
    /// Total loss of every optimiser step (absent in histories of train version 1).
    var stepLosses: [Float]?
    var trainingIDs: [String]
    static let file = "training.json"
}
