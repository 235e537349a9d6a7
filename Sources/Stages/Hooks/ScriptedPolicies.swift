import Foundation
import FunAD
import Workflow

/// Binds Lua hooks to FunAD's policy protocols (FunAD never imports Lua). Each policy
/// holds one `LuaHook` (its own sandboxed state), calls it with the values the trainer
/// hands the protocol, and validates what the script returns before the trainer sees it:
/// wrong types, wrong lengths, NaN, infinities and out-of-range indices are errors that
/// name the script, the hook and what was expected.
enum HookCalls {
    /// The seed of one hook call: the stage's seed mixed with the call's epoch and
    /// iteration, so `math.random` in a hook is reproducible and differs between calls.
    static func seed(_ stageSeed: UInt64, epoch: Int, iteration: Int, hook: String) -> UInt64 {
        var g = SplitMix64(seed: stageSeed ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
                           ^ (UInt64(truncatingIfNeeded: iteration) &* 0xC2B2_AE3D_27D4_EB4F))
        for byte in hook.utf8 { g = SplitMix64(seed: g.next() ^ UInt64(byte)) }
        return g.next()
    }

    /// `ctx` of a training hook: 1-based epoch and iteration, as Lua users count.
    static func trainingContext(_ moment: TrainingMoment, seed: UInt64) -> [String: LuaValue] {
        ["epoch": .integer(Int64(moment.epoch + 1)), "epochs": .integer(Int64(moment.epochs)),
         "iteration": .integer(Int64(moment.globalIteration + 1)), "seed": .integer(Int64(bitPattern: seed)),
         "images": .integer(Int64(moment.imageCount))]
    }

    static func label(_ moment: TrainingMoment) -> String { "epoch \(moment.epoch + 1), iteration \(moment.globalIteration + 1)" }

    /// What a Lua value is, in the words of an error message.
    static func kind(_ v: LuaValue) -> String {
        switch v {
        case .nil: return "nil"
        case .boolean(let b): return "the boolean \(b)"
        case .integer(let i): return "the number \(i)"
        case .number(let d): return "the number \(d)"
        case .string(let s): return "the string \"\(s.prefix(40))\""
        case .table: return "a table"
        case .vector: return "a vector"
        }
    }

    /// `name(scores, ctx)` for a hook called once on a trained model's scores of the
    /// training images (threshold, training_images): no epoch or iteration in `ctx`, and its
    /// random draws seeded by the stage's seed and the hook's name.
    static func callAfterTraining(_ hook: LuaHook, scores: [Float], seed: UInt64, name: String) throws -> LuaValue {
        let ctx: [String: LuaValue] = ["epoch": .integer(0), "epochs": .integer(0), "iteration": .integer(0),
                                       "seed": .integer(Int64(bitPattern: seed)), "images": .integer(Int64(scores.count))]
        return try scores.withUnsafeBufferPointer { s in
            try hook.call([.vector(s)], context: ctx, seed: HookCalls.seed(seed, epoch: 0, iteration: 0, hook: name), label: name)
        }
    }

    /// A finite number, or the error saying what came back instead.
    static func finiteNumber(_ v: LuaValue?, _ what: String, hook: LuaHook) throws -> Double {
        guard let v, let x = v.numberValue else { throw hook.badReturn("\(kind(v ?? .nil)) for \(what); expected a number") }
        guard x.isFinite else { throw hook.badReturn("\(x) for \(what); expected a finite number") }
        return x
    }

    /// Images chosen by a hook from their scores: a number t chooses the images with score
    /// ≤ t, a table the 1-based indices it lists (kept in the table's order); at least one.
    /// The strings name the parts in errors (`meaning`: what the threshold does to an image).
    static func chosenImages(_ result: LuaValue, scores: [Float], hook: LuaHook, threshold: String, indices what: String,
                             meaning: String, none: String) throws -> [Int] {
        let chosen: [Int]
        switch result {
        case .integer, .number:
            let t = try finiteNumber(result, threshold, hook: hook)
            chosen = scores.indices.filter { Double(scores[$0]) <= t }
        case .table(let table) where table.fields.isEmpty:
            chosen = try indices(table.array, count: scores.count, what, hook: hook)
        default:
            throw hook.badReturn("\(kind(result)); expected a number t (images with score ≤ t \(meaning)) or a table of 1-based image indices")
        }
        guard !chosen.isEmpty else { throw hook.badReturn("\(none); expected at least one") }
        return chosen
    }

