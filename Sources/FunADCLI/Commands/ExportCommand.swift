import ArgumentParser
import Foundation
import Stages
import Workflow

/// `funad export`: a run's trained model as a self-contained bundle for `funad predict`.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Write a run's trained model as a bundle for `funad predict` (`funad export RUN` for short).",
        discussion: """
        RUN is a run folder (holding run.json), a workflow file, or a workflow name: the \
        latest run of that workflow under the runs folder. The bundle holds the model, the \
        feature recipe of its extract stage, the backbone's name and weights digest, the \
        decision threshold (the evaluate stage's, or the built-in label-free rule on the \
        training images' scores) and the training-score distribution of the normalised score.
        """)

    @Argument(help: ArgumentHelp("Run folder, workflow file or workflow name.", valueName: "run")) var runName: String
    @Option(help: "The train or patchcore stage to export (default: the run's only train stage).") var stage: String?
    @Option(name: .shortAndLong, help: "Bundle folder to write, e.g. wood.funad.") var output: String
    @Flag(help: "Copy the backbone weights file into the bundle.") var includeWeights = false
    @Option(help: "Folder of run records (default: .funad/runs, or $FUNAD_RUNS).") var runs: String?

    func run() throws {
        // The run's own folder, not the moving `latest` link, goes into the bundle's origin.
        let record = try Self.runRecord(runName, runs: runs).resolvingSymlinksInPath()
        do {
            let lines = try ModelExport.export(runRecord: record, stage: stage, to: URL(fileURLWithPath: output),
                                               includeWeights: includeWeights, note: { print($0) })
            lines.forEach { print($0) }
        } catch let e as BundleInputError {
            throw ValidationFailure(e.description)
        }
    }

    /// The run.json that RUN names.
    static func runRecord(_ run: String, runs: String?) throws -> URL {
        let fm = FileManager.default
        let runsDir = URL(fileURLWithPath: runs ?? ProcessInfo.processInfo.environment["FUNAD_RUNS"] ?? ".funad/runs")
        var isDir: ObjCBool = false
        let given = URL(fileURLWithPath: run)
        if fm.fileExists(atPath: given.path, isDirectory: &isDir) {
            if isDir.boolValue {
                let direct = given.appendingPathComponent("run.json"), latest = given.appendingPathComponent("latest/run.json")
                if fm.fileExists(atPath: direct.path) { return direct }
                if fm.fileExists(atPath: latest.path) { return latest }
                throw ValidationFailure("\(run): no run.json in this folder (give a run folder, a workflow file or a workflow name)")
            }
            if given.lastPathComponent == "run.json" { return given }
            let session = WorkflowSession(registry: CommandRegistry.load(), cacheDirectory: URL(fileURLWithPath: ".funad/cache"))
            let name = try session.load(run, settings: []).spec.name
            return try latest(name, runsDir, hint: "workflow \(run)")
        }
        return try latest(run, runsDir, hint: "workflow name '\(run)'")
    }

    static func latest(_ name: String, _ runsDir: URL, hint: String) throws -> URL {
        let url = runsDir.appendingPathComponent(name).appendingPathComponent("latest/run.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ValidationFailure("\(hint): no run record at \(url.path); run the workflow first (`funad run`)")
        }
        return url
    }
}
