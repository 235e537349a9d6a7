/// The hook contract as `funad stages` prints it: each hook's call, what it may return,
/// and one complete example (script and YAML). plugins/README.md has the full reference;
/// this is the part a user needs at the terminal.
public enum HookDocumentation {
    public struct Hook: Sendable {
        public var name: String
        public var stage: String
        public var call: String
        public var returns: String
        public var example: String
        public var yaml: String
    }

    public static let hooks: [Hook] = [
        Hook(name: "bank", stage: "train", call: "bank(scores, ctx) — scores: vector of every training image's score under the current Local-Net",
             returns: "a number t (images with score ≤ t are candidates) or a table of 1-based image indices; bank.fraction of the candidates is then drawn at random (paper: 0.5)",
             example: """
             -- keep the lowest-scoring 30 % as bank candidates
             function bank(scores, ctx)
               return funad.quantile(scores, ctx.params.keep or 0.3)
             end
             """, yaml: "hooks: {bank: {script: ../plugins/my-bank.lua, with: {keep: 0.3}}}"),
        Hook(name: "pseudo_labels", stage: "train", call: "pseudo_labels(distances, ctx) — distances: vector of the batch patches' nearest-bank squared distances",
             returns: "{anomalous_above = a, confident_above = c} (label 1 iff d > a; perturbed iff a < d < c) or {labels = {0/1 per patch}, ambiguous = {1-based indices}}",
             example: """
             function pseudo_labels(d, ctx)
               local a = funad.otsu(d, 256)
               return {anomalous_above = a, confident_above = a + 0.8 * (funad.max(d) - a)}
             end
             """, yaml: "hooks: {pseudo_labels: ../plugins/my-labels.lua}"),
        Hook(name: "epoch_end", stage: "train", call: "epoch_end(stats, ctx) — stats: {epoch, loss, bce, ms, bank_images, pseudo_anomaly_share, mutual_pairs, bank_jaccard}; ctx.history: every finished epoch's stats",
             returns: "true or a reason string to stop after this epoch; false or nil to go on",
             example: """
             function epoch_end(stats, ctx)
               local h = ctx.history
               if #h >= 4 and h[#h].loss > 0.99 * h[#h - 3].loss then
                 return "loss flat over 3 epochs"
               end
             end
             """, yaml: "hooks: {epoch_end: ../plugins/my-stop.lua}"),
        Hook(name: "threshold", stage: "evaluate", call: "threshold(scores, ctx) — scores: vector of the unlabelled training images' scores under the trained model",
             returns: "the image decision threshold (images scoring above it are flagged); default without a hook: median + 3·1.4826·MAD (of the logits, for FUN-AD)",
             example: """
             -- flag the expected defect rate of the line
             function threshold(scores, ctx)
               return funad.quantile(scores, 1 - (ctx.params.rate or 0.05))
             end
             """, yaml: "hooks: {threshold: {script: ../plugins/my-threshold.lua, with: {rate: 0.05}}}"),
        Hook(name: "training_images", stage: "patchcore", call: "training_images(scores, ctx) — scores: vector of the training images' scores from the scores input (e.g. FUN-AD's infer), in training order",
             returns: "a number t (images with score ≤ t build the bank) or a table of 1-based image indices; at least one image; replaces keep_training",
             example: """
             -- leave out the images above the robust outlier line
             function training_images(scores, ctx)
               local m = funad.quantile(scores, 0.5)
               local d = {}
               for i = 1, #scores do d[i] = math.abs(scores[i] - m) end
               return m + 3 * 1.4826 * funad.quantile(d, 0.5)
             end
             """, yaml: "hooks: {training_images: ../plugins/my-clean-bank.lua}"),
    ]

    /// The section `funad stages` prints after the stage types.
    public static func render() -> String {
        var out = ["Lua hooks (set under a stage's `with: hooks:`; full reference: plugins/README.md)",
                   "  ctx: {epoch, epochs, iteration, seed, images, params} (1-based epoch and iteration; params = the hook's `with:`)",
                   "  helpers: funad.min/max/sum/mean/std(v), funad.quantile(v, q), funad.sorted(v), funad.histogram(v, bins),",
                   "           funad.otsu(v, bins), funad.log(name, number); vectors are read-only (#v, v[i]) and valid during the call only",
                   ""]
        for h in hooks {
            out.append("  \(h.name) (on \(h.stage)): \(h.call)")
            out.append("    returns: \(h.returns)")
            out.append("    example:")
            out += h.example.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 }
            out.append("    in YAML: \(h.yaml)")
            out.append("")
        }
        return out.joined(separator: "\n")
    }
}