    /// A sequence of 1-based indices into 1...count, as 0-based indices, or the error.
    static func indices(_ values: [LuaValue], count: Int, _ what: String, hook: LuaHook) throws -> [Int] {
        var out: [Int] = []
        out.reserveCapacity(values.count)
        for (k, v) in values.enumerated() {
            guard let x = v.numberValue, x.isFinite, x == x.rounded() else {
                throw hook.badReturn("\(kind(v)) at position \(k + 1) of \(what); expected integer indices in 1..\(count)")
            }
            guard x >= 1 && x <= Double(count) else {
                // Int(exactly:) is nil past Int's range (a script may return 1e300): no trap.
                throw hook.badReturn("index \(Int(exactly: x).map(String.init) ?? String(x)) at position \(k + 1) of \(what); expected 1..\(count)")
            }
            out.append(Int(x) - 1)
        }
        guard Set(out).count == out.count else { throw hook.badReturn("an index more than once in \(what); expected distinct indices") }
        return out
    }
}

/// `bank(scores, ctx)`: the script picks the bank candidates (a threshold `t`, images with
/// score ≤ t, or a table of 1-based indices); the paper's random fraction is then drawn
/// from them as `PaperBankSelection` does, so a script returning the paper's candidates
/// reproduces the built-in rule bit for bit.
struct ScriptedBankSelection: BankSelectionPolicy {
    let hook: LuaHook
    let fraction: Float
    let seed: UInt64

    func selectBankImages(imageScores: [Float], moment: TrainingMoment, rng: inout Xoshiro256StarStar) throws -> [Int] {
        let callSeed = HookCalls.seed(seed, epoch: moment.epoch, iteration: moment.globalIteration, hook: "bank")
        let result = try imageScores.withUnsafeBufferPointer { scores in
            try hook.call([.vector(scores)], context: HookCalls.trainingContext(moment, seed: seed), seed: callSeed,
                          label: HookCalls.label(moment))
        }
        let candidates = try HookCalls.chosenImages(result, scores: imageScores, hook: hook,
                                                    threshold: "the bank threshold", indices: "the bank's image indices",
                                                    meaning: "enter the bank",
                                                    none: "no bank image (\(imageScores.count) training images)")
        return PaperBankSelection.drawFraction(fraction, of: candidates, rng: &rng)
    }

    var summary: String { "Lua hook bank (\(hook.reference.displayName)), random fraction \(fraction)" }
    var isPaperDefault: Bool { false }
}

/// `pseudo_labels(distances, ctx)`: thresholds in distance units
/// (`{anomalous_above = a, confident_above = c}`: y = 1 iff d > a, ambiguous iff a < d < c),
/// or explicit `{labels = {...}, ambiguous = {...}}`.
package struct ScriptedPseudoLabels: PseudoLabelPolicy {
    let hook: LuaHook
    let seed: UInt64

    package init(hook: LuaHook, seed: UInt64) { self.hook = hook; self.seed = seed }

    package func assign(distances: [Float], moment: TrainingMoment) throws -> PseudoLabelAssignment {
        let n = distances.count
        let callSeed = HookCalls.seed(seed, epoch: moment.epoch, iteration: moment.globalIteration, hook: "pseudo_labels")
        let result = try distances.withUnsafeBufferPointer { d in
            try hook.call([.vector(d)], context: HookCalls.trainingContext(moment, seed: seed), seed: callSeed,
                          label: HookCalls.label(moment))
        }
        let expected = "expected {anomalous_above = a, confident_above = c} or {labels = {...}, ambiguous = {...}}"
        guard case .table(let table) = result else { throw hook.badReturn("\(HookCalls.kind(result)); \(expected)") }
        var labels = [UInt8](repeating: 0, count: n)
        var ambiguous: [Int] = []
        if table.fields["anomalous_above"] != nil || table.fields["confident_above"] != nil {
            let a = try HookCalls.finiteNumber(table.fields["anomalous_above"], "anomalous_above", hook: hook)
            let c = try HookCalls.finiteNumber(table.fields["confident_above"], "confident_above", hook: hook)
            for i in 0..<n {
                let d = Double(distances[i])
                if d > a {
                    labels[i] = 1
                    if d < c { ambiguous.append(i) }
                }
            }
        } else if case .table(let given)? = table.fields["labels"] {
            guard given.array.count == n else {
                throw hook.badReturn("\(given.array.count) labels for \(n) patches; expected one 0 or 1 per patch")
            }
            for (i, v) in given.array.enumerated() {
                guard let x = v.numberValue, x == 0 || x == 1 else {
                    throw hook.badReturn("\(HookCalls.kind(v)) as label \(i + 1); expected 0 or 1")
                }
                labels[i] = x == 1 ? 1 : 0
            }
            if let amb = table.fields["ambiguous"] {
                guard case .table(let list) = amb, list.fields.isEmpty else {
                    throw hook.badReturn("\(HookCalls.kind(amb)) as ambiguous; expected a table of 1-based patch indices")
                }
                ambiguous = try HookCalls.indices(list.array, count: n, "ambiguous", hook: hook).sorted()
                if let i = ambiguous.first(where: { labels[$0] == 0 }) {
                    throw hook.badReturn("ambiguous patch \(i + 1) with label 0; only pseudo-anomalies (label 1) can be ambiguous")
                }
            }
        } else {
            throw hook.badReturn("a table without anomalous_above or labels; \(expected)")
        }
        return PseudoLabelAssignment(scores: minMaxNormalised(distances), labels: labels, ambiguous: ambiguous)
    }

    package var summary: String { "Lua hook pseudo_labels (\(hook.reference.displayName))" }
    package var isPaperDefault: Bool { false }
}

