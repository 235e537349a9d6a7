import Foundation
import FunAD
import Workflow

/// `evaluate`: image AUROC, pixel AUROC, AUPRO and F1-max, overall and per defect type
/// (METHOD.md step 6), with tables, ROC and PRO data, heat-map overlays and `report.html`
/// (drawn by `ReportPage` from these files). The model evaluated is the one at the end
/// of its configured schedule: nothing here selects a model by its test score (METHOD.md
/// "Honest evaluation"). When the training history is available it
/// also reports how many contaminated images the memory bank held (bank purity), from
/// the load stage's audit — for reporting only.
struct EvaluateStage: StageType {
    let declaration = StageDeclaration(
        type: "evaluate", version: 6,
        summary: "metrics, tables, ROC and PRO curves, heat-map overlays and report.html for the test set",
        consumes: [Artifact.scores, Artifact.dataset], optionallyConsumes: [Artifact.model], produces: [Artifact.report],
        parameters: [
            .init("fpr_limit", .double(range: 0.001...1), default: .double(0.3), help: "AUPRO integrates up to this false-positive rate"),
            .init("mask_threshold", .int(range: 0...254), default: .int(0), help: "mask pixels above this value are defective (MTD masks have soft edges: use 127)"),
            .init("overlays", .int(range: 0...10_000), default: .int(12), help: "heat-map overlays to write, worst misses, worst false alarms and best detections first"),
            .init("roc_points", .int(range: 2...1_000_000), default: .int(1000), help: "points kept per ROC curve file"),
            .init("seed", .int(range: 0...Int.max), default: .int(0), help: "seeds math.random in the threshold hook"),
            .init("threshold_scale", .choice(["auto", "raw", "logit"]), default: .string("auto"),
                  help: "scale of the built-in threshold rule: logit for probabilities (auto: FUN-AD's scores), raw otherwise"),
        ] + LuaHookParameters.declarations(hooks: ["threshold"]))

