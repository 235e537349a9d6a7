import Foundation

/// How a single-stage job ended (`funad run-stage`).
public struct StageJobOutcome: Sendable {
    public enum Status: String, Sendable { case ran, cached, failed, cancelled }
    public var status: Status
    public var stage: String
    /// The stage's cache key (what its marker is named by), also for a shard.
    public var key: String
    /// The key the job's result is stored under: the stage's key, or the shard's.
    public var entryKey: String
    public var work: StageWork
    /// The stored result's folder (nil unless ran or cached).
    public var output: URL?
    public var message: String?
    public var log: URL
    public var seconds: Double
}

/// One stage of a workflow (or one shard of it, or the merge of its shards) run as a job
/// of its own, the unit an external scheduler (Snakemake, Slurm) runs. The job plans the
/// whole workflow exactly as `funad run` does, so its key is the one `funad run` uses;
/// it requires its upstream results to be in the cache already, and it does not take
/// the cache's run lock: many jobs share one cache, serialised per key only.
public struct StageJob: Sendable {
    public var workflow: ValidatedWorkflow
    public var stage: String
    public var work: StageWork
    public var force: Bool
    /// Fails (exit 2) instead of running if the stage's key is not this one: the
    /// workflow or its inputs changed since the job was written down (e.g. exported).
    public var expectedKey: String?

    public init(workflow: ValidatedWorkflow, stage: String, work: StageWork = .whole, force: Bool = false, expectedKey: String? = nil) {
        self.workflow = workflow
        self.stage = stage
        self.work = work
        self.force = force
        self.expectedKey = expectedKey
    }

    /// Plans, checks the preconditions (throwing a `Diagnostic` for each unmet one) and
    /// runs. Logs go to `<logs>/<stage>-<key12>[.shard-I-of-N|.merge-N].log`; a job that
    /// ends with the result stored updates the stage's job record in the same folder
    /// (`JobRecords`: `funad run-stage` passes `<runs>/<workflow>/jobs/`).
    public func run(store: CacheStore, digests: FileDigests, logsDirectory: URL, board: ProgressBoard,
                    cancellation: CancellationFlag = CancellationFlag()) async throws -> StageJobOutcome {
        let names = workflow.stages.map(\.name)
        guard names.contains(stage) else {
            throw Diagnostic("no stage named '\(stage)' in workflow \(workflow.spec.name)\(NameSuggestion.hint(for: stage, among: names)); stages: \(names.joined(separator: ", "))")
        }
        let plan = try Planner(store: store, digests: digests).plan(workflow, force: force ? [stage] : [])
        let steps = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.stage.name, $0) })
        let step = steps[stage]!
        if let expectedKey, expectedKey != step.key {
            throw Diagnostic("stage '\(stage)' now has key \(step.key.prefix(12)), not the expected \(expectedKey.prefix(12)): the workflow, its settings or its input files changed since this job was written (re-export the Snakefile)")
        }
        if work != .whole, !(step.stage.implementation is any ShardableStage) {
            throw Diagnostic("stage '\(stage)': a '\(step.stage.declaration.type)' stage cannot be split into shards (shardable types: those that declare it, e.g. extract)")
        }
        for need in step.stage.needs where !store.contains(steps[need]!.key) {
            throw Diagnostic("stage '\(stage)' needs '\(need)', whose result (key \(steps[need]!.key.prefix(12))) is not in the cache \(store.root.path); run that stage first (funad run-stage \(workflow.spec.file) \(need))")
        }
        if case .merge(let count) = work {
            let missing = (0..<count).filter { !store.contains(CacheStore.shardKey(step.key, index: $0, count: count)) }
            if !missing.isEmpty, !store.contains(step.key) || force {
                throw Diagnostic("stage '\(stage)': cannot merge \(count) shards: shard(s) \(missing.map { "\($0 + 1)/\(count)" }.joined(separator: ", ")) not in the cache; run them first (funad run-stage … --shard I/\(count))")
            }
        }
        store.removeStaleTemporaries()

        try FileManager.default.createDirectory(at: logsDirectory, withIntermediateDirectories: true)
        var logName = "\(CacheStore.safeName(stage))-\(step.key.prefix(12))"
        switch work {
        case .whole: break
        case .shard(let s): logName += ".shard-\(s.index + 1)-of-\(s.count)"
        case .merge(let n): logName += ".merge-\(n)"
        }
        let log = logsDirectory.appendingPathComponent(logName + ".log")
        let entryKey = StageExecutor.entryKey(step, work)
        func outcome(_ status: StageJobOutcome.Status, message: String? = nil, seconds: Double) -> StageJobOutcome {
            StageJobOutcome(status: status, stage: stage, key: step.key, entryKey: entryKey, work: work,
                            output: status == .ran || status == .cached ? store.outputURL(entryKey) : nil,
                            message: message, log: log, seconds: seconds)
        }
        let result: StageJobOutcome
        // A shard of a stage whose whole result is stored already has nothing to add.
        if case .shard = work, !force, store.contains(step.key), (try? store.verify(step.key)) != nil {
            board.line("[\(stage)] cached (\(step.key.prefix(12))): the whole stage is stored, shard \(work) not needed")
            result = StageJobOutcome(status: .cached, stage: stage, key: step.key, entryKey: step.key, work: work,
                                     output: store.outputURL(step.key), message: nil, log: log, seconds: 0)
        } else {
            let executor = StageExecutor(store: store, board: board, cancellation: cancellation)
            switch await executor.execute(step, work: work, inputs: plan.inputs(of: step, store: store), workflow: workflow, log: log) {
            case .cached(_, let seconds): result = outcome(.cached, seconds: seconds)
            case .ran(_, let seconds, _, _): result = outcome(.ran, seconds: seconds)
            case .failed(let message, let seconds, _): result = outcome(.failed, message: message, seconds: seconds)
            case .cancelled(let seconds): result = outcome(.cancelled, seconds: seconds)
            }
        }
        // What `funad cache gc` keeps of single-stage jobs (they write no run record).
        if result.status == .ran || result.status == .cached {
            try JobRecords.record(result, workflow: workflow.spec.name, in: logsDirectory)
        }
        return result
    }
}

