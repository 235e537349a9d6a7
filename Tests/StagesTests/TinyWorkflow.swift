import Foundation
import Workflow
@testable import Stages

/// A scratch folder with a workflow file in it, run with the real stage types and a cache
/// of its own (or a shared one), and the run record read back.
struct TinyWorkflow {
    let dir: URL
    let path: String

    /// Writes `yaml` as `name` in a new scratch folder.
    init(_ yaml: String, name: String = "tiny.yaml", prefix: String = "funad-tiny") throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        path = dir.appendingPathComponent(name).path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// The head most stage tests share: workflow `name`, a generated set of 12 good + 8
    /// defective metal images at 128 px, a quarter of the good count moved in as hidden
    /// defects (`overlap` keeps them in the test set too), and Lite0 features with seeded
    /// random weights at 64 px. Stages appended after it start at two spaces of indent.
    static func head(name: String, overlap: Bool = false) -> String {
        """
        name: \(name)
        stages:
          images: {type: demo-data, with: {category: metal, seed: 3, train_good: 12, test_good: 4, test_defective: 4, size: 128}}
          data:
            type: load
            needs: [images]
            with: {format: mvtec, contamination: {ratio: 0.25, overlap: \(overlap), seed: 5}}
          features:
            type: extract
            needs: [data]
            with: {backbone: efficientnet_lite0, random_weights_seed: 1, resize: 73, input_size: 64, batch_size: 4, dtype: float32}

        """
    }

    /// Runs the workflow (only `targets` and what they need, when given); `cache` defaults
    /// to `<dir>/cache`.
    func run(settings: [String] = [], targets: [String] = [], jobs: Int = 1, cache: URL? = nil) async throws -> TinyRun {
        try await Self.run(path, in: dir, settings: settings, targets: targets, jobs: jobs, cache: cache)
    }

    /// A session with the compiled-in stage types and `<dir>/cache` (or `cache`).
    static func session(_ dir: URL, cache: URL? = nil) -> WorkflowSession {
        WorkflowSession(registry: FunADStages.registry, cacheDirectory: cache ?? dir.appendingPathComponent("cache"), environment: [:])
    }

    /// Runs the workflow file at `path` with its cache and run records under `dir`.
    static func run(_ path: String, in dir: URL, settings: [String] = [], targets: [String] = [], jobs: Int = 1, cache: URL? = nil,
                    cancellation: CancellationFlag = CancellationFlag()) async throws -> TinyRun {
        let session = session(dir, cache: cache)
        let wf = try session.load(path, settings: settings).selecting(targets)
        let board = ProgressBoard(isTerminal: false, lineInterval: 1000) { _ in }
        let outcome = try await session.run(wf, options: RunOptions(jobs: jobs, runsDirectory: dir.appendingPathComponent("runs")), board: board,
                                            cancellation: cancellation)
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: outcome.recordURL)) as! [String: Any]
        return TinyRun(outcome: outcome, record: record)
    }
}

/// One run's outcome and record.
struct TinyRun {
    let outcome: RunOutcome
    let record: [String: Any]

    var succeeded: Bool { outcome.status == .succeeded }
    var failureMessages: [String] { outcome.failures.map(\.message) }

    /// The outcome and the record as one pair, for tests that destructure them.
    var pair: (RunOutcome, [String: Any]) { (outcome, record) }

    func stage(_ name: String) -> [String: Any] { Self.stage(record, name) }

    /// A stage's entry in a run record (empty when the record has no such stage).
    static func stage(_ record: [String: Any], _ name: String) -> [String: Any] {
        (record["stages"] as? [[String: Any]] ?? []).first { $0["name"] as? String == name } ?? [:]
    }
    func summary(_ name: String) -> [String: Any] { stage(name)["summary"] as? [String: Any] ?? [:] }
    func status(_ name: String) -> String? { stage(name)["status"] as? String }
    func outputs(_ name: String) -> URL { URL(fileURLWithPath: stage(name)["outputs"] as? String ?? "/nonexistent") }
}

/// A scratch folder removed on deinit: held as a stored property of a suite, it lives as
/// long as the suite instance swift-testing makes for one test, and goes with it, also
/// when an expectation fails (the pattern of WorkflowTests' `Scratch`).
final class ScratchFolder {
    let url: URL

    init(_ prefix: String) {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}
