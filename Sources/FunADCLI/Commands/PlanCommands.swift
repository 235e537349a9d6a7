import ArgumentParser
import Foundation
import Stages
import Workflow

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan", abstract: "Dry run: show each stage as cached or will run, and why.")

    @OptionGroup var workflow: WorkflowOptions
    @OptionGroup var cache: CacheOptions

    @Argument(help: ArgumentHelp("Plan only these stages and what they need, as `run STAGE…` would.", valueName: "stage"))
    var targets: [String] = []

    @Option(help: "Treat STAGE as forced, as `run --force` would.")
    var force: [String] = []

    func run() throws {
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings).selecting(targets)
        print(try session.plan(validated, force: Set(force)).render())
    }
}

struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph", abstract: "Print the workflow's stage graph as Graphviz DOT (cached stages shaded).")

    @OptionGroup var workflow: WorkflowOptions
    @OptionGroup var cache: CacheOptions

    func run() throws {
        let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: cache.cacheURL)
        let validated = try session.load(workflow.workflow, settings: workflow.settings)
        let cached = (try? session.plan(validated))?.steps.filter { $0.status == .cached }.map(\.stage.name) ?? []
        print(DotRenderer.render(validated, cached: Set(cached)))
    }
}

struct StagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages", abstract: "List the stage types with their inputs, outputs and parameters.")

    func run() throws {
        print(StageCatalog.render(CommandRegistry.load()))
        print(HookDocumentation.render())
    }
}