    func run(_ context: StageContext) async throws {
        let p = context.parameters
        let scoresDir = try context.input(Artifact.scores).directory
        let dataDir = try context.input(Artifact.dataset).directory
        let scores = try JSONFiles.read(ScoresFile.self, from: scoresDir.appendingPathComponent(ScoresFile.file))
        let test = try DatasetArtifact.readTest(from: dataDir)
        guard scores.ids == test.map(\.id) else {
            throw StageError("the scores (\(scores.ids.count) images) were not made from this dataset's test set (\(test.count) images, other ids or order): check the stages' needs")
        }
        let maps = try scores.mapSize.map { _ in try AnomalyMapReader(url: scoresDir.appendingPathComponent(ScoresFile.mapsFile)) }
        let side = maps?.height ?? 224
        let preprocessor = try Preprocessor(resize: 256 * side / 224, crop: side, maskThreshold: UInt8(p.int("mask_threshold")))
        var samples: [EvaluationSample] = []
        for (i, item) in test.enumerated() {
            let mask = try item.maskPath.map { try preprocessor.mask(at: $0) }
            samples.append(EvaluationSample(name: item.id, defectType: item.defectType, isAnomalous: item.label == .anomalous, mask: mask))
            if i % 32 == 0 { context.progress(i, of: test.count, unit: "masks") }
        }
        let result = try Evaluation.evaluate(samples: samples, imageScores: scores.scores, maps: maps,
                                             options: EvaluationOptions(fprLimit: p.double("fpr_limit"), rocPoints: p.int("roc_points")))
        try EvaluationReport.write(result, to: context.outputDirectory)
        func percent(_ m: MetricValue) -> String { m.value.map { String(format: "%.1f", 100 * $0) } ?? "n/a" }
        let o = result.overall
        context.announce("image AUROC \(percent(o.imageAUROC)) %, pixel AUROC \(percent(o.pixelAUROC)) %, AUPRO \(percent(o.aupro)) % (\(o.normalImages) normal, \(o.anomalousImages) defective test images)")

        var overlays: [ReportContext.OverlayEntry] = []
        var overlayRange: ClosedRange<Float>?
        if let maps, p.int("overlays") > 0 {
            let dir = context.outputDirectory.appendingPathComponent("overlays")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let range = Overlay.scoreRange(maps)
            overlayRange = range
            let picks = OverlaySelection.choose(isAnomalous: samples.map(\.isAnomalous), imageScores: scores.scores, count: p.int("overlays"))
            for (n, pick) in picks.enumerated() {
                let item = test[pick.index]
                let image = try preprocessor.image(at: item.path)
                let planes = try Overlay.render(name: item.id, image: image, mask: samples[pick.index].mask, map: maps.map(pick.index), range: range)
                let file = Overlay.fileName(order: n + 1, pick: pick, id: item.id)
                try PNGWriter.write(planes, to: dir.appendingPathComponent(file))
                overlays.append(.init(file: "overlays/" + file, id: item.id, role: pick.role.rawValue, rank: pick.rank,
                                      score: scores.scores[pick.index], anomalous: samples[pick.index].isAnomalous))
            }
            context.record("overlays", picks.count)
        }

        try decide(context, scoresDir: scoresDir, testScores: scores.scores, isAnomalous: samples.map(\.isAnomalous))

        func value(_ m: MetricValue) -> Any { m.value ?? NSNull() }
        context.record("image_auroc", value(result.overall.imageAUROC))
        context.record("pixel_auroc", value(result.overall.pixelAUROC))
        context.record("aupro", value(result.overall.aupro))
        context.record("image_f1_max", value(result.overall.imageF1Max.metric))
        context.record("pixel_f1_max", value(result.overall.pixelF1Max.metric))
        context.record("test_images", ["normal": result.overall.normalImages, "anomalous": result.overall.anomalousImages])

        if let model = context.optionalInput(Artifact.model),
           let history = try? JSONFiles.read(TrainingHistory.self, from: model.directory.appendingPathComponent(TrainingHistory.file)) {
            let audit = try JSONFiles.read(ContaminationAudit.self, from: dataDir.appendingPathComponent(DatasetArtifact.auditFile))
            // FUN-AD*'s synthetic anomalies are defective too: those listed by a synthesize
            // stage in this dataset, and training images that this dataset's training list
            // lacks (they came from another feature set joined by train, i.e. synthetic-features).
            let listed = Set(try DatasetArtifact.readTraining(from: dataDir).map(\.id))
            let syntheticFile = dataDir.appendingPathComponent(DatasetArtifact.syntheticFile)
            var synthetic = Set((try? JSONFiles.read([String].self, from: syntheticFile)) ?? [])
            synthetic.formUnion(history.trainingIDs.filter { !listed.contains($0) })
            let purity = BankPurity.measure(history: history, contaminated: Set(audit.contaminatedTrainingIDs), synthetic: synthetic)
            try JSONFiles.write(purity, to: context.outputDirectory.appendingPathComponent("bank_purity.json"))
            if let last = purity.refreshes.last {
                let synthetic = purity.syntheticInTraining > 0
                    ? "; and \(last.synthetic) of the training set's \(purity.syntheticInTraining) synthetic anomalies" : ""
                context.announce("memory bank at the last refresh: \(last.images) images, \(last.contaminated) of them defective (the training set holds \(purity.contaminatedInTraining))\(synthetic)")
            }
            context.record("bank_purity", ["refreshes": purity.refreshes.count,
                                           "last_images": purity.refreshes.last?.images ?? 0,
                                           "last_contaminated": purity.refreshes.last?.contaminated ?? 0,
                                           "contaminated_in_training": purity.contaminatedInTraining,
                                           "last_synthetic": purity.refreshes.last?.synthetic ?? 0,
                                           "synthetic_in_training": purity.syntheticInTraining])
        }

        try ReportContext.gather(stage: context.stageName, outputDirectory: context.outputDirectory, dataDirectory: dataDir,
                                 scoresDirectory: scoresDir, modelDirectory: context.optionalInput(Artifact.model)?.directory,
                                 samples: samples, scores: scores.scores, overlays: overlays, overlayRange: overlayRange)
            .write(to: context.outputDirectory)
        try ReportPage.evaluation(context.outputDirectory).write()
    }
}

