import ArgumentParser
import Foundation
import Workflow

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks of funad's hot paths, each beside its reference where one exists.",
        subcommands: [EngineBench.self] + extraBenchmarks)

    struct EngineBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "engine", abstract: "Engine overhead for a workflow of no-op stages.")
        @Option(help: "Number of stages.") var stages: Int = 200

        func run() async throws {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("funad-engine-bench-\(getpid())")
            defer { try? FileManager.default.removeItem(at: dir) }
            let r = try await EngineBenchmark.run(stageCount: stages, in: dir)
            print("engine overhead, \(r.stages) no-op stages:")
            print(String(format: "  validate      %8.1f ms  (%.3f ms/stage)", r.validateMs, r.validateMs / Double(r.stages)))
            print(String(format: "  plan          %8.1f ms  (%.3f ms/stage)", r.planMs, r.planMs / Double(r.stages)))
            print(String(format: "  first run     %8.1f ms  (%.3f ms/stage, stores every result)", r.firstRunMs, r.firstRunMs / Double(r.stages)))
            print(String(format: "  cached re-run %8.1f ms  (%.3f ms/stage, verifies every result)", r.cachedRunMs, r.cachedRunMs / Double(r.stages)))
        }
    }
}
