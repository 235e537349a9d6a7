import Foundation
import Testing

/// `funad report` as a user runs it: a folder that is not a run is invalid input (exit 2,
/// one line naming it); a workflow's runs folder means its latest run.
@Suite struct ReportCommandTests {
    @Test func notARunFolderExitsWithTwoAndOneLine() throws {
        let cli = CLITests()
        let dir = try cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try cli.run(["report", "nope"], in: dir)
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: /") && lines[0].hasSuffix("/nope: not a run folder (no run.json); expected e.g. .funad/runs/<workflow>/latest"))
    }

    /// A run without an evaluate stage: nothing to report, exit 2. Given the workflow's
    /// runs folder, the command looks in its `latest` run.
    @Test func runWithoutEvaluateStageIsInvalidInput() throws {
        let cli = CLITests()
        let dir = try cli.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        name: img
        stages:
          images: {type: demo-data, with: {train_good: 2, test_good: 1, test_defective: 1, size: 64}}
        """.write(to: dir.appendingPathComponent("w.yaml"), atomically: true, encoding: .utf8)
        #expect(try cli.run(["run", "w.yaml"], in: dir).status == 0)
        let r = try cli.run(["report", ".funad/runs/img"], in: dir)
        #expect(r.status == 2)
        #expect(r.stderr.hasSuffix("/run.json: the run has no evaluate stage, so there is nothing to report\n"))
        #expect(r.stderr.contains("/.funad/runs/img/2"), "the latest run's real folder is named: \(r.stderr)")
    }
}
