import ArgumentParser
import Foundation
import Stages
import Workflow

/// `funad export`: a model bundle (`funad export RUN …`, the default) or a Snakefile.
struct ExportGroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a run's model as a bundle (default), or a workflow as a Snakefile.",
        subcommands: [ExportCommand.self, SnakemakeExportCommand.self],
        defaultSubcommand: ExportCommand.self)
}

/// `funad export snakemake`: the workflow's stages as Snakemake rules running `funad run-stage`.
struct SnakemakeExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snakemake",
        abstract: "Write the workflow as a Snakefile: one rule per stage running `funad run-stage` on the shared cache.",
        discussion: """
        Cache keys are planned now, with the given --set values (and every workflow \
        variable in force is passed to the jobs explicitly). Paths are written absolute, so \
        the Snakefile runs from any folder of a machine that sees the same files. See \
        docs/SCALE-OUT.md for local, Slurm and Kubernetes runs.
        """)

    @OptionGroup var workflow: WorkflowOptions
    @OptionGroup var cache: CacheOptions

    @Option(name: .shortAndLong, help: "Snakefile to write (default: standard output).")
    var output: String?

    @Option(help: ArgumentHelp("Split a shardable stage into N jobs plus a merge, e.g. features=4. Repeatable.", valueName: "STAGE=N"))
    var shards: [String] = []

    @Option(help: "Marker folder, relative to Snakemake's working folder or absolute.")
    var markers: String = ".funad/markers"

    @Option(help: "The funad executable the jobs run (default: this one).")
    var funad: String?

    @Option(help: ArgumentHelp("OpenBLAS threads per job (default: $OPENBLAS_NUM_THREADS, else this machine's processors, as `funad run` uses). Results depend on it in the last bits.", valueName: "N"))
    var blasThreads: Int?

    func validate() throws {
        if let blasThreads, blasThreads < 1 { throw ValidationError("--blas-threads must be at least 1") }
    }

    func run() throws {
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings)
        let plan = try session.plan(validated)
        // Every variable in force, then the stage-parameter settings as given.
        let variables = validated.spec.variables.keys.sorted().map { "\($0)=\(validated.spec.variables[$0]!)" }
        let parameterSettings = workflow.settings.filter { s in
            guard let eq = s.firstIndex(of: "=") else { return false }
            return s[..<eq].contains(".")
        }
        let executable = funad ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let locations = SnakemakeExport.Locations(
            funad: executable, workflowFile: URL(fileURLWithPath: workflow.workflow).standardizedFileURL.path,
            cache: cache.cacheURL.standardizedFileURL.path, runs: cache.runsURL.standardizedFileURL.path, markers: markers,
            blasThreads: blasThreads ?? ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"].flatMap { Int($0) }
                ?? ProcessInfo.processInfo.activeProcessorCount)
        let export = try SnakemakeExport(plan: plan, locations: locations, settings: variables + parameterSettings,
                                         shards: try SnakemakeExport.parseShards(shards),
                                         commandLine: (["funad"] + CommandLine.arguments.dropFirst()).joined(separator: " "))
        let text = export.render()
        guard let output else { print(text, terminator: ""); return }
        do { try text.write(toFile: output, atomically: true, encoding: .utf8) } catch {
            throw ValidationFailure("cannot write '\(output)': \(error.localizedDescription)")
        }
        let sharded = export.shards.isEmpty ? "" : "; sharded: " + export.shards.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
        print("wrote \(output): \(plan.steps.count) stages\(sharded). Run: snakemake -s \(output) --cores 2")
    }
}
