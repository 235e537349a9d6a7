import ArgumentParser
import Foundation
import FunAD
import Workflow

@main
struct FunADCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "funad",
        abstract: "Train and run FUN-AD anomaly detectors on unlabelled, contaminated image sets, as YAML workflows.",
        discussion: "Exit codes: 0 ok, 1 a stage failed, 2 invalid input or usage, 130 interrupted.",
        version: "0.1.0",
        subcommands: [RunCommand.self, PlanCommand.self, GraphCommand.self, StagesCommand.self, CacheCommand.self, ReportCommand.self,
                      ExportGroupCommand.self, RunStageCommand.self, SummaryCommand.self, PredictCommand.self]
            + extraSubcommands
    )

    /// What funad adds to a run record's or a job marker's `host`: its BLAS build with the
    /// kernels OpenBLAS picked on this CPU (figures move with them), and its own version.
    static var hostFacts: [String: String] {
        ["blas": BLAS.libraryDescription, "funad": configuration.version]
    }

    /// Parses and runs, mapping every usage or input error to exit code 2 (ArgumentParser
    /// would use 64) with a one-line message.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch let list as DiagnosticList {
            FileHandle.standardError.write(Data((list.description + "\n").utf8))
            Foundation.exit(2)
        } catch let d as Diagnostic {
            FileHandle.standardError.write(Data((d.description + "\n").utf8))
            Foundation.exit(2)
        } catch let v as ValidationFailure {
            FileHandle.standardError.write(Data(("error: " + v.description + "\n").utf8))
            Foundation.exit(2)
        } catch let e as ExitCode {
            Foundation.exit(e.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Options shared by the commands that use the cache.
struct CacheOptions: ParsableArguments {
    @Option(help: "Cache folder (default: .funad/cache, or $FUNAD_CACHE).")
    var cache: String?

    @Option(help: "Folder for run records and logs (default: .funad/runs, or $FUNAD_RUNS).")
    var runs: String?

    var cacheURL: URL {
        URL(fileURLWithPath: cache ?? ProcessInfo.processInfo.environment["FUNAD_CACHE"] ?? ".funad/cache")
    }
    var runsURL: URL {
        URL(fileURLWithPath: runs ?? ProcessInfo.processInfo.environment["FUNAD_RUNS"] ?? ".funad/runs")
    }
}

/// Options naming a workflow file and its settings.
struct WorkflowOptions: ParsableArguments {
    @Argument(help: "The workflow YAML file.")
    var workflow: String

    @Option(name: .customLong("set"), help: ArgumentHelp("NAME=value sets a variable; stage.param=value overrides a stage parameter.", valueName: "key=value"))
    var settings: [String] = []
}