extension EvaluateStage {
    /// The deployment threshold (the `threshold` hook or the built-in label-free rule, on
    /// the training images' scores: no test label is used to choose it) and what it
    /// decides on the test set: `threshold.json`, a table appended to `metrics.md`, and
    /// the figures in the run record. Skipped, with a note, when `infer` did not score the
    /// training images.
    func decide(_ context: StageContext, scoresDir: URL, testScores: [Float], isAnomalous: [Bool]) throws {
        let hooks = try HookSet(context)
        let trainingURL = scoresDir.appendingPathComponent(ScoresFile.trainingFile)
        guard FileManager.default.fileExists(atPath: trainingURL.path) else {
            let note = "no deployment threshold: the scores hold no training-image scores (infer's training_scores is 'auto', which skips PatchCore, or 'no')"
            if hooks["threshold"] != nil { throw StageError("the threshold hook needs the training images' scores: \(note)") }
            context.log(note)
            return
        }
        let training = try JSONFiles.read(ScoresFile.self, from: trainingURL)
        let scale: RobustThreshold.Scale
        switch context.parameters.string("threshold_scale") {
        case "raw": scale = .raw
        case "logit": scale = .logit
        default:
            let kind = try? context.optionalInput(Artifact.model).map {
                try JSONFiles.read(ModelManifest.self, from: $0.directory.appendingPathComponent(ModelManifest.file)).kind
            }
            scale = kind == .localNet ? .logit : .raw
        }
        let (threshold, rule) = try DeploymentThreshold.choose(trainingScores: training.scores, hook: hooks["threshold"],
                                                               seed: UInt64(context.parameters.int("seed")), scale: scale)
        let decisions = try ThresholdDecisions(threshold: threshold, scores: testScores, isAnomalous: isAnomalous)
        let trainingFlagged = training.scores.filter { Double($0) > threshold }.count
        struct ThresholdFile: Encodable {
            var threshold: Double; var rule: String; var trainingImages: Int; var trainingFlagged: Int; var test: ThresholdDecisions
        }
        try JSONFiles.write(ThresholdFile(threshold: threshold, rule: rule, trainingImages: training.scores.count,
                                          trainingFlagged: trainingFlagged, test: decisions),
                            to: context.outputDirectory.appendingPathComponent("threshold.json"))
        let md = context.outputDirectory.appendingPathComponent("metrics.md")
        let table = decisions.markdown(rule: rule)
            + "\n\(trainingFlagged) of the \(training.scores.count) unlabelled training images are above it.\n"
        if let handle = try? FileHandle(forWritingTo: md) {
            _ = try? handle.seekToEnd()
            handle.write(Data(("\n" + table).utf8))
            try? handle.close()
        }
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f", 100 * $0) } ?? "n/a" }
        context.announce("threshold \(String(format: "%.7g", threshold)) (\(rule)): precision \(pct(decisions.precision)) %, recall \(pct(decisions.recall)) %, F1 \(pct(decisions.f1)) %, false alarms \(pct(decisions.falseAlarmRate)) %")
        func value(_ v: Double?) -> Any { v ?? NSNull() }
        context.record("decisions", ["threshold": threshold, "rule": rule, "precision": value(decisions.precision),
                                     "recall": value(decisions.recall), "f1": value(decisions.f1),
                                     "false_alarm_rate": value(decisions.falseAlarmRate),
                                     "flagged": decisions.truePositives + decisions.falsePositives,
                                     "training_flagged": trainingFlagged])
        try hooks.record(into: context)
    }
}

/// How many contaminated training images (real defective images moved in by the
/// contamination draw) and how many synthetic anomalies (FUN-AD*) the IRMB held at each
/// refresh. Both are defective; they are counted apart because only the first measures
/// how well the bank resists the contamination the paper studies.
struct BankPurity: Codable {
    struct Refresh: Codable { var iteration: Int; var epoch: Int; var images: Int; var contaminated: Int; var synthetic: Int }
    var contaminatedInTraining: Int
    var syntheticInTraining: Int
    var trainingImages: Int
    var refreshes: [Refresh]

    static func measure(history: TrainingHistory, contaminated: Set<String>, synthetic: Set<String> = []) -> BankPurity {
        let ids = history.trainingIDs
        func count(_ set: Set<String>, _ indices: [Int]) -> Int { indices.filter { $0 >= 0 && $0 < ids.count && set.contains(ids[$0]) }.count }
        return BankPurity(
            contaminatedInTraining: ids.filter { contaminated.contains($0) }.count,
            syntheticInTraining: ids.filter { synthetic.contains($0) }.count, trainingImages: ids.count,
            refreshes: history.bankRefreshes.map { r in
                Refresh(iteration: r.iteration, epoch: r.epoch, images: r.imageCount,
                        contaminated: count(contaminated, r.imageIndices), synthetic: count(synthetic, r.imageIndices))
            })
    }
}
