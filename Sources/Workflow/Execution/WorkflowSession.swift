import Foundation

/// The engine's front door, used by the command line and by tests: load and validate a
/// workflow, take the cache lock, plan, run.
public struct WorkflowSession: Sendable {
    public var registry: StageRegistry
    public var cacheDirectory: URL
    public var environment: [String: String]

    public init(registry: StageRegistry, cacheDirectory: URL, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.registry = registry
        self.cacheDirectory = cacheDirectory
        self.environment = environment
    }

    /// Parses and validates; throws `DiagnosticList` listing every problem.
    public func load(_ path: String, settings: [String] = []) throws -> ValidatedWorkflow {
        let overrides: Overrides
        do { overrides = try Overrides(settings: settings) } catch let d as Diagnostic { throw DiagnosticList([d]) }
        let spec = try WorkflowLoader(environment: environment).load(path: path, overrides: overrides)
        return try WorkflowValidator(registry: registry).validate(spec)
    }

    /// The plan, read-only (no lock needed: it only reads the store).
    public func plan(_ workflow: ValidatedWorkflow, force: Set<String> = []) throws -> Plan {
        try checkForced(force, in: workflow)
        let store = try CacheStore(root: cacheDirectory)
        return try Planner(store: store, digests: FileDigests(memoFile: store.digestMemo)).plan(workflow, force: force)
    }

    /// Runs under the cache lock; a second run on the same cache waits for the first.
    /// (Single-stage jobs, `runStage`, do not take it: stages lock their keys.)
    public func run(_ workflow: ValidatedWorkflow, options: RunOptions, board: ProgressBoard,
                    cancellation: CancellationFlag = CancellationFlag()) async throws -> RunOutcome {
        try checkForced(options.force, in: workflow)
        let store = try CacheStore(root: cacheDirectory)
        let lock = try FileLock(path: store.lockPath) { holder in
            board.line("funad: cache \(store.root.path) is in use by \(holder); waiting for it to finish…")
        }
        let stale = store.removeStaleTemporaries()
        if stale > 0 { board.line("funad: removed \(stale) unfinished stage folder(s) left by an interrupted run") }
        let digests = FileDigests(memoFile: store.digestMemo)
        if let note = digests.damagedMemoNote { board.line(note) }
        let plan = try Planner(store: store, digests: digests).plan(workflow, force: options.force)
        let outcome = try await WorkflowRunner(store: store, board: board, options: options, cancellation: cancellation).run(plan)
        withExtendedLifetime(lock) {}
        return outcome
    }

    /// Runs one stage (or a shard of it, or the merge of its shards) as a job of its own,
    /// without the cache's run lock: see `StageJob`. Logs go under `logsDirectory`.
    public func runStage(_ job: StageJob, logsDirectory: URL, board: ProgressBoard,
                         cancellation: CancellationFlag = CancellationFlag()) async throws -> StageJobOutcome {
        let store = try CacheStore(root: cacheDirectory)
        let digests = FileDigests(memoFile: store.digestMemo)
        if let note = digests.damagedMemoNote { board.line(note) }
        return try await job.run(store: store, digests: digests, logsDirectory: logsDirectory, board: board, cancellation: cancellation)
    }

    private func checkForced(_ force: Set<String>, in workflow: ValidatedWorkflow) throws {
        let names = workflow.stages.map(\.name)
        let unknown = force.filter { !names.contains($0) }.sorted()
        if !unknown.isEmpty {
            let all = Set(workflow.spec.stages.map(\.name))
            throw DiagnosticList(unknown.map {
                all.contains($0)
                    ? Diagnostic("--force \($0): not among the stages selected to run (the targets and what they need)")
                    : Diagnostic("--force \($0): no stage named '\($0)'\(NameSuggestion.hint(for: $0, among: names))")
            })
        }
    }
}
