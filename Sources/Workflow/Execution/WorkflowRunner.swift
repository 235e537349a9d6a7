import Foundation

/// How a run ended, for the command line's exit code and message.
public struct RunOutcome: Sendable {
    public enum Status: String, Sendable { case succeeded, failed, cancelled }
    public var status: Status
    public var recordURL: URL
    public var runDirectory: URL
    /// (stage, error message, log path) of each failed stage.
    public var failures: [(stage: String, message: String, log: URL)]
    public var ran: Int
    public var cached: Int
}

public struct RunOptions: Sendable {
    public var jobs: Int
    public var force: Set<String>
    public var runsDirectory: URL
    /// Facts about this machine that only the application knows (its math library's build,
    /// say), written into the run record's `host` beside the CPU, cores and OS.
    public var host: [String: String]

    public init(jobs: Int = 1, force: Set<String> = [], runsDirectory: URL, host: [String: String] = [:]) {
        self.jobs = max(1, jobs)
        self.force = force
        self.runsDirectory = runsDirectory
        self.host = host
    }
}

/// Executes a plan: stages in dependency order, independent ones concurrently up to
/// `jobs`, each either taken from the cache (after an integrity check) or run into a
/// temporary folder that is sealed into the cache only on success. After a failure no
/// new stage starts; stages already running finish and keep their results.
public final class WorkflowRunner: @unchecked Sendable {
    private let store: CacheStore
    private let board: ProgressBoard
    private let options: RunOptions
    private let cancellation: CancellationFlag

    public init(store: CacheStore, board: ProgressBoard, options: RunOptions, cancellation: CancellationFlag = CancellationFlag()) {
        self.store = store
        self.board = board
        self.options = options
        self.cancellation = cancellation
    }

    private typealias StepResult = StageExecution

    public func run(_ plan: Plan) async throws -> RunOutcome {
        let started = Date()
        let runDir = try makeRunDirectory(workflow: plan.workflow.spec.name, started: started)
        let logs = runDir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)

