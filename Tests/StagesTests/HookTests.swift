import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// Lua hooks bound to FunAD's policies: a Lua re-implementation of the paper's rules
/// trains bit-identical weights, hooks are deterministic, and whatever a script returns
/// is checked before the trainer sees it.
@Suite(.serialized) struct HookPolicyTests {
    /// This test's scratch folder, removed when swift-testing releases the suite instance.
    let scratch = ScratchFolder("funad-hooks")

    /// A hook from inline source, written to a scratch file as users write theirs.
    func hook(_ name: String, _ source: String, with parameters: ParameterValue = .object([:]),
              limits: LuaLimits = .default, file: String? = nil) throws -> LuaHook {
        let url = scratch.url.appendingPathComponent(file ?? "\(name)-\(UUID().uuidString.prefix(6)).lua")
        try source.write(to: url, atomically: true, encoding: .utf8)
        return try LuaHook(LuaHookReference(hook: name, scriptPath: url.path, parameters: parameters), limits: limits, stage: "model", print: { _ in })
    }

    /// The paper's two rules (Eq. 26 candidates, Eq. 28 + Sec. 4.3 thresholds) in Lua.
    static let paperRules = """
    function bank(s, ctx)
      local lo, hi = funad.min(s), funad.max(s)
      local out = {}
      for i = 1, #s do
        local n = hi > lo and (s[i] - lo) / (hi - lo) or 0
        if n < 0.5 then out[#out + 1] = i end
      end
      return out
    end
    function pseudo_labels(d, ctx)
      local lo, hi = funad.min(d), funad.max(d)
      return {anomalous_above = lo + 0.5 * (hi - lo), confident_above = lo + 0.9 * (hi - lo)}
    end
    """

    /// 24 images of 3×3 patches, 8-d; the first 3 images have 2 shifted patches.
    static func source() -> InMemoryPatchFeatures {
        var rng = Xoshiro256StarStar(seed: 4)
        let values = (0..<(24 * 9 * 8)).map { i -> Float in
            let image = i / 72, patch = (i / 8) % 9
            let g = Float(rng.nextGaussian())
            return image < 3 && patch < 2 ? 1.5 + Float(2).squareRoot() * g : g
        }
        return InMemoryPatchFeatures(imageCount: 24, gridHeight: 3, gridWidth: 3, dimension: 8, values: values)
    }

    static func configuration() -> TrainerConfiguration {
        var c = TrainerConfiguration()
        c.epochs = 3; c.batchSize = 6; c.hidden1 = 16; c.hidden2 = 8; c.seed = 11
        return c
    }

    @Test func luaPaperRulesTrainBitIdenticalWeights() throws {
        let builtIn = try FunADTrainer(configuration: Self.configuration()).train(source: Self.source())
        var c = Self.configuration()
        c.bankSelection = ScriptedBankSelection(hook: try hook("bank", Self.paperRules), fraction: 0.5, seed: c.seed)
        c.pseudoLabels = ScriptedPseudoLabels(hook: try hook("pseudo_labels", Self.paperRules), seed: c.seed)
        let scripted = try FunADTrainer(configuration: c).train(source: Self.source())
        #expect(scripted.state.bankRecords == builtIn.state.bankRecords)
        #expect(scripted.state.parameters == builtIn.state.parameters)
        #expect(scripted.state.epochStatistics.map(\.loss) == builtIn.state.epochStatistics.map(\.loss))
    }

    /// The no-hook path is unchanged by the Lua layer: the weights and banks of a fixed
    /// run equal those the code before it produced (Fixtures: recorded from commit 6cbd9ce
    /// on this machine kind; the bank draws are discrete, the weights exact here — a
    /// different CPU's BLAS may round differently, hence the 1e-6 allowance).
    @Test func noHookPathMatchesThePreLuaTrainer() throws {
        let url = Bundle.module.url(forResource: "nohook_fixture", withExtension: "json", subdirectory: "Fixtures")!
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let r = try FunADTrainer(configuration: Self.configuration()).train(source: Self.source())
        #expect(r.state.bankRecords.map(\.imageIndices) == fixture["banks"] as! [[Int]])
        let expected = (fixture["weights_bits"] as! [String]).map { Float(bitPattern: UInt32($0, radix: 16)!) }
        #expect(expected.count == r.state.parameters.values.count)
        let diff = zip(expected, r.state.parameters.values).map { abs($0 - $1) }.max() ?? .infinity
        #expect(diff <= 1e-6, "max weight difference \(diff)")
    }

