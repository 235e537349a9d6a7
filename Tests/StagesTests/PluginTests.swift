import Foundation
import Testing
@testable import Stages
import FunAD
import Workflow

/// Every plugin shipped in plugins/ against hand-computed expectations, through the same
/// bindings the stages use (so the plugin's return value is validated as in a real run).
@Suite struct ShippedPluginTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func hook(_ file: String, _ name: String, _ with: [String: ParameterValue] = [:]) throws -> LuaHook {
        try LuaHook(LuaHookReference(hook: name, scriptPath: root.appendingPathComponent("plugins/\(file)").path, parameters: .object(with)),
                    limits: .default, stage: "test", print: { _ in })
    }

    static func moment(epoch: Int = 1, epochs: Int = 5) -> TrainingMoment {
        TrainingMoment(epoch: epoch - 1, epochs: epochs, globalIteration: 0, imageCount: 10)
    }

    /// Labels (1-based indices of label-1 patches) and ambiguous patches (1-based).
    static func labels(_ file: String, _ d: [Float], _ with: [String: ParameterValue] = [:], epoch: Int = 1, epochs: Int = 5) throws -> ([Int], [Int]) {
        let a = try ScriptedPseudoLabels(hook: try hook(file, "pseudo_labels", with), seed: 0).assign(distances: d, moment: moment(epoch: epoch, epochs: epochs))
        return (a.labels.indices.filter { a.labels[$0] == 1 }.map { $0 + 1 }, a.ambiguous.map { $0 + 1 })
    }

    /// Bank candidates (1-based) at fraction 1 (every candidate kept).
    static func bank(_ file: String, _ s: [Float], _ with: [String: ParameterValue] = [:]) throws -> [Int] {
        var rng = Xoshiro256StarStar(seed: 0)
        return try ScriptedBankSelection(hook: try hook(file, "bank", with), fraction: 1, seed: 0)
            .selectBankImages(imageScores: s, moment: moment(), rng: &rng).sorted().map { $0 + 1 }
    }

    static func threshold(_ file: String, _ s: [Float], _ with: [String: ParameterValue] = [:]) throws -> Double {
        try DeploymentThreshold.choose(trainingScores: s, hook: try hook(file, "threshold", with), seed: 0).threshold
    }

    static func stop(_ losses: [Float], jaccard: [Float]? = nil, _ with: [String: ParameterValue] = [:]) throws -> (epoch: Int, reason: String)? {
        let policy = ScriptedEpochEnd(hook: try hook("early-stop.lua", "epoch_end", with), seed: 0)
        var history: [EpochStatistics] = []
        for (i, loss) in losses.enumerated() {
            history.append(EpochStatistics(epoch: i, loss: loss, bce: loss, mutualSmoothness: 0, bankImages: 4, pseudoAnomalyShare: 0.1,
                                           mutualPairs: 10, bankJaccard: jaccard?[i] ?? 0))
            if let reason = try policy.stopReason(history: history, moment: moment(epoch: i + 1, epochs: 100)) { return (i + 1, reason) }
        }
        return nil
    }

    /// Otsu on {0,0,1,3,4,4} with 4 bins over [0, 4]: centres 0.5, 1.5, 2.5, 3.5; the
    /// split after the second bin maximises the between-class variance → a = 1.5; the
    /// band c = a + 0.8·(4 − a) = 3.5.
    @Test func pseudoLabelsOtsu() throws {
        var (l, amb) = try Self.labels("pseudo-labels-otsu.lua", [0, 0, 1, 3, 4, 4], ["bins": .int(4)])
        #expect(l == [4, 5, 6] && amb == [4])
        (l, amb) = try Self.labels("pseudo-labels-otsu.lua", [0.3, 0.3, 0.3])
        #expect(l.isEmpty && amb.isEmpty)
        #expect(throws: LuaError.self) { try Self.labels("pseudo-labels-otsu.lua", [1, 2], ["band": .int(2)]) }
    }

    /// numpy.quantile(1..10, 0.5) = 5.5 and (…, 0.8) = 8.2 → labels 6..10, ambiguous 6, 7, 8.
    @Test func pseudoLabelsPercentile() throws {
        let d: [Float] = (1...10).map(Float.init)
        var (l, amb) = try Self.labels("pseudo-labels-percentile.lua", d)
        #expect(l == [10] && amb.isEmpty) // defaults 0.9 → 9.1, 0.98 → 9.82
        (l, amb) = try Self.labels("pseudo-labels-percentile.lua", d, ["anomalous": .double(0.5), "confident": .double(0.8)])
        #expect(l == [6, 7, 8, 9, 10] && amb == [6, 7, 8])
        (l, amb) = try Self.labels("pseudo-labels-percentile.lua", d.reversed(), ["anomalous": .double(0.5), "confident": .double(0.8)])
        #expect(l == [1, 2, 3, 4, 5] && amb == [3, 4, 5])
    }

    /// τ_n from 0.7 (epoch 1) to 0.5 (epoch 5) on d ∈ [0, 10]: a = 7, 6, 5; c = 9 always.
    @Test func pseudoLabelsAnneal() throws {
        let d: [Float] = [0, 2.5, 5.5, 6.5, 7.5, 9.5, 10]
        var (l, amb) = try Self.labels("pseudo-labels-anneal.lua", d, epoch: 1)
        #expect(l == [5, 6, 7] && amb == [5])
        (l, amb) = try Self.labels("pseudo-labels-anneal.lua", d, epoch: 3)
        #expect(l == [4, 5, 6, 7] && amb == [4, 5])
        (l, amb) = try Self.labels("pseudo-labels-anneal.lua", d, epoch: 5)
        #expect(l == [3, 4, 5, 6, 7] && amb == [3, 4, 5])
        let h = try Self.hook("pseudo-labels-anneal.lua", "pseudo_labels")
        _ = try ScriptedPseudoLabels(hook: h, seed: 0).assign(distances: d, moment: Self.moment(epoch: 3))
        #expect(h.loggedValues.map(\.name) == ["tau_n"] && abs(h.loggedValues[0].value - 0.6) < 1e-12)
    }

    @Test func bankLowest() throws {
        let s: [Float] = [0.5, 0.1, 0.3, 0.1, 0.9]
        #expect(try Self.bank("bank-lowest.lua", s) == [2, 3, 4]) // ⌈0.5·5⌉ = 3 lowest
        #expect(try Self.bank("bank-lowest.lua", s, ["keep": .double(0.2)]) == [2]) // tie 0.1/0.1 → lower index
        #expect(try Self.bank("bank-lowest.lua", [Float](repeating: 1, count: 10), ["keep": .double(0.3), "min_images": .int(5)]) == [1, 2, 3, 4, 5])
        #expect(throws: LuaError.self) { try Self.bank("bank-lowest.lua", s, ["keep": .int(2)]) }
    }

    /// One image far below the rest: the paper's min-max rule keeps only it; median/MAD
    /// does not move. s = {0, 90, …, 100}: median 94, MAD 4 → k = 0: t = 94; k = 1: 99.93.
    @Test func bankMADIsRobustToOneOutlier() throws {
        let s: [Float] = [0, 90, 92, 94, 96, 98, 100]
        var rng = Xoshiro256StarStar(seed: 0)
        #expect(PaperBankSelection(threshold: 0.5, fraction: 1).selectBankImages(imageScores: s, moment: Self.moment(), rng: &rng) == [0])
        #expect(try Self.bank("bank-mad.lua", s) == [1, 2, 3, 4])
        #expect(try Self.bank("bank-mad.lua", s, ["k": .int(1)]) == [1, 2, 3, 4, 5, 6])
        #expect(try Self.bank("bank-mad.lua", [0.2, 0.5, 0.5, 0.5, 0.9], ["k": .int(3)]) == [1, 2, 3, 4]) // MAD 0 → t = median
    }

    @Test func earlyStop() throws {
        let stopped = try #require(try Self.stop([1, 0.5, 0.4, 0.399, 0.398, 0.397]))
        #expect(stopped.epoch == 6 && stopped.reason == "loss plateau: best 0.397 over the last 3 epochs vs 0.4 before (0.75 % < 1 %)")
        #expect(try Self.stop([1, 0.5, 0.25, 0.125, 0.0625, 0.03125]) == nil)
        let bank = try #require(try Self.stop([1, 0.9, 0.8, 0.7], jaccard: [0, 0.95, 0.92, 0.97], ["criterion": .string("bank")]))
        #expect(bank.epoch == 4 && bank.reason == "bank stable: Jaccard >= 0.9 for the last 3 epochs (0.95, 0.92, 0.97)")
    }

    @Test func thresholdDefectRate() throws {
        let s: [Float] = (1...10).map(Float.init)
        #expect(abs(try Self.threshold("threshold-defect-rate.lua", s) - 9.1) < 1e-9)
        #expect(abs(try Self.threshold("threshold-defect-rate.lua", s, ["rate": .double(0.2)]) - 8.2) < 1e-9)
    }

    /// {1,2,3,4,100}: median 3, MAD 1 → 3 + 3·1.4826 = 7.4478, equal to the built-in rule.
    @Test func thresholdMADEqualsTheBuiltInRule() throws {
        let s: [Float] = [1, 2, 3, 4, 100]
        let t = try Self.threshold("threshold-mad.lua", s)
        #expect(abs(t - 7.4478) < 1e-9)
        #expect(abs(t - (try RobustThreshold.medianMAD(s))) < 1e-12)
        #expect(abs(try Self.threshold("threshold-mad.lua", s, ["k": .int(1)]) - 4.4826) < 1e-9)
    }

    /// The examples `funad stages` prints compile, define their hook and return a value
    /// the bindings accept.
    @Test func hookDocumentationExamplesRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-doc-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let values: [Float] = [0.1, 0.4, 0.2, 0.9, 0.3, 0.25, 0.15, 0.5]
        var rng = Xoshiro256StarStar(seed: 0)
        for doc in HookDocumentation.hooks {
            let url = dir.appendingPathComponent("\(doc.name).lua")
            try doc.example.write(to: url, atomically: true, encoding: .utf8)
            let h = try LuaHook(LuaHookReference(hook: doc.name, scriptPath: url.path), limits: .default, stage: "doc", print: { _ in })
            switch doc.name {
            case "bank": #expect(try !ScriptedBankSelection(hook: h, fraction: 1, seed: 0).selectBankImages(imageScores: values, moment: Self.moment(), rng: &rng).isEmpty)
            case "pseudo_labels": #expect(try ScriptedPseudoLabels(hook: h, seed: 0).assign(distances: values, moment: Self.moment()).labels.contains(1))
            case "epoch_end":
                let e = { (l: Float) in EpochStatistics(epoch: 0, loss: l, bce: l, mutualSmoothness: 0, bankImages: 1, pseudoAnomalyShare: 0, mutualPairs: 0) }
                #expect(try ScriptedEpochEnd(hook: h, seed: 0).stopReason(history: [e(1), e(1), e(1), e(1)], moment: Self.moment()) == "loss flat over 3 epochs")
            case "threshold": #expect(try DeploymentThreshold.choose(trainingScores: values, hook: h, seed: 0).threshold > 0.5)
            // median ≈ 0.275, MAD ≈ 0.125: the line ≈ 0.83 leaves out the one image at 0.9.
            case "training_images": #expect(try TrainingImageChoice.scripted(h, scores: values, seed: 0) == [0, 1, 2, 4, 5, 6, 7])
            default: Issue.record("undocumented hook \(doc.name)")
            }
        }
    }
}