        let recordURL = runDir.appendingPathComponent("run.json")
        var results: [String: StepResult] = [:]
        var running: Set<String> = []
        var failed = false
        let steps = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.stage.name, $0) })
        let order = plan.steps.map(\.stage.name)

        board.line("workflow \(plan.workflow.spec.name): \(plan.steps.count) stages, \(plan.toRun.count) to run, cache \(store.root.path)")
        await withTaskGroup(of: (String, StepResult).self) { group in
            func ready() -> [String] {
                order.filter { name in
                    results[name] == nil && !running.contains(name)
                        && steps[name]!.stage.needs.allSatisfy { n in
                            if case .cached = results[n] { return true }
                            if case .ran = results[n] { return true }
                            return false
                        }
                }
            }
            func launch() {
                guard !failed, !cancellation.isCancelled else { return }
                for name in ready() where running.count < options.jobs {
                    running.insert(name)
                    let step = steps[name]!
                    let inputs = plan.inputs(of: step, store: store)
                    let logURL = logs.appendingPathComponent(CacheStore.safeName(name) + ".log")
                    group.addTask { (name, await self.execute(step, inputs: inputs, workflow: plan.workflow, log: logURL)) }
                }
            }
            launch()
            while let (name, result) = await group.next() {
                running.remove(name)
                results[name] = result
                if case .failed = result { failed = true }
                if case .cancelled = result { failed = true }
                // The record so far, status "running", so a long run's finished stages
                // (their metrics and times) can be read before it ends, or after it is killed.
                try? writeRecord(plan: plan, results: results, status: "running", recordURL: recordURL, started: started, logs: logs)
                launch()
            }
        }

        let cancelled = cancellation.isCancelled
        let outcome = RunOutcome(
            status: cancelled ? .cancelled : (failed ? .failed : .succeeded),
            recordURL: recordURL, runDirectory: runDir,
            failures: plan.steps.compactMap { s in
                if case .failed(let m, _, _) = results[s.stage.name] { return (s.stage.name, m, logs.appendingPathComponent(CacheStore.safeName(s.stage.name) + ".log")) }
                return nil
            },
            ran: results.values.filter { if case .ran = $0 { return true }; return false }.count,
            cached: results.values.filter { if case .cached = $0 { return true }; return false }.count)
        try writeRecord(plan: plan, results: results, status: outcome.status.rawValue, recordURL: recordURL, started: started, logs: logs)
        linkOutputs(plan: plan, results: results, runDir: runDir)
        return outcome
    }

    private func execute(_ step: Plan.Step, inputs: [StageInput], workflow: ValidatedWorkflow, log: URL) async -> StepResult {
        let executor = StageExecutor(store: store, board: board, cancellation: cancellation)
        return await executor.execute(step, inputs: inputs, workflow: workflow, log: log)
    }

    private func makeRunDirectory(workflow: String, started: Date) throws -> URL {
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.timeZone = TimeZone(identifier: "UTC")
        let base = options.runsDirectory.appendingPathComponent(CacheStore.safeName(workflow))
        let name = "\(f.string(from: started))-\(getpid())"
        do { try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true) } catch {
            throw Diagnostic("cannot create run folder '\(base.path)': \(error.localizedDescription)")
        }
        // A second run by the same process within the same second gets its own folder
        // (`-2`, `-3`, … sort after the first), never the first one's record.
        var dir = base.appendingPathComponent(name)
        for attempt in 2...1000 {
            if mkdir(dir.path, 0o755) == 0 { break }
            guard errno == EEXIST, attempt < 1000 else {
                throw Diagnostic("cannot create run folder '\(dir.path)': \(String(cString: strerror(errno)))")
            }
            dir = base.appendingPathComponent("\(name)-\(attempt)")
        }
        let latest = base.appendingPathComponent("latest")
        try? FileManager.default.removeItem(at: latest)
        try? FileManager.default.createSymbolicLink(atPath: latest.path, withDestinationPath: dir.lastPathComponent)
        return dir
    }

    /// `outputs/<stage>` in the run folder points at the stage's result in the cache.
    private func linkOutputs(plan: Plan, results: [String: StepResult], runDir: URL) {
        let outputs = runDir.appendingPathComponent("outputs")
        try? FileManager.default.createDirectory(at: outputs, withIntermediateDirectories: true)
        for s in plan.steps {
            switch results[s.stage.name] {
            case .cached, .ran:
                try? FileManager.default.createSymbolicLink(atPath: outputs.appendingPathComponent(CacheStore.safeName(s.stage.name)).path,
                                                            withDestinationPath: store.outputURL(s.key).path)
            default: break
            }
        }
    }

    private func writeRecord(plan: Plan, results: [String: StepResult], status: String, recordURL: URL, started: Date, logs: URL) throws {
        let iso = ISO8601DateFormatter()
        var stages: [[String: Any]] = []
        for s in plan.steps {
            var e: [String: Any] = [
                "name": s.stage.name, "type": s.stage.declaration.type, "version": s.stage.declaration.version,
                "key": s.key, "needs": s.stage.needs,
                "parameters": ParameterValue.object(s.stage.parameters.values).jsonObject,
                "input_digests": s.material.files,
                "log": logs.appendingPathComponent(CacheStore.safeName(s.stage.name) + ".log").path,
            ]
            switch results[s.stage.name] {
            case .cached(let info, let seconds):
                e["status"] = "cached"; e["cache"] = "hit"; e["seconds"] = seconds
                e["outputs"] = store.outputURL(s.key).path
                e["files"] = info.files.map(\.path)
                if let data = try? Data(contentsOf: store.outputURL(s.key).appendingPathComponent("summary.json")),
                   let summary = try? JSONSerialization.jsonObject(with: data) { e["summary"] = summary }
            case .ran(let info, let seconds, let reasons, let summary):
                e["status"] = "ran"; e["cache"] = "miss"; e["seconds"] = seconds; e["reasons"] = reasons
                e["outputs"] = store.outputURL(s.key).path
                e["files"] = info.files.map(\.path)
                if let summary, let object = try? JSONSerialization.jsonObject(with: summary) { e["summary"] = object }
            case .failed(let message, let seconds, let reasons):
                e["status"] = "failed"; e["cache"] = "miss"; e["seconds"] = seconds; e["reasons"] = reasons; e["error"] = message
            case .cancelled(let seconds):
                e["status"] = "cancelled"; e["seconds"] = seconds
            case nil:
                e["status"] = "not run"
            }
            stages.append(e)
        }
        var record: [String: Any] = [
            "funad_run_record": 1,
            "workflow": plan.workflow.spec.name,
            "file": plan.workflow.spec.file,
            "file_sha256": plan.workflow.spec.fileDigest,
            "variables": plan.workflow.spec.variables,
            "started": iso.string(from: started),
            status == "running" ? "updated" : "finished": iso.string(from: Date()),
            "seconds": Date().timeIntervalSince(started),
            "status": status,
            "cache": store.root.path,
            "jobs": options.jobs,
            "forced": options.force.sorted(),
            "host": HostFacts.record(extra: options.host),
            "stages": stages,
        ]
        if !plan.workflow.targets.isEmpty { record["targets"] = plan.workflow.targets }
        let data = try JSONSerialization.data(withJSONObject: record, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: recordURL, options: .atomic)
    }
}