    /// A hook drawing from math.random is reproducible (same stage seed → same weights)
    /// and draws differently at each call (the seed mixes in the iteration).
    @Test func seededRandomnessIsReproducible() throws {
        let source = """
        function pseudo_labels(d, ctx)
          local labels = {}
          for i = 1, #d do labels[i] = math.random() < 0.3 and 1 or 0 end
          return {labels = labels, ambiguous = {}}
        end
        """
        func train() throws -> TrainingResult {
            var c = Self.configuration()
            c.pseudoLabels = ScriptedPseudoLabels(hook: try hook("pseudo_labels", source), seed: c.seed)
            return try FunADTrainer(configuration: c).train(source: Self.source())
        }
        let a = try train(), b = try train()
        #expect(a.state.parameters == b.state.parameters)
        let policy = ScriptedPseudoLabels(hook: try hook("pseudo_labels", source), seed: 11)
        let d = [Float](repeating: 1, count: 64)
        let first = try policy.assign(distances: d, moment: TrainingMoment(epoch: 0, epochs: 3, globalIteration: 0, imageCount: 24))
        let again = try policy.assign(distances: d, moment: TrainingMoment(epoch: 0, epochs: 3, globalIteration: 0, imageCount: 24))
        let next = try policy.assign(distances: d, moment: TrainingMoment(epoch: 0, epochs: 3, globalIteration: 1, imageCount: 24))
        #expect(first.labels == again.labels && first.labels != next.labels)
    }

