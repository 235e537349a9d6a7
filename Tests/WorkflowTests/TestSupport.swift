import Foundation
@testable import Workflow
import WorkflowTestSupport

/// A scratch folder per test, removed at the end.
final class Scratch {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("funad-wf-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    func write(_ name: String, _ text: String) -> String {
        let path = url.appendingPathComponent(name).path
        try! text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    var cache: URL { url.appendingPathComponent("cache") }
    var runs: URL { url.appendingPathComponent("runs") }

    func session(environment: [String: String] = [:]) -> WorkflowSession {
        WorkflowSession(registry: TestStages.registry, cacheDirectory: cache, environment: environment)
    }

    /// Runs a workflow file in-process with a quiet progress board.
    func run(_ path: String, settings: [String] = [], jobs: Int = 1, force: Set<String> = [],
             targets: [String] = []) async throws -> RunOutcome {
        let s = session()
        let wf = try s.load(path, settings: settings).selecting(targets)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        return try await s.run(wf, options: RunOptions(jobs: jobs, force: force, runsDirectory: runs), board: board)
    }

    /// Stage name → "cached" | "ran" | … from a run record.
    func statuses(_ outcome: RunOutcome) throws -> [String: String] {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
        var out: [String: String] = [:]
        for s in obj["stages"] as! [[String: Any]] { out[s["name"] as! String] = s["status"] as? String }
        return out
    }

    func record(_ outcome: RunOutcome) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
    }
}

/// The folder holding the built products (the test bundle and the worker executable).
var productsDirectory: URL {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}

var fixturesDirectory: URL {
    Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
}
