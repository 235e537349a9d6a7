import Foundation
import FunAD
import Stages
import Workflow

/// `funad bench lua`: what a Lua `pseudo_labels` hook costs per training iteration, beside
/// the built-in policy it replaces, on the paper's batch (32 images × 784 patches =
/// 25,088 distances). The iteration it is compared with is a lower bound of a real one
/// (training step + mutual pairs + bank search against an 8-image bank; a real bank is
/// larger and the search grows with it), so the overhead share is an upper bound.
public enum HookBench {
    public struct Result: Sendable {
        public var distances: Int
        public var builtInSeconds: Double
        /// (label, seconds per call) of each Lua hook measured.
        public var hooks: [(label: String, seconds: Double)]
        public var iterationSeconds: Double
    }

    /// The paper's rule written in Lua: the same work as `PaperPseudoLabelPolicy`.
    static let paperRule = """
    function pseudo_labels(d, ctx)
      local lo, hi = funad.min(d), funad.max(d)
      return {anomalous_above = lo + 0.5 * (hi - lo), confident_above = lo + 0.9 * (hi - lo)}
    end
    """

    /// - Parameter scripts: extra hook files to time (e.g. plugins/pseudo-labels-otsu.lua).
    public static func run(scripts: [String], repeats: Int = 50, threads: Int = 2) throws -> Result {
        let shapes = TrainingBench.Shapes()
        let n = shapes.batchImages * shapes.patches
        var g = SplitMix64(seed: 21)
        let distances = (0..<n).map { _ in Float(g.nextDouble() * g.nextDouble() * 40) }
        let moment = TrainingMoment(epoch: 0, epochs: 30, globalIteration: 0, imageCount: 837)

        func median(_ body: () throws -> Void) rethrows -> Double {
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return times.sorted()[times.count / 2]
        }
        let builtIn = PaperPseudoLabelPolicy()
        let builtInSeconds = median { _ = builtIn.assign(distances: distances, moment: moment) }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-hook-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let paperFile = dir.appendingPathComponent("paper-rule.lua")
        try paperRule.write(to: paperFile, atomically: true, encoding: .utf8)
        var hooks: [(String, Double)] = []
        for (label, path) in [("Lua paper rule", paperFile.path)] + scripts.map({ (LuaHookReference(hook: "pseudo_labels", scriptPath: $0).displayName, $0) }) {
            let hook = try LuaHook(LuaHookReference(hook: "pseudo_labels", scriptPath: path), limits: .default, stage: "bench", print: { _ in })
            let policy = ScriptedPseudoLabels(hook: hook, seed: 0)
            _ = try policy.assign(distances: distances, moment: moment) // warm-up, and a failing script fails here
            hooks.append((label, try median { _ = try policy.assign(distances: distances, moment: moment) }))
        }

        var small = shapes
        small.bankImages = 8
        let iteration = TrainingBench.step(shapes: small, threads: threads) + TrainingBench.mutualPairs(shapes: small, threads: threads)
            + TrainingBench.bankSearch(shapes: small, threads: threads)
        return Result(distances: n, builtInSeconds: builtInSeconds, hooks: hooks, iterationSeconds: iteration)
    }
}