    /// Every malformed return is an error naming the script, the hook and what was expected.
    @Test func returnValuesAreValidated() throws {
        let m = TrainingMoment(epoch: 0, epochs: 1, globalIteration: 0, imageCount: 4)
        var rng = Xoshiro256StarStar(seed: 1)
        func pseudo(_ body: String) throws -> (String, String) {
            let file = "pl-\(UUID().uuidString.prefix(6)).lua"
            let h = try hook("pseudo_labels", "function pseudo_labels(d, ctx) \(body) end", file: file)
            do { _ = try ScriptedPseudoLabels(hook: h, seed: 0).assign(distances: [1, 2, 3, 4, 5, 6], moment: m); return (file, "no error") }
            catch { return (scratch.url.appendingPathComponent(file).path, "\(error)") }
        }
        func bank(_ body: String) throws -> (String, String) {
            let file = "bank-\(UUID().uuidString.prefix(6)).lua"
            let h = try hook("bank", "function bank(s, ctx) \(body) end", file: file)
            do { _ = try ScriptedBankSelection(hook: h, fraction: 0.5, seed: 0).selectBankImages(imageScores: [1, 2, 3, 4], moment: m, rng: &rng); return (file, "no error") }
            catch { return (scratch.url.appendingPathComponent(file).path, "\(error)") }
        }
        let site = "[hook pseudo_labels, stage model]"
        var (path, message) = try pseudo("return {labels = {1, 0}}")
        #expect(message == "\(path): pseudo_labels returned 2 labels for 6 patches; expected one 0 or 1 per patch \(site)")
        (path, message) = try pseudo("return {anomalous_above = math.huge, confident_above = 1}")
        #expect(message == "\(path): pseudo_labels returned inf for anomalous_above; expected a finite number \(site)")
        (path, message) = try pseudo("return {anomalous_above = 0/0, confident_above = 1}")
        #expect(message.hasPrefix("\(path): pseudo_labels returned ") && message.hasSuffix("nan for anomalous_above; expected a finite number \(site)"))
        (path, message) = try pseudo("return 3")
        #expect(message == "\(path): pseudo_labels returned the number 3; expected {anomalous_above = a, confident_above = c} or {labels = {...}, ambiguous = {...}} \(site)")
        (path, message) = try pseudo("return {labels = {1, 1, 0, 0, 0, 0}, ambiguous = {3}}")
        #expect(message == "\(path): pseudo_labels returned ambiguous patch 3 with label 0; only pseudo-anomalies (label 1) can be ambiguous \(site)")
        (path, message) = try pseudo("return {labels = {1, 1, 0, 0, 0, 0}, ambiguous = {7}}")
        #expect(message == "\(path): pseudo_labels returned index 7 at position 1 of ambiguous; expected 1..6 \(site)")

        let bankSite = "[hook bank, stage model]"
        (path, message) = try bank("return {0}")
        #expect(message == "\(path): bank returned index 0 at position 1 of the bank's image indices; expected 1..4 \(bankSite)")
        // Past Int's range: named as the number it is (converting it to Int would trap).
        (path, message) = try bank("return {1e300}")
        #expect(message == "\(path): bank returned index 1e+300 at position 1 of the bank's image indices; expected 1..4 \(bankSite)")
        (path, message) = try bank("return {-2^63}")
        #expect(message == "\(path): bank returned index -9223372036854775808 at position 1 of the bank's image indices; expected 1..4 \(bankSite)")
        (path, message) = try bank("return {1, 1}")
        #expect(message == "\(path): bank returned an index more than once in the bank's image indices; expected distinct indices \(bankSite)")
        (path, message) = try bank("return 'x'")
        #expect(message == "\(path): bank returned the string \"x\"; expected a number t (images with score ≤ t enter the bank) or a table of 1-based image indices \(bankSite)")
        (path, message) = try bank("return 0.5")
        #expect(message == "\(path): bank returned no bank image (4 training images); expected at least one \(bankSite)")
        // A good threshold return: scores ≤ 2.5 are the candidates {0, 1}; fraction 0.5 keeps one.
        let ok = try hook("bank", "function bank(s, ctx) return 2.5 end")
        let picked = try ScriptedBankSelection(hook: ok, fraction: 0.5, seed: 0).selectBankImages(imageScores: [1, 2, 3, 4], moment: m, rng: &rng)
        #expect(picked.count == 1 && [0, 1].contains(picked[0]))
    }

    /// epoch_end sees the finished epochs (ctx.history) and stops with its reason.
    @Test func epochEndHookStopsWithItsReason() throws {
        var c = Self.configuration()
        c.epochs = 6
        c.epochEnd = ScriptedEpochEnd(hook: try hook("epoch_end", """
        function epoch_end(stats, ctx)
          if #ctx.history >= 2 and stats.epoch == ctx.epoch then
            return string.format("stop at epoch %d of %d", ctx.epoch, ctx.epochs)
          end
          return false
        end
        """), seed: c.seed)
        let r = try FunADTrainer(configuration: c).train(source: Self.source())
        #expect(r.state.epochsCompleted == 2 && r.state.stopReason == "stop at epoch 2 of 6")
    }

    /// The deployment threshold: built-in median + 3·1.4826·MAD, or the hook's number.
    @Test func deploymentThresholdRuleAndHook() throws {
        let scores: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 100]
        let builtIn = try DeploymentThreshold.choose(trainingScores: scores, hook: nil, seed: 0)
        #expect(abs(builtIn.threshold - (5.5 + 3 * 1.4826 * 2.5)) < 1e-9 && builtIn.rule == DeploymentThreshold.defaultRule(.raw))
        let h = try hook("threshold", "function threshold(s, ctx) return funad.quantile(s, 1 - ctx.params.rate) end",
                              with: .object(["rate": .double(0.1)]))
        // numpy.quantile([1..9, 100], 0.9, method="linear") = 9 + 0.1·(100 − 9) = 18.1
        #expect(abs(try DeploymentThreshold.choose(trainingScores: scores, hook: h, seed: 0).threshold - 18.1) < 1e-9)
    }
}