/// `epoch_end(stats, ctx)`: `true` (or a reason string) stops training after the epoch.
struct ScriptedEpochEnd: EpochEndPolicy {
    let hook: LuaHook
    let seed: UInt64

    static func table(_ e: EpochStatistics) -> LuaValue {
        .table(LuaTable(fields: [
            "epoch": .integer(Int64(e.epoch + 1)), "loss": .number(Double(e.loss)), "bce": .number(Double(e.bce)),
            "ms": .number(Double(e.mutualSmoothness)), "bank_images": .number(Double(e.bankImages)),
            "pseudo_anomaly_share": .number(Double(e.pseudoAnomalyShare)), "mutual_pairs": .number(Double(e.mutualPairs)),
            "bank_jaccard": .number(Double(e.bankJaccard ?? 0)),
        ]))
    }

    func stopReason(history: [EpochStatistics], moment: TrainingMoment) throws -> String? {
        guard let last = history.last else { return nil }
        var ctx = HookCalls.trainingContext(moment, seed: seed)
        ctx["history"] = .table(LuaTable(array: history.map(Self.table)))
        let result = try hook.call([.value(Self.table(last))], context: ctx,
                                   seed: HookCalls.seed(seed, epoch: moment.epoch, iteration: moment.globalIteration, hook: "epoch_end"),
                                   label: "epoch \(moment.epoch + 1)")
        switch result {
        case .nil, .boolean(false): return nil
        case .boolean(true): return "\(hook.reference.displayName) returned true"
        case .string(let reason): return reason.isEmpty ? "\(hook.reference.displayName) returned an empty reason" : reason
        default: throw hook.badReturn("\(HookCalls.kind(result)); expected true or a reason string to stop, false or nil to go on")
        }
    }

    var summary: String { "Lua hook epoch_end (\(hook.reference.displayName))" }
}

/// The deployment threshold: the `threshold(scores, ctx)` hook on the training set's
/// image scores, or the built-in label-free rule (median + 3·1.4826·MAD).
enum DeploymentThreshold {
    static func defaultRule(_ scale: RobustThreshold.Scale) -> String {
        scale == .logit ? "built-in rule: median + 3·1.4826·MAD of the logits of the training images' scores"
                        : "built-in rule: median + 3·1.4826·MAD of the training images' scores"
    }

    /// `scale` applies to the built-in rule only (a hook sees the raw scores).
    static func choose(trainingScores: [Float], hook: LuaHook?, seed: UInt64, scale: RobustThreshold.Scale = .raw) throws -> (threshold: Double, rule: String) {
        guard let hook else { return (try RobustThreshold.medianMAD(trainingScores, scale: scale), defaultRule(scale)) }
        let result = try HookCalls.callAfterTraining(hook, scores: trainingScores, seed: seed, name: "threshold")
        let t = try HookCalls.finiteNumber(result, "the threshold", hook: hook)
        return (t, "Lua hook threshold: \(hook.reference.displayName)")
    }
}
