import Foundation
import Workflow
import FunAD

/// Measures the engine's own overhead: a workflow of `stageCount` no-op stages (a chain
/// with fan-in, so validation, ordering and key derivation see real dependencies),
/// timed for validation, planning, a first run that stores every result, and a fully
/// cached re-run. Used by `funad bench engine`.
public enum EngineBenchmark {
    public struct Result: Sendable {
        public var stages: Int
        public var validateMs: Double
        public var planMs: Double
        public var firstRunMs: Double
        public var cachedRunMs: Double
    }

    struct NoopStage: StageType {
        let declaration = StageDeclaration(
            type: "noop", version: 1, summary: "does nothing", optionallyConsumes: ["token"], produces: ["token"],
            parameters: [.init("id", .int(), default: .int(0), help: "distinguishes stages")])
        func run(_ context: StageContext) async throws {}
    }

    public static func run(stageCount: Int = 200, in folder: URL) async throws -> Result {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var yaml = "name: engine-bench\nstages:\n"
        for i in 0..<stageCount {
            let needs = i == 0 ? "" : ", needs: [" + ([i - 1] + (i >= 10 ? [i - 10] : [])).map { "s\($0)" }.joined(separator: ", ") + "]"
            yaml += "  s\(i): {type: noop\(needs), with: {id: \(i)}}\n"
        }
        let path = folder.appendingPathComponent("engine-bench.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let session = WorkflowSession(registry: StageRegistry([NoopStage()]), cacheDirectory: folder.appendingPathComponent("cache"))
        let board = ProgressBoard(isTerminal: false, lineInterval: 1e9) { _ in }
        let options = RunOptions(jobs: 2, runsDirectory: folder.appendingPathComponent("runs"))

        func ms(_ body: () async throws -> Void) async rethrows -> Double {
            let t = DispatchTime.now().uptimeNanoseconds
            try await body()
            return Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6
        }
        var wf: ValidatedWorkflow!
        let validate = try await ms { wf = try session.load(path) }
        let plan = try await ms { _ = try session.plan(wf) }
        let first = try await ms { _ = try await session.run(wf, options: options, board: board) }
        let cached = try await ms {
            let outcome = try await session.run(wf, options: options, board: board)
            precondition(outcome.ran == 0, "benchmark: the second run should be fully cached")
        }
        return Result(stages: stageCount, validateMs: validate, planMs: plan, firstRunMs: first, cachedRunMs: cached)
    }
}