/// Hooks in a workflow: validated before anything runs, part of the cache key (an edit
/// reruns exactly the stages that use the script), failures that leave the cache intact,
/// and the deployment threshold in the evaluation.
@Suite(.serialized) struct HookWorkflowTests {
    static let workflow = TinyWorkflow.head(name: "hooks") + """
      model:
        type: train
        needs: [features]
        with:
          epochs: 2
          batch_size: 4
          hidden: [16, 8]
          bank: {refresh: epoch}
          hooks:
            pseudo_labels: {script: labels.lua, with: {q: 0.8}}
            epoch_end: stop.lua
      scores: {type: infer, needs: [model, features], with: {map_size: 64}}
      report:
        type: evaluate
        needs: [scores, data, model]
        with: {overlays: 0, hooks: {threshold: threshold.lua}}
    """
    static let labels = """
    -- pseudo-labels at a quantile of the batch's distances
    function pseudo_labels(d, ctx)
      local a = funad.quantile(d, ctx.params.q)
      funad.log("a", a)
      return {anomalous_above = a, confident_above = funad.max(d)}
    end
    """
    static let stop = "function epoch_end(stats, ctx) return false end\n"
    static let threshold = "function threshold(s, ctx) return funad.quantile(s, 0.9) end\n"

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-hookwf-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Self.workflow.write(to: dir.appendingPathComponent("hooks.yaml"), atomically: true, encoding: .utf8)
        try Self.labels.write(to: dir.appendingPathComponent("labels.lua"), atomically: true, encoding: .utf8)
        try Self.stop.write(to: dir.appendingPathComponent("stop.lua"), atomically: true, encoding: .utf8)
        try Self.threshold.write(to: dir.appendingPathComponent("threshold.lua"), atomically: true, encoding: .utf8)
        return dir
    }

    func session(_ dir: URL) -> WorkflowSession { TinyWorkflow.session(dir) }

    func run(_ dir: URL) async throws -> (RunOutcome, [String: Any]) {
        try await TinyWorkflow.run(dir.appendingPathComponent("hooks.yaml").path, in: dir).pair
    }

    func stage(_ record: [String: Any], _ name: String) -> [String: Any] { TinyRun.stage(record, name) }

    @Test func scriptEditRerunsOnlyItsStagesAndPlanSaysWhy() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (first, record) = try await run(dir)
        try #require(first.status == .succeeded, "\(first.failures.map(\.message))")
        // The hook ran once per iteration (2 epochs × ⌊15/4⌋ = 3 iterations) and logged each time.
        let hooks = (stage(record, "model")["summary"] as! [String: Any])["hooks"] as! [String: Any]
        let pl = hooks["pseudo_labels"] as! [String: Any]
        #expect(pl["calls"] as? Int == 6)
        #expect(((pl["logged"] as! [String: Any])["a"] as! [String: Any])["count"] as? Int == 6)
        #expect((hooks["epoch_end"] as! [String: Any])["calls"] as? Int == 1) // not asked after the last epoch
        let departures = (stage(record, "model")["summary"] as! [String: Any])["departures_from_paper"] as! [String]
        #expect(departures.contains { $0.hasPrefix("pseudo-labels: Lua hook pseudo_labels (") })
        // The threshold hook's number decides the test images: the 0.9 quantile of the training scores.
        let report = stage(record, "report")["summary"] as! [String: Any]
        let decisions = report["decisions"] as! [String: Any]
        let trainingScores = try JSONDecoder().decode(ScoresFile.self, from: Data(contentsOf: URL(fileURLWithPath: stage(record, "scores")["outputs"] as! String)
            .appendingPathComponent(ScoresFile.trainingFile))).scores.map(Double.init).sorted()
        let h = 0.9 * Double(trainingScores.count - 1), lo = Int(h)
        let q = trainingScores[lo] + (h - Double(lo)) * (trainingScores[min(lo + 1, trainingScores.count - 1)] - trainingScores[lo])
        #expect(abs((decisions["threshold"] as! Double) - q) < 1e-9)
        #expect((decisions["rule"] as! String).hasPrefix("Lua hook threshold: "))

        // Edit the pseudo-label script: the plan names the hook and the file; train and what
        // follows rerun, extraction stays cached.
        try (Self.labels + "-- tuned\n").write(to: dir.appendingPathComponent("labels.lua"), atomically: true, encoding: .utf8)
        let s = session(dir)
        let plan = try s.plan(try s.load(dir.appendingPathComponent("hooks.yaml").path))
        let model = plan.steps.first { $0.stage.name == "model" }!
        guard case .willRun(let reasons) = model.status else { Issue.record("model should rerun"); return }
        #expect(reasons.count == 1 && reasons[0].hasPrefix("hook pseudo_labels: ") && reasons[0].hasSuffix("labels.lua changed"))
        #expect(plan.toRun.map(\.stage.name) == ["model", "scores", "report"])
        // Editing the threshold script reruns the evaluation alone.
        let (second, _) = try await run(dir)
        #expect(second.ran == 3 && second.cached == 3)
        try (Self.threshold + "-- tuned\n").write(to: dir.appendingPathComponent("threshold.lua"), atomically: true, encoding: .utf8)
        let (third, _) = try await run(dir)
        #expect(third.ran == 1 && third.cached == 5)
    }

    @Test func hookProblemsAreFoundBeforeAnythingRuns() throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "function pseudo_labels(d, ctx)\n  return {\nend\n".write(to: dir.appendingPathComponent("labels.lua"), atomically: true, encoding: .utf8)
        try "function epochend(stats, ctx) return false end\n".write(to: dir.appendingPathComponent("stop.lua"), atomically: true, encoding: .utf8)
        let yaml = Self.workflow.replacingOccurrences(of: "hooks: {threshold: threshold.lua}", with: "hooks: {treshold: missing.lua}")
        try yaml.write(to: dir.appendingPathComponent("hooks.yaml"), atomically: true, encoding: .utf8)
        do {
            _ = try session(dir).load(dir.appendingPathComponent("hooks.yaml").path)
            Issue.record("expected diagnostics")
        } catch let list as DiagnosticList {
            let text = list.diagnostics.map(\.description)
            let file = dir.appendingPathComponent("hooks.yaml").path
            let labels = dir.appendingPathComponent("labels.lua").path, stop = dir.appendingPathComponent("stop.lua").path
            #expect(text.count == 3, "\(text)")
            #expect(text[0].hasPrefix("error: \(file):21:33:") && text[0].contains("stage 'model', field 'with.hooks.pseudo_labels': \(labels):3: unexpected symbol near 'end'"))
            #expect(text[1] == "error: \(file):22:20: stage 'model', field 'with.hooks.epoch_end': \(stop) does not define a global function 'epoch_end' (did you mean 'epochend'?); it defines epochend")
            #expect(text[2] == "error: \(file):27:33: stage 'report', field 'with.hooks.treshold': unknown hook 'treshold' (did you mean 'threshold'?); this stage offers: threshold")
        }
    }

    /// A script that fails at run time fails its stage (exit status 1) with the script's
    /// line and the hook; what finished before stays cached and nothing half-written is kept.
    @Test func runtimeErrorFailsTheStageCleanly() async throws {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "function pseudo_labels(d, ctx)\n  local x = nil\n  return x.y\nend\n".write(to: dir.appendingPathComponent("labels.lua"), atomically: true, encoding: .utf8)
        let (outcome, record) = try await run(dir)
        #expect(outcome.status == .failed)
        let labels = dir.appendingPathComponent("labels.lua").path
        #expect(outcome.failures.map(\.message) == ["\(labels):3: attempt to index a nil value (local 'x') [hook pseudo_labels, stage model]"])
        #expect(stage(record, "features")["status"] as? String == "ran")
        #expect(stage(record, "model")["status"] as? String == "failed")
        let entries = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("cache/tmp").path)
        #expect(entries.isEmpty)
    }
}
