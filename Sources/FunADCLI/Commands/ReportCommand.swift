import ArgumentParser
import Foundation
import Stages

/// `funad report RUN`: the run-level HTML page, every evaluate stage of one run side by
/// side (see `RunReport`). A folder that is not a run, or a run without a finished
/// evaluate stage, is invalid input (exit 2) with one line naming it.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's report.html: every evaluate stage of the run side by side (FUN-AD vs PatchCore, one column each).",
        discussion: "Prints the path of the page. RUN is a run folder (.funad/runs/<workflow>/<time>-<pid> or …/latest) or a workflow's runs folder, whose latest run is used.")

    @Argument(help: ArgumentHelp("The run folder.", valueName: "RUN"))
    var runFolder: String

    @Option(name: .shortAndLong, help: "Where to write the page (default: RUN/report.html).")
    var output: String?

    func run() throws {
        var dir = URL(fileURLWithPath: runFolder)
        let latest = dir.appendingPathComponent("latest")
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("run.json").path),
           FileManager.default.fileExists(atPath: latest.appendingPathComponent("run.json").path) {
            dir = latest
        }
        // Print the real folder, not the `latest` link that the next run moves.
        dir = dir.resolvingSymlinksInPath()
        do {
            let page = try RunReport.write(runDirectory: dir, to: output.map { URL(fileURLWithPath: $0) })
            print(page.path)
        } catch let e as ReportError {
            throw ValidationFailure(e.description)
        }
    }
}
