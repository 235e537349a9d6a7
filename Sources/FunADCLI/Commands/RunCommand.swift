import ArgumentParser
import Foundation
import FunAD
import Stages
import Workflow

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run a workflow, reusing cached stage results.")

    @OptionGroup var workflow: WorkflowOptions
    @OptionGroup var cache: CacheOptions

    @Argument(help: ArgumentHelp("Run only these stages and what they need (default: every stage).", valueName: "stage"))
    var targets: [String] = []

    @Option(help: "Run up to N independent stages at once.")
    var jobs: Int = 1

    @Option(help: "Run STAGE (and what depends on it) even if cached. Repeatable.")
    var force: [String] = []

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() async throws {
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings).selecting(targets)
        let board = ProgressBoard.standardError()
        let cancellation = CancellationFlag()
        let interrupts = InterruptHandler { count in
            if count == 1 {
                board.line("funad: stopping (Ctrl-C again to quit at once); finished stages stay cached")
                cancellation.cancel()
            } else {
                Foundation.exit(130)
            }
        }
        let outcome = try await session.run(validated, options: RunOptions(jobs: jobs, force: Set(force), runsDirectory: cache.runsURL,
                                                                                   host: FunADCommand.hostFacts),
                                            board: board, cancellation: cancellation)
        withExtendedLifetime(interrupts) {}
        switch outcome.status {
        case .succeeded:
            let summary = outcome.ran == 0 ? "nothing to do: all \(outcome.cached) stages cached" : "\(outcome.ran) ran, \(outcome.cached) cached"
            board.line("done: \(summary). Record: \(outcome.recordURL.path)")
        case .failed:
            for f in outcome.failures {
                board.line("error: stage '\(f.stage)' failed: \(f.message)\n  log: \(f.log.path)")
            }
            board.line("stages that finished stay cached. Record: \(outcome.recordURL.path)")
            throw ExitCode(1)
        case .cancelled:
            board.line("interrupted; nothing half-written was kept. Record: \(outcome.recordURL.path)")
            throw ExitCode(130)
        }
    }
}

