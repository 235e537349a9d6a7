import ArgumentParser
import Foundation
import Stages
import Workflow

/// `funad run-stage`: one stage as a job of its own, for an external scheduler
/// (the rules of `funad export snakemake` run it). See docs/SCALE-OUT.md.
struct RunStageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-stage",
        abstract: "Run one stage of a workflow (or one shard of it) against the shared cache and write its marker file.",
        discussion: """
        The stage's upstream results must already be in the cache (exit 2 names the missing \
        one). A stored result is reused: the job then only rewrites the marker. Jobs on \
        different stages run at once on one cache; two jobs on the same stage compute it \
        once. The marker (default .funad/markers/<stage>.<key>.done) is written only on \
        success, as is the stage's job record (<runs>/<workflow>/jobs/<stage>.json: its latest \
        key and stored entries), which funad cache gc reads to keep what jobs stored. Exit \
        codes: 0 ok, 1 the stage failed, 2 invalid input or unmet precondition, 130 interrupted.
        """)

    @OptionGroup var workflow: WorkflowOptions
    @Argument(help: "The stage to run.") var stage: String
    @OptionGroup var cache: CacheOptions

    @Option(help: ArgumentHelp("Compute shard I of N (1 ≤ I ≤ N) of a shardable stage (extract, infer, predict).", valueName: "I/N"))
    var shard: String?

    @Option(help: ArgumentHelp("Assemble the stage's result from its N stored shards.", valueName: "N"))
    var merge: Int?

    @Option(help: "Marker file to write on success (default: .funad/markers/<stage>.<key>[.shard-I-of-N].done).")
    var marker: String?

    @Option(help: ArgumentHelp("Refuse to run (exit 2) unless the stage's cache key is KEY (the Snakefile passes the key it was exported with).", valueName: "KEY"))
    var expectKey: String?

    @Flag(help: "Recompute even if the result is stored.")
    var force = false

    func validate() throws {
        if shard != nil, merge != nil { throw ValidationError("--shard and --merge exclude each other") }
        if let merge, merge < 1 { throw ValidationError("--merge must be at least 1") }
    }

    func run() async throws {
        let work: StageWork
        if let shard { work = .shard(try Shard(parsing: shard)) } else if let merge { work = .merge(count: merge) } else { work = .whole }
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings)
        let board = ProgressBoard.standardError()
        let cancellation = CancellationFlag()
        let interrupts = InterruptHandler { count in
            if count == 1 { cancellation.cancel() } else { Foundation.exit(130) }
        }
        let logs = cache.runsURL.appendingPathComponent(validated.spec.name).appendingPathComponent("jobs")
        let job = StageJob(workflow: validated, stage: stage, work: work, force: force, expectedKey: expectKey)
        let outcome = try await session.runStage(job, logsDirectory: logs, board: board, cancellation: cancellation)
        withExtendedLifetime(interrupts) {}
        switch outcome.status {
        case .ran, .cached:
            var shardOfMarker: Shard?
            if case .shard(let s) = work { shardOfMarker = s }
            let url = URL(fileURLWithPath: marker ?? ".funad/markers/" + StageMarker.fileName(stage: stage, key: outcome.key, shard: shardOfMarker))
            try StageMarker.write(outcome, workflow: validated.spec.name, host: FunADCommand.hostFacts, to: url)
            board.line("[\(stage)] \(outcome.status.rawValue) (\(outcome.entryKey.prefix(12))); marker \(url.path)")
        case .failed:
            board.line("error: stage '\(stage)' failed: \(outcome.message ?? "")\n  log: \(outcome.log.path)")
            throw ExitCode(1)
        case .cancelled:
            board.line("interrupted; nothing half-written was kept")
            throw ExitCode(130)
        }
    }
}