extension Plan {
    /// The upstream results `step` reads, in `needs` order, as stored in `store`.
    func inputs(of step: Step, store: CacheStore) -> [StageInput] {
        step.stage.needs.map { n in
            let s = steps.first { $0.stage.name == n }!
            return StageInput(stage: n, stageType: s.stage.declaration.type, produces: s.stage.declaration.produces,
                              directory: store.outputURL(s.key), key: s.key, parameters: s.stage.parameters)
        }
    }
}

/// The small file a single-stage job leaves behind for an external scheduler: its name
/// carries the stage's cache key, so a scheduler that checks for the file's existence
/// (Snakemake's rule output) re-runs the job exactly when the key changes.
public enum StageMarker {
    /// `<stage>.<key>.done`, or `<stage>.<key>.shard-I-of-N.done` for a shard.
    public static func fileName(stage: String, key: String, shard: Shard? = nil) -> String {
        let base = "\(CacheStore.safeName(stage)).\(key)"
        guard let shard else { return base + ".done" }
        return base + ".shard-\(shard.index + 1)-of-\(shard.count).done"
    }

    /// Writes the marker atomically (a JSON note of what the job did, and where: `host` as in
    /// a run record, the application's facts `host` added, since the jobs of one workflow may
    /// run on several machines and floating-point figures move with the CPU).
    public static func write(_ outcome: StageJobOutcome, workflow: String, host: [String: String] = [:], to url: URL) throws {
        var note: [String: Any] = ["workflow": workflow, "stage": outcome.stage, "key": outcome.key, "entry": outcome.entryKey,
                                   "work": outcome.work.description, "status": outcome.status.rawValue,
                                   "host": HostFacts.record(extra: host)]
        if let output = outcome.output { note["output"] = output.path }
        let data = try JSONSerialization.data(withJSONObject: note, options: [.prettyPrinted, .sortedKeys])
        do {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw Diagnostic("cannot write marker '\(url.path)': \(error.localizedDescription)")
        }
    }
}
